/*
 * Direct convolution on channel blocks of 16, in the manner of oneDNN's brgemm and MLAS's NCHWc
 * kernels: the input is copied, with its zero padding, into a band of 16-channel blocks
 * ([C/16][rows][cols][16]), the weights are packed once as [O/(nb·16)][C/16][KH][KW][16 in][nb·16 out],
 * and a register tile of nb·16 output channels by a run of output pixels accumulates over every input
 * channel and tap before it is stored once: bias, residual and clamp are applied on the registers, and
 * the store writes whichever layout the output has (NCHW through an in-register transpose).
 *
 * An output element is always computed by the same tile with the same sequence of operations,
 * whatever band or thread computes it, so results do not depend on how a call is cut.
 */
#ifndef CONV4J_BLOCKED_H
#define CONV4J_BLOCKED_H

#include "common/conv4j_params.h"

/* Output pixels per tile: 14 with two 16-channel blocks, 7 with four (28 accumulators either way). */
#define CONV4J_BLK_PIXELS(nb) ((nb) == 4 ? 7 : 14)

/* The padded input band of a unit: its rows and columns. */
static inline long long conv4j_blk_band_rows(const conv4j_conv_shape *s, int rows) {
    return (long long)(rows - 1) * s->sh + (long long)(s->kh - 1) * s->dh + 1;
}
static inline long long conv4j_blk_band_cols(const conv4j_conv_shape *s) {
    return (long long)(s->ow - 1) * s->sw + (long long)(s->kw - 1) * s->dw + 1;
}

void conv4j_blk_weights_avx512(const conv4j_blk_params *p, const float *x, const float *gy, float *gw, float *gb,
                               float *scratch);
void conv4j_blk_weights_generic(const conv4j_blk_params *p, const float *x, const float *gy, float *gw, float *gb);
/* Floats of scratch of a weight-gradient call over cbn input by obn output blocks: the padded input of
   one block, obn gy blocks as pixel vectors, the sums of each pair of blocks and the bias sums. */
static inline long long conv4j_blk_weights_scratch(const conv4j_conv_shape *s, int cbn, int obn) {
    return (conv4j_blk_band_rows(s, s->oh) * conv4j_blk_band_cols(s) + (long long)obn * s->oh * s->ow
            + (16LL * s->kh * s->kw * cbn + 1) * obn) * 16;
}
void conv4j_blk_pack_avx512(const conv4j_blk_params *p, const float *w, float *wp);
/* Channel blocks per chunk of the reduction: a group's weights for them fit 256 KiB (an L2 share).
   Where that is fewer than the layer's blocks, the band's tile sums are kept between chunks in
   conv4j_blk_partial_floats of scratch after the band. */
static inline int blk_chunk_blocks(const conv4j_conv_shape *s, int nb) {
    const long long per_block = (long long)s->kh * s->kw * 16 * 16 * nb;
    const long long n = 65536 / per_block;
    return n < 1 ? 1 : n > 1 << 20 ? 1 << 20 : (int)n;
}
static inline long long conv4j_blk_partial_floats(const conv4j_conv_shape *s, int nb, int rows) {
    const int px = CONV4J_BLK_PIXELS(nb), cb = (s->c + 15) / 16;
    return blk_chunk_blocks(s, nb) < cb ? (long long)rows * ((s->ow + px - 1) / px) * 56 * 16 : 0;
}

/* The reorder variants take two different layouts (conv4j_blk_reorder copies between equal ones). */
void conv4j_blk_reorder_avx512(const conv4j_blk_params *p, const float *x, float *y);
void conv4j_blk_reorder_avx2(const conv4j_blk_params *p, const float *x, float *y);
/* Floats of scratch after the band and the partial sums of a call with p->pack_inline: one chunk of a
   group's packed weights. */
static inline long long conv4j_blk_inline_floats(const conv4j_conv_shape *s, int nb) {
    const int chunk = blk_chunk_blocks(s, nb), cb = (s->c + 15) / 16;
    return (long long)(chunk < cb ? chunk : cb) * s->kh * s->kw * 16 * 16 * nb;
}

void conv4j_blk_forward_avx2(const conv4j_blk_params *p, const float *x, const float *wp, const float *bias,
                             const float *res, float *y, float *scratch);
/* Packs channel blocks [b0, b0 + bn) of weight group g into dst, laid out as that part of a packed
   group (plain loops: the AVX2 variant's inline packing, and every packing but AVX-512's). */
void conv4j_blk_pack_blocks_generic(const conv4j_blk_params *p, const float *w, float *dst, int g, int b0, int bn);
void conv4j_blk_pack_blocks_avx2(const conv4j_blk_params *p, const float *w, float *dst, int g, int b0, int bn);
void conv4j_blk_forward_generic(const conv4j_blk_params *p, const float *x, const float *wp, const float *bias,
                                const float *res, float *y, float *scratch);
void conv4j_blk_forward_avx512(const conv4j_blk_params *p, const float *x, const float *wp, const float *bias,
                               const float *res, float *y, float *scratch);

#endif
