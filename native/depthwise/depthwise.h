/*
 * Direct kernels for depthwise convolution (groups == C, O = mult*C): each output channel reads
 * one input plane, so im2col + GEMM would degenerate into M=1 products. Output channel oc reads
 * input channel oc / mult. The passes (depthwise.c) pick an algorithm by shape:
 *   - row kernels (depthwise_rows.c, their plane loop in depthwise_plane.h): loops along output rows
 *     over zero-padded copies of the input rows, the innermost loop a contiguous pass over one row,
 *     for any CPU (16-float vectors compiled for each ISA level by GCC target_clones; 8-float ones
 *     on AVX2, depthwise_avx2.c);
 *   - channels to a vector over a padded pixel-major copy of the image, for strided layers and
 *     short rows (16 in depthwise_avx512.c; 8, forward only, in depthwise_avx2.c);
 *   - for the weight gradient, all nine taps of a 3x3 kernel in one pass over the image
 *     (AVX-512), else tap by tap (vector dot products on AVX-512, 16 lanes otherwise);
 *   - the definition itself (depthwise_generic.c), padding included, for channels whose weights or
 *     output gradients are not all finite: the fast paths skip the padding, where a NaN or an
 *     infinity would meet a 0 and make NaN.
 * The AVX-512 algorithms sit in the AVX-512 variant's table only.
 */
#ifndef CONV4J_DEPTHWISE_H
#define CONV4J_DEPTHWISE_H

#include "conv4j.h"
#include "common/conv4j_common.h"

/* The forward pass copies the input rows a band of output rows reads into scratch rows, with the
   padding written as zeros, so every output column is an interior one and each row is one plain
   vector loop. A scratch row holds nph phases of len floats: phase f is the padded row at columns
   k*sw + phase[f] - pl, so that kernel column q reads the contiguous slice at off[q], whatever the
   stride. Scratch rows follow input rows step apart (gcd of stride and dilation); output row t of a
   band, kernel row p, reads the band's scratch row t*a + p*c. The nb scratch rows are a ring:
   with reuse, a band copies only the rows the previous band did not. */
typedef struct {
    int rows, a, c, reuse, nph;
    long long nb, step, len;
    const int *phase, *lo, *hi;  /* per phase: its first column; [lo, hi) inside the image */
    const long long *off;        /* per kernel column */
    float *buf, **rowp;          /* nb scratch rows; the current band's rows in order */
} conv4j_dw_layout;

/* All output rows of one channel of a depthwise convolution on the scratch rows of L
   (depthwise_plane.h): yc = init + the convolution of xc with wk, or with add yc += it. */
typedef void (*conv4j_dw_plane_fn)(const conv4j_dw_layout *L, const float *xc, const float *wk, float init, int add,
                                   float *yc, int h, int w, int kh, int kw, int oh, int ow, int sh, int sw, int pt, int pl);

typedef struct conv4j_dw_ops {
    const char *isa;
    /* the row kernels' loop over one plane (every variant has one) */
    conv4j_dw_plane_fn plane;
    /* channels to a vector (16 on AVX-512, 8 on AVX2), for short rows (conv4j_dw_short): each
       returns 0, having written nothing, when its scratch would be too large or could not be
       allocated. The input gradient's needs mult == 1. */
    int (*forward_vec)(const conv4j_dw_params *p, const float *x, const float *w, const float *bias, float *y);
    int (*data_vec)(const conv4j_dw_params *p, const float *gy, const float *w, float *gx);
    int (*weights_vec)(const conv4j_dw_params *p, const float *x, const float *gy, float *gw);
    /* the shortest rows the row kernels take, per pass (forward, input gradient, weight gradient),
       of stride 1 and strided */
    int rows_from[3][2];
    /* the weight gradient of 3x3 kernels, stride 1 or 2 in both directions, all nine taps in one pass
       (conv4j_dw_nine_applies); 0, having written nothing, when its scratch could not be allocated */
    int (*weights_nine)(const conv4j_dw_params *p, const float *x, const float *gy, float *gw);
    /* the weight gradient of output channel oc, tap by tap, into gk (its kh x kw gradient), for
       column stride 1, the output gradient being finite */
    void (*weights_dot)(const conv4j_dw_params *p, const float *x, const float *gy, float *gk, int oc);
    /* the forward pass with one output channel per input channel in any layout, with its epilogue
       (conv4j_dw_forward_layouts); NULL in the generic variant */
    void (*forward_layouts)(const conv4j_blk_params *p, const float *x, const float *w, const float *bias, const float *res,
                            float *y, float *scratch);
} conv4j_dw_ops;

extern const conv4j_dw_ops conv4j_dw_generic, conv4j_dw_avx2, conv4j_dw_avx512;
void conv4j_dw_plane_multi(const conv4j_dw_layout *L, const float *xc, const float *wk, float init, int add, float *yc,
                           int h, int w, int kh, int kw, int oh, int ow, int sh, int sw, int pt, int pl);
/* the forward pass in any layout on AVX2 (depthwise_avx2.c), which AVX-512 CPUs run too */
void conv4j_dw_forward_layouts_avx2(const conv4j_blk_params *p, const float *x, const float *w, const float *bias,
                                    const float *res, float *y, float *scratch);
void conv4j_dw_plane_avx2(const conv4j_dw_layout *L, const float *xc, const float *wk, float init, int add, float *yc,
                          int h, int w, int kh, int kw, int oh, int ow, int sh, int sw, int pt, int pl);

/* Whether rows of ow outputs are short enough for the channel-vector algorithms of pass (0 forward,
   1 input gradient, 2 weight gradient). Where they are faster was measured on MobileNet v1's layers,
   one thread, in alternating runs against the row kernels. AVX-512 (16 channels): strided rows of
   fewer than 32 outputs forward (1.1x to 5x) and of fewer than 64 backward (2x to 6x; forward at 56
   outputs the row kernels won), and stride-1 rows of fewer than 16; at stride 1 and 28 outputs the
   row kernels were as fast, and on larger planes (128 outputs a row) 2x faster, as the padded image
   no longer stays in cache. AVX2 (8 channels, Zen 3): forward, strided rows of 14 and 7 outputs (2.4x
   and 2.9x) and stride-1 rows of 7 (1.8x), and as fast at 14 outputs stride 1 and 28 strided; the
   input gradient of every strided layer (1.3x to 2.4x) and of stride-1 rows of 7 (1.2x; on longer
   ones the row kernels were 1.8x to 4x faster); the weight gradient of every layer (2.5x to 7x, but
   as fast at 112 outputs stride 1). */
static inline int conv4j_dw_short(const conv4j_dw_ops *ops, int ow, int sw, int pass) {
    return ow > 0 && ow < ops->rows_from[pass][sw > 1];
}

/* Output rows per band of the forward pass in any layout: as many as keep its padded input band
   within 4096 pixels (16 channels each, 256 KiB), at least 1, at most rows. */
static inline int conv4j_dw_layouts_rows(const conv4j_conv_shape *s, int rows) {
    const long long wp = (s->ow - 1LL) * s->sw + (s->kw - 1LL) * s->dw + 1, fit = 4096 / (wp > 0 ? wp : 1);
    const long long r = fit > (s->kh - 1LL) * s->dh ? (fit - 1 - (s->kh - 1LL) * s->dh) / s->sh + 1 : 1;
    return r < 1 ? 1 : r > rows ? rows : (int)r;
}

/* Its scratch (floats): the padded band of NCHW input with room for the last tiles to read past it,
   and the block's kernels. */
static inline long long conv4j_dw_layouts_band(const conv4j_conv_shape *s, int R) {
    const long long hb = (R - 1LL) * s->sh + (s->kh - 1LL) * s->dh + 1, wp = (s->ow - 1LL) * s->sw + (s->kw - 1LL) * s->dw + 1;
    return 16 * (hb * wp + 8LL * s->sw);
}
static inline long long conv4j_dw_layouts_floats(const conv4j_conv_shape *s, int rows) {
    return conv4j_dw_layouts_band(s, conv4j_dw_layouts_rows(s, rows)) + 16LL * s->kh * s->kw;
}

/* Floats of one phase of a padded row of the nine-tap weight gradient (whole vectors, so rows stay
   aligned), and whether that pass applies: 3x3, stride 1 or 2 in both directions, its padded copy of
   the input plane at most 64 MiB whatever the dilation. */
static inline long long conv4j_dw_nine_len(int ow, int s, int dw) {
    return ((ow + 15LL) / 16 * 16 + 2LL * dw / s + 16 + 15) / 16 * 16;
}
static inline int conv4j_dw_nine_applies(const conv4j_conv_shape *s) {
    const long long len = conv4j_dw_nine_len(s->ow, s->sw, s->dw);
    return s->kh == 3 && s->kw == 3 && s->sh == s->sw && (s->sw == 1 || s->sw == 2) && s->oh > 0 && s->ow > 0
           && len < (1LL << 24) && (s->h + 1LL) * s->sw * len <= (1LL << 24);
}

/* The row kernels (depthwise_rows.c): the forward pass, and the input gradient of stride 1 as the
   forward pass of the kernels turned by 180 degrees. */
void conv4j_dw_forward_rows(const conv4j_dw_params *p, const float *x, const float *w, const float *bias, float *y);
void conv4j_dw_data_turned(const conv4j_dw_params *p, const float *gy, const float *w, float *gx);

/* depthwise_generic.c: the input gradient by phase rows (strides above 1, rows of 32 outputs and
   more; 0, having written nothing, when its rows would be too large or could not be allocated) and
   tap by tap; the weight gradient by the definition or 16 lanes, channel by channel. */
int conv4j_dw_data_phased(const conv4j_dw_params *p, const float *gy, const float *w, float *gx);
void conv4j_dw_data_taps(const conv4j_dw_params *p, const float *gy, const float *w, float *gx);
void conv4j_dw_weights_definition(const conv4j_dw_params *p, const float *x, const float *gy, float *gk, int oc);
CONV4J_HIDDEN void conv4j_dw_weights_lanes(const conv4j_dw_params *p, const float *x, const float *gy, float *gk, int oc);
/* The weight gradient of output channel oc by taps, or by the definition where its output gradient is
   not all finite. */
typedef void (*conv4j_dw_taps_fn)(const conv4j_dw_params *p, const float *x, const float *gy, float *gk, int oc);
void conv4j_dw_weights_channel(const conv4j_dw_params *p, const float *x, const float *gy, float *gk, int oc,
                               conv4j_dw_taps_fn taps);

/* The definition on the explicitly zero-padded input plane xc, for the taps t = p*kw + q in
   [t0, t1): for every output pixel (i, j) and tap, the input value v it meets (0 in the padding).
   With wk: yc[i][j] = init + the sum over the taps of wk[t]·v, in float, tap by tap; with gyc:
   sums[t - t0] += gyc[i][j]·v in double. */
void conv4j_dw_definition(const conv4j_conv_shape *s, const float *xc, const float *wk, float init, float *yc,
                          const float *gyc, double *sums, int t0, int t1);
/* One output channel's share of the input gradient, tap by tap into gxc, cleared first unless add. */
void conv4j_dw_data_taps_channel(const conv4j_conv_shape *s, const float *gyc, const float *wk, float *gxc, int add);

#endif
