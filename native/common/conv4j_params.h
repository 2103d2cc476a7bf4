/*
 * The parameters of the entry points, one struct per family, written by the Java binding
 * (dev.conv4j.internal.nativeblas.NativeParams) into a block of native memory the call owns. Every
 * struct starts with the shape and the offsets, at the same places, then the family's own fields;
 * the byte offsets are fixed (checked below and, when the library loads, against the Java side).
 */
#ifndef CONV4J_PARAMS_H
#define CONV4J_PARAMS_H

#include <stddef.h>
#include <stdint.h>

/* The geometry of a convolution as one call sees it. Which channels c and o count is each
   family's to say. */
typedef struct conv4j_conv_shape {
    int32_t n;         /* images */
    int32_t c, h, w;   /* input channels, rows, columns */
    int32_t o, kh, kw; /* output channels, kernel rows, columns */
    int32_t oh, ow;    /* output rows, columns */
    int32_t sh, sw;    /* stride */
    int32_t pt, pl;    /* padding at the top and left (the bottom and right follow from oh and ow) */
    int32_t dh, dw;    /* dilation */
    int32_t mult;      /* output channels per input channel (depthwise) */
} conv4j_conv_shape;

/* im2col + GEMM, one band of output rows of one group of one image (conv4j_forward_band and the
   two backward bands). s.c is the group's input channels, s.o the output channels of the product:
   the block's (forward) or the group's (backward). */
typedef struct conv4j_band_params {
    conv4j_conv_shape s;
    int64_t off[4];    /* element offsets of the array arguments, in the order the function takes them */
    int32_t cn;        /* input channels of the block (backward passes) */
    int32_t oh0, rows; /* the band: output rows [oh0, oh0 + rows) */
    int32_t pointwise; /* 1x1, stride 1, no padding: the input plane is the column matrix */
    int32_t ready;     /* forward: col already holds this band's column matrix */
    float beta;        /* backward passes: 0 overwrites, 1 adds */
} conv4j_band_params;

/* Depthwise (s.c channels, s.o = s.c * s.mult output channels; s.n images for the weight
   gradient). */
typedef struct conv4j_dw_params {
    conv4j_conv_shape s;
    int64_t off[4];
    int32_t first, count; /* output channels (forward, weight gradient) or input channels (input gradient) */
    int32_t accumulate;   /* add to the output instead of overwriting it */
} conv4j_dw_params;

/* The direct kernel for small stride-1 layers: one group of one image, s.c its input channels,
   s.o its output channels. */
typedef struct conv4j_direct_params {
    conv4j_conv_shape s;
    int64_t off[4];
    int32_t first, count; /* output channels of the group */
} conv4j_direct_params;

/* Winograd F(m x m, 3x3). s is the convolution the pass computes: forward, the layer's; input
   gradient, the layer's output gradient (s.c = O, s.h x s.w = its plane) into s.o = C channels of
   s.oh x s.ow, padded by 2 - p. */
typedef struct conv4j_wino_params {
    conv4j_conv_shape s;
    int64_t off[4];
    int32_t m;            /* tile size, 2 or 4 */
    int32_t t0, tc;       /* tiles [t0, t0 + tc) of the batch */
    int32_t first, count; /* output channels */
    int32_t transpose_u;  /* u is the layer's forward transform, read transposed (input gradient) */
    int32_t accumulate;
    uint32_t w_top;       /* largest weight magnitude as bits (conv4j_max_bits), for the repair */
    int32_t flip;         /* weight transform: of the kernels turned by 180 degrees */
    int32_t unused;
    int64_t j0, jn;       /* weight transform: weights [j0, j0 + jn) of the O·C */
} conv4j_wino_params;

/* The channel-blocked direct kernel (blocked/): one image, output rows [oh0, oh0 + rows), output
   channel groups [g0, g0 + gn) of nb·16 channels, dense (one group). The activations come in any of
   the layouts below; the weights are packed by conv4j_blk_pack. */
#define CONV4J_LAYOUT_NCHW 0
#define CONV4J_LAYOUT_NHWC 1
#define CONV4J_LAYOUT_NCHW16C 2
/* Floats of one image of c channels of a plane in a layout (NCHW16C pads the channels to blocks of 16). */
static inline size_t conv4j_image_floats(int layout, int c, size_t plane) {
    return (size_t)(layout == CONV4J_LAYOUT_NCHW16C ? (c + 15) / 16 * 16 : c) * plane;
}
typedef struct conv4j_blk_params {
    conv4j_conv_shape s;
    int64_t off[5];       /* x, packed weights, bias, y, residual: element offsets of the image (or group) */
    int32_t nb;           /* 16-channel output blocks per weight group: 2 or 4 */
    int32_t x_layout, y_layout, r_layout;
    int32_t oh0, rows;    /* the band of output rows */
    int32_t g0, gn;       /* weight groups; pack: the groups to pack */
    int32_t residual;     /* add the residual array */
    int32_t clamp;        /* clamp to [lo, hi] */
    float lo, hi;
    int32_t flip;         /* pack: the weights of the input gradient (the layer's, transposed and turned by 180 degrees) */
    int32_t pack_inline;  /* forward: the weights come as the layer's OIHW ones, packed chunk by chunk into scratch */
} conv4j_blk_params;

/* vol2col + GEMM for 3-D convolution (volume/), one band of output rows of one group of one image.
   s holds the height and width half of the geometry as in 2-D (s.c the group's input channels, s.o
   the output channels of the product; s.mult unused); the depth half follows the offsets. A band
   counts rows of ow outputs through the od x oh rows of each output channel, so it may span
   several output planes. */
typedef struct conv4j_vol_params {
    conv4j_conv_shape s;
    int64_t off[4];       /* element offsets of the array arguments, in the order the function takes them */
    int32_t d, kd, od;    /* input planes, kernel planes, output planes */
    int32_t sd, pf, dd;   /* stride, padding in front and dilation along depth (the back follows from od) */
    int32_t cn;           /* input channels of the block (backward passes) */
    int32_t r0, rows;     /* the band: output rows [r0, r0 + rows) of the od*oh of each channel */
    int32_t pointwise;    /* 1x1x1, stride 1, no padding: the input volume is the column matrix */
    float beta;           /* 0 overwrites, 1 adds (the forward pass too: y += conv + bias) */
} conv4j_vol_params;

/* the byte offsets the Java side writes */
#ifdef __cplusplus
#define CONV4J_STATIC_ASSERT static_assert
#else
#define CONV4J_STATIC_ASSERT _Static_assert
#endif
#define CONV4J_PARAMS_CHECK(type, field, at) CONV4J_STATIC_ASSERT(offsetof(type, field) == (at), #type "." #field)
CONV4J_PARAMS_CHECK(conv4j_conv_shape, mult, 60);
CONV4J_PARAMS_CHECK(conv4j_band_params, off, 64);
CONV4J_PARAMS_CHECK(conv4j_band_params, cn, 96);
CONV4J_PARAMS_CHECK(conv4j_band_params, beta, 116);
CONV4J_PARAMS_CHECK(conv4j_dw_params, first, 96);
CONV4J_PARAMS_CHECK(conv4j_dw_params, accumulate, 104);
CONV4J_PARAMS_CHECK(conv4j_direct_params, first, 96);
CONV4J_PARAMS_CHECK(conv4j_wino_params, m, 96);
CONV4J_PARAMS_CHECK(conv4j_wino_params, w_top, 124);
CONV4J_PARAMS_CHECK(conv4j_wino_params, j0, 136);
CONV4J_STATIC_ASSERT(sizeof(conv4j_wino_params) == 152, "conv4j_wino_params");
CONV4J_PARAMS_CHECK(conv4j_blk_params, nb, 104);
CONV4J_PARAMS_CHECK(conv4j_blk_params, oh0, 120);
CONV4J_PARAMS_CHECK(conv4j_blk_params, residual, 136);
CONV4J_PARAMS_CHECK(conv4j_blk_params, lo, 144);
CONV4J_PARAMS_CHECK(conv4j_blk_params, flip, 152);
CONV4J_STATIC_ASSERT(sizeof(conv4j_blk_params) == 160, "conv4j_blk_params");
CONV4J_PARAMS_CHECK(conv4j_vol_params, off, 64);
CONV4J_PARAMS_CHECK(conv4j_vol_params, d, 96);
CONV4J_PARAMS_CHECK(conv4j_vol_params, cn, 120);
CONV4J_PARAMS_CHECK(conv4j_vol_params, beta, 136);
CONV4J_STATIC_ASSERT(sizeof(conv4j_vol_params) == 144, "conv4j_vol_params");

#endif
