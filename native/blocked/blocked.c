/*
 * The channel-blocked direct kernel's entry points, its weight packing and the variant for CPUs
 * without AVX-512: plain loops over the same packed weights and padded input band, slow but exact
 * in the same order of sums, so the family works (and is tested) everywhere.
 */
#include "conv4j.h"
#include "common/conv4j_dispatch.h"
#include "blocked/blocked.h"

/* Offset of element (c, h, w) of a c x h x w image in a layout. */
static inline size_t conv4j_blk_at(int layout, int c, int h, int w, int ci, int hi, int wi) {
    switch (layout) {
    case CONV4J_LAYOUT_NHWC: return ((size_t)hi * w + wi) * c + ci;
    case CONV4J_LAYOUT_NCHW16C: return (((size_t)(ci >> 4) * h + hi) * w + wi) * 16 + (ci & 15);
    default: return ((size_t)ci * h + hi) * w + wi;
    }
}

void conv4j_blk_pack_blocks_generic(const conv4j_blk_params *p, const float *w, float *dst, int g, int b0, int bn) {
    const conv4j_conv_shape *s = &p->s;
    const int ob = p->nb * 16, taps = s->kh * s->kw;
    for (int b = b0; b < b0 + bn; b++)
        for (int t = 0; t < taps; t++)
            for (int i = 0; i < 16; i++)
                for (int j = 0; j < ob; j++) {
                    const int o = g * ob + j, c = b * 16 + i;
                    /* flipped: s->c and s->o are the layer's output and input channels */
                    const size_t at = p->flip ? ((size_t)c * s->o + o) * taps + (taps - 1 - t) : ((size_t)o * s->c + c) * taps + t;
                    *dst++ = o < s->o && c < s->c ? w[at] : 0.f;
                }
}

void conv4j_blk_pack(const conv4j_blk_params *p, const float *w, float *wp) {
    if (conv4j_isa_in_use() == CONV4J_ISA_AVX512) {
        conv4j_blk_pack_avx512(p, w, wp);
        return;
    }
    const conv4j_conv_shape *s = &p->s;
    const int cb = (s->c + 15) / 16;
    const size_t group = (size_t)cb * s->kh * s->kw * 16 * 16 * p->nb;
    for (int g = p->g0; g < p->g0 + p->gn; g++) {
        if (conv4j_isa_in_use() == CONV4J_ISA_AVX2) conv4j_blk_pack_blocks_avx2(p, w, wp + (size_t)g * group, g, 0, cb);
        else conv4j_blk_pack_blocks_generic(p, w, wp + (size_t)g * group, g, 0, cb);
    }
}

void conv4j_blk_forward(const conv4j_blk_params *p, const float *x, const float *wp, const float *bias, const float *res,
                        float *y, float *scratch) {
    x += p->off[0]; wp += p->off[1]; y += p->off[3];
    if (bias) bias += p->off[2];
    if (res) res += p->off[4];
    if (conv4j_isa_in_use() == CONV4J_ISA_AVX512) {
        conv4j_blk_forward_avx512(p, x, wp, bias, res, y, scratch);
    } else if (conv4j_isa_in_use() == CONV4J_ISA_AVX2) {
        conv4j_blk_forward_avx2(p, x, wp, bias, res, y, scratch);
    } else {
        conv4j_blk_forward_generic(p, x, wp, bias, res, y, scratch);
    }
}

void conv4j_blk_reorder(const conv4j_blk_params *p, const float *x, float *y) {
    const conv4j_conv_shape *s = &p->s;
    const size_t plane = (size_t)s->h * s->w;
    const size_t xi = conv4j_image_floats(p->x_layout, s->c, plane), yi = conv4j_image_floats(p->y_layout, s->c, plane);
    if (p->x_layout == p->y_layout) {
        for (size_t k = 0; k < s->n * xi; k++) y[k] = x[k];
        return;
    }
    if (conv4j_isa_in_use() == CONV4J_ISA_AVX512) {
        conv4j_blk_reorder_avx512(p, x, y);
        return;
    }
    if (conv4j_isa_in_use() == CONV4J_ISA_AVX2) {
        conv4j_blk_reorder_avx2(p, x, y);
        return;
    }
    const int cp = (s->c + 15) / 16 * 16; /* the channels an NCHW16C image stores */
    for (int n = 0; n < s->n; n++)
        for (int c = 0; c < (p->y_layout == CONV4J_LAYOUT_NCHW16C ? cp : s->c); c++)
            for (int h = 0; h < s->h; h++)
                for (int w = 0; w < s->w; w++)
                    y[n * yi + conv4j_blk_at(p->y_layout, s->c, s->h, s->w, c, h, w)] =
                        c < s->c ? x[n * xi + conv4j_blk_at(p->x_layout, s->c, s->h, s->w, c, h, w)] : 0.f;
}

/* Copies the input rows a band reads, with their zero padding, into 16-channel blocks. */
static void conv4j_blk_band_generic(const conv4j_blk_params *p, const float *x, float *xp) {
    const conv4j_conv_shape *s = &p->s;
    const long long br = conv4j_blk_band_rows(s, p->rows), pw = conv4j_blk_band_cols(s);
    const int cb = (s->c + 15) / 16;
    for (int b = 0; b < cb; b++)
        for (long long r = 0; r < br; r++) {
            const long long ih = (long long)p->oh0 * s->sh - s->pt + r;
            for (long long col = 0; col < pw; col++) {
                const long long iw = col - s->pl;
                float *dst = xp + (((size_t)b * br + r) * pw + col) * 16;
                for (int i = 0; i < 16; i++) {
                    const int c = b * 16 + i;
                    dst[i] = c < s->c && ih >= 0 && ih < s->h && iw >= 0 && iw < s->w
                                 ? x[conv4j_blk_at(p->x_layout, s->c, s->h, s->w, c, (int)ih, (int)iw)]
                                 : 0.f;
                }
            }
        }
}

void conv4j_blk_forward_generic(const conv4j_blk_params *p, const float *x, const float *wp, const float *bias,
                                const float *res, float *y, float *xp) {
    const conv4j_conv_shape *s = &p->s;
    conv4j_blk_band_generic(p, x, xp);
    const long long br = conv4j_blk_band_rows(s, p->rows), pw = conv4j_blk_band_cols(s);
    const int ob = p->nb * 16, cb = (s->c + 15) / 16, taps = s->kh * s->kw;
    const int oc = s->o, yc = p->y_layout == CONV4J_LAYOUT_NCHW16C ? (s->o + 15) / 16 * 16 : s->o;
    for (int g = p->g0; g < p->g0 + p->gn; g++)
        for (int j = 0; j < ob; j++) {
            const int o = g * ob + j;
            if (o >= yc) break;
            for (int oh = p->oh0; oh < p->oh0 + p->rows; oh++)
                for (int ow = 0; ow < s->ow; ow++) {
                    float v = 0.f;
                    if (o < oc) {
                        const float *wg = wp + (size_t)g * cb * taps * 16 * ob + j;
                        for (int b = 0; b < cb; b++)
                            for (int kh = 0; kh < s->kh; kh++)
                                for (int kw = 0; kw < s->kw; kw++) {
                                    const float *in = xp + (((size_t)b * br + (size_t)(oh - p->oh0) * s->sh + (size_t)kh * s->dh) * pw
                                                            + (size_t)ow * s->sw + (size_t)kw * s->dw) * 16;
                                    const int t = kh * s->kw + kw;
                                    const float *wt = wg + (((size_t)b * taps + t) * 16) * ob;
                                    for (int i = 0; i < 16; i++) {
                                        const int c = 16 * b + i;
                                        /* inline packing: the layer's OIHW weights, 0 for the padding channels */
                                        const float wv = !p->pack_inline ? wt[(size_t)i * ob]
                                                         : c >= s->c ? 0.f
                                                         : p->flip ? wp[((size_t)c * s->o + o) * taps + (taps - 1 - t)]
                                                                   : wp[((size_t)o * s->c + c) * taps + t];
                                        v += in[i] * wv;
                                    }
                                }
                        if (bias) v += bias[o];
                        if (res) v += res[conv4j_blk_at(p->r_layout, s->o, s->oh, s->ow, o, oh, ow)];
                        if (p->clamp) {
                            v = v < p->lo ? p->lo : v; /* a NaN fails both tests and stays */
                            v = v > p->hi ? p->hi : v;
                        }
                    }
                    y[conv4j_blk_at(p->y_layout, s->o, s->oh, s->ow, o, oh, ow)] = v;
                }
        }
}

void conv4j_blk_weights_generic(const conv4j_blk_params *p, const float *x, const float *gy, float *gw, float *gb) {
    const conv4j_conv_shape *s = &p->s;
    const int taps = s->kh * s->kw;
    const size_t xi = (size_t)(p->x_layout == CONV4J_LAYOUT_NCHW16C ? (s->c + 15) / 16 * 16 : s->c) * s->h * s->w;
    const size_t yi = (size_t)(p->y_layout == CONV4J_LAYOUT_NCHW16C ? (s->o + 15) / 16 * 16 : s->o) * s->oh * s->ow;
    for (int o = 16 * p->g0; o < 16 * (p->g0 + p->gn) && o < s->o; o++) {
        for (int c = 16 * p->oh0; c < 16 * (p->oh0 + p->rows) && c < s->c; c++)
            for (int t = 0; t < taps; t++) {
                const int kh = t / s->kw, kw = t % s->kw;
                float v = 0.f;
                for (int n = 0; n < s->n; n++)
                    for (int i = 0; i < s->oh; i++) {
                        const long long ih = (long long)i * s->sh - s->pt + (long long)kh * s->dh;
                        if (ih < 0 || ih >= s->h) continue;
                        for (int j = 0; j < s->ow; j++) {
                            const long long iw = (long long)j * s->sw - s->pl + (long long)kw * s->dw;
                            if (iw < 0 || iw >= s->w) continue;
                            v += gy[n * yi + conv4j_blk_at(p->y_layout, s->o, s->oh, s->ow, o, i, j)]
                                 * x[n * xi + conv4j_blk_at(p->x_layout, s->c, s->h, s->w, c, (int)ih, (int)iw)];
                        }
                    }
                float *dst = gw + ((size_t)o * s->c + c) * taps + t;
                *dst = p->residual ? *dst + v : v;
            }
        if (gb && p->oh0 == 0) {
            float v = 0.f;
            for (int n = 0; n < s->n; n++)
                for (int i = 0; i < s->oh; i++)
                    for (int j = 0; j < s->ow; j++) v += gy[n * yi + conv4j_blk_at(p->y_layout, s->o, s->oh, s->ow, o, i, j)];
            gb[o] = p->residual ? gb[o] + v : v;
        }
    }
}

void conv4j_blk_weights(const conv4j_blk_params *p, const float *x, const float *gy, float *gw, float *gb, float *scratch) {
    if (conv4j_isa_in_use() == CONV4J_ISA_AVX512) {
        conv4j_blk_weights_avx512(p, x, gy, gw, gb, scratch);
    } else {
        conv4j_blk_weights_generic(p, x, gy, gw, gb);
    }
}
