/*
 * Direct convolution for small dense layers with stride 1 (the tiny and LeNet-sized ones), where
 * an im2col + sgemm call costs more in fixed overhead and narrow products (few output channels,
 * short rows) than the arithmetic itself. The input channels of one image are first copied with
 * their zero padding into scratch, so every tap reads in bounds and padded zeros are multiplied as
 * in the definition (NaN and infinite weights behave as IEEE arithmetic on the padded input). Then
 * eight output channels at a time, eight output columns at a time, are accumulated in registers
 * over every tap: one load of input feeds eight multiply-adds.
 */
#include "conv4j.h"
#include "common/conv4j_common.h"

typedef float conv4j_v8 __attribute__((vector_size(32), aligned(4), may_alias));

/* The padded planes: plane c holds rows -pt .. -pt+ph-1 and columns -pl .. -pl+pw-1 of input channel c.
   Plain loops rather than memset/memcpy: the rows are short, and a library call per row cost as
   much as the copy. */
static inline void conv4j_direct_pad(const float *x, float *xp, int cg, int h, int w, int ph, int pw, int pt, int pl) {
    for (int c = 0; c < cg; c++) {
        const float *xc = x + (size_t)c * h * w;
        for (int r = 0; r < ph; r++) {
            float *dst = xp + ((size_t)c * ph + r) * pw;
            long long ih = (long long)r - pt;
            if (ih < 0 || ih >= h) {
                for (int s = 0; s < pw; s++) dst[s] = 0.f;
                continue;
            }
            const int lo = pl < pw ? pl : pw, hi = (long long)pl + w < pw ? pl + w : pw;
            const float *src = xc + (size_t)ih * w;
            for (int s = 0; s < lo; s++) dst[s] = 0.f;
            for (int s = lo; s < hi; s++) dst[s] = src[s - pl];
            for (int s = hi > lo ? hi : lo; s < pw; s++) dst[s] = 0.f;
        }
    }
}

/* Eight output channels (weights w[0..7]) of row i, columns [j, j+8), into out (8 x 8): eight
   independent accumulator chains, enough to hide the multiply-add latency. */
__attribute__((always_inline)) static inline void conv4j_direct_block(const float *xp, const float *const *w,
                                                                      const float *init, int i, int j, int cg,
                                                                      int ph, int pw, int kh, int kw, int dh, int dw,
                                                                      float *out) {
    const int taps = kh * kw;
    conv4j_v8 a[8];
    for (int t = 0; t < 8; t++) a[t] = (conv4j_v8){0} + init[t];
    for (int c = 0; c < cg; c++) {
        for (int p = 0; p < kh; p++) {
            const float *row = xp + ((size_t)c * ph + (size_t)i + (size_t)p * dh) * pw + j;
            const size_t t0 = (size_t)c * taps + (size_t)p * kw;
            for (int q = 0; q < kw; q++) {
                const conv4j_v8 v = *(const conv4j_v8 *)(row + (size_t)q * dw);
                for (int t = 0; t < 8; t++) a[t] += w[t][t0 + q] * v;
            }
        }
    }
    for (int t = 0; t < 8; t++) *(conv4j_v8 *)(out + 8 * t) = a[t];
}

CONV4J_MULTIVERSION
static void conv4j_direct_channels(const float *xp, const float *wt, const float *bias, float *y, int cg, int ph,
                                   int pw, int kh, int kw, int oh, int ow, int dh, int dw, int o0, int on) {
    const size_t k = (size_t)cg * kh * kw, plane = (size_t)oh * ow;
    float acc[64];
    for (int o = o0; o < o0 + on; o += 8) {
        /* a last group of fewer than eight channels repeats its last one and drops the copies */
        const int n = o0 + on - o < 8 ? o0 + on - o : 8;
        const float *wk[8];
        float init[8];
        for (int t = 0; t < 8; t++) {
            const int oc = o + (t < n ? t : n - 1);
            wk[t] = wt + (size_t)oc * k;
            init[t] = bias ? bias[oc] : 0.f;
        }
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j += 8) {
                /* the last block ends at ow: shifted left when ow allows, else computed over slack and cut */
                const int jb = j + 8 <= ow ? j : (ow >= 8 ? ow - 8 : 0);
                const int cols = ow >= 8 ? 8 : ow;
                conv4j_direct_block(xp, wk, init, i, jb, cg, ph, pw, kh, kw, dh, dw, acc);
                for (int t = 0; t < n; t++) {
                    float *dst = y + (size_t)(o + t) * plane + (size_t)i * ow + jb;
                    if (cols == 8) {
                        *(conv4j_v8 *)dst = *(const conv4j_v8 *)(acc + 8 * t);
                    } else {
                        for (int u = 0; u < cols; u++) dst[u] = acc[8 * t + u];
                    }
                }
            }
        }
    }
}

/* Output channels [first, first + count) of one group of one image, stride 1: x points at the group's
   first input channel, w at its weights (og x cg x kh x kw), bias at its biases (or NULL), y at its
   first output channel; scratch holds the padded planes, cg x (oh + (kh-1)·dh) x (ow + (kw-1)·dw)
   floats, plus 16 of slack read (and discarded) when a row is narrower than a vector
   (NativeKernels.directScratchSize). */
void conv4j_direct_forward(const conv4j_direct_params *p, const float *x, const float *wt, const float *bias, float *y,
                           float *scratch) {
    const conv4j_conv_shape *s = &p->s;
    x += p->off[0]; wt += p->off[1]; y += p->off[3];
    if (bias) bias += p->off[2];
    const int ph = s->oh + (s->kh - 1) * s->dh, pw = s->ow + (s->kw - 1) * s->dw;
    conv4j_direct_pad(x, scratch, s->c, s->h, s->w, ph, pw, s->pt, s->pl);
    conv4j_direct_channels(scratch, wt, bias, y, s->c, ph, pw, s->kh, s->kw, s->oh, s->ow, s->dh, s->dw, p->first, p->count);
}
