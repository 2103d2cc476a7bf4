/*
 * Direct kernels for depthwise convolution (groups == C, O = mult*C): each output channel reads
 * one input plane, so im2col + GEMM would degenerate into M=1 products. Output channel oc reads
 * input channel oc / mult. The passes (depthwise.c) pick an algorithm by shape:
 *   - row kernels (depthwise_rows.c): loops along output rows over zero-padded copies of the input
 *     rows, the innermost loop a contiguous pass over one row, for any CPU (GCC target_clones);
 *   - 16 channels to a vector over a padded pixel-major copy of the image, for strided layers and
 *     short rows (depthwise_avx512.c);
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

typedef struct conv4j_dw_ops {
    const char *isa;
    /* 16 channels to a vector: each returns 0, having written nothing, when its scratch would be
       too large or could not be allocated. The input gradient's needs mult == 1. */
    int (*forward16)(const conv4j_dw_params *p, const float *x, const float *w, const float *bias, float *y);
    int (*data16)(const conv4j_dw_params *p, const float *gy, const float *w, float *gx);
    int (*weights16)(const conv4j_dw_params *p, const float *x, const float *gy, float *gw);
    /* the weight gradient of 3x3 kernels, stride 1 or 2 in both directions, all nine taps in one pass
       (conv4j_dw_nine_applies); 0, having written nothing, when its scratch could not be allocated */
    int (*weights_nine)(const conv4j_dw_params *p, const float *x, const float *gy, float *gw);
    /* the weight gradient of output channel oc, tap by tap, into gk (its kh x kw gradient), for
       column stride 1, the output gradient being finite */
    void (*weights_dot)(const conv4j_dw_params *p, const float *x, const float *gy, float *gk, int oc);
} conv4j_dw_ops;

extern const conv4j_dw_ops conv4j_dw_generic, conv4j_dw_avx512;

/* Where the 16-channel kernels are the faster ones (measured here on MobileNet v1's layers, one
   thread, in alternating runs against the row kernels): strided rows of fewer than 32 outputs
   forward (1.1x to 5x) and of fewer than 64 backward (2x to 6x; forward at 56 outputs the row
   kernels won), and stride-1 rows of fewer than 16. At stride 1 and 28 outputs the row kernels were
   as fast; on larger planes (128 outputs a row) they were 2x faster, as the padded image no longer
   stays in cache. */
static inline int conv4j_dw16_suits(int ow, int sw, int backward) {
    return ow > 0 && (sw > 1 ? ow < (backward ? 64 : 32) : ow < 16);
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
