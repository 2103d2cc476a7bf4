/*
 * Direct kernels for depthwise convolution (groups == C, O = mult*C): each output channel reads
 * one input plane, so im2col + GEMM would degenerate into M=1 products. Output channel oc reads
 * input channel oc / mult. Loops run along output rows so the innermost loop is a contiguous
 * (stride 1) or strided pass over one row, without bounds tests.
 */
#ifndef CONV4J_DEPTHWISE_H
#define CONV4J_DEPTHWISE_H

#include <stddef.h>
#include <stdlib.h>
#include "conv4j_im2col.h"

/* Runtime dispatch: the same C compiled for AVX-512, AVX2 and baseline x86-64; the loader picks
   the best one the CPU has (GCC ifunc), so the library still runs on any x86-64 CPU. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define CONV4J_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CONV4J_MULTIVERSION
#endif

typedef float conv4j_v16 __attribute__((vector_size(64), aligned(4), may_alias));

/* Columns [j0, j1) of output row i, tap by tap: each tap adds its weight times a slice of one
   input row. Used near the borders, where taps fall in the padding, and for strides above 1. */
static inline void conv4j_dw_cols(const float *xc, const float *wk, float *yr, int i, int j0, int j1,
                                  int h, int kh, int kw, int w, int sh, int sw, int pt, int pl, int dh, int dw,
                                  const int *los, const int *his) {
    for (int p = 0; p < kh; p++) {
        int ih = i * sh - pt + p * dh;
        if ((unsigned)ih >= (unsigned)h) continue;
        const float *row = xc + (size_t)ih * w;
        for (int q = 0; q < kw; q++) {
            const float wv = wk[p * kw + q];
            const float *src = row + q * dw - pl;
            int lo = los[q] > j0 ? los[q] : j0, hi = his[q] < j1 ? his[q] : j1;
            for (int j = lo; j < hi; j++) yr[j] += wv * src[(size_t)j * sw];
        }
    }
}

/* Four blocks of 16 outputs, starting at columns o[0..3], of output row i (into yr) and, when yr2
   is not NULL, of row i + 1 (into yr2): up to eight vector registers, each accumulated over all taps
   from init (eight independent chains hide the multiply-add latency) and stored once. Blocks may
   overlap: each is computed from scratch, so overlapping writes agree. */
__attribute__((always_inline)) static inline void conv4j_dw_block4(const float *xc, const float *wk, float init,
                                    float *yr, float *yr2, int i, const int *o,
                                    int h, int kh, int kw, int w, int sh, int pt, int pl, int dh, int dw) {
    conv4j_v16 a0 = {0}, a1, a2, a3, b0, b1, b2, b3;
    a0 += init;
    a1 = a0; a2 = a0; a3 = a0;
    b0 = a0; b1 = a0; b2 = a0; b3 = a0;
    for (int p = 0; p < kh; p++) {
        int ih = i * sh - pt + p * dh, ih2 = ih + sh;
        int v1 = (unsigned)ih < (unsigned)h, v2 = yr2 && (unsigned)ih2 < (unsigned)h;
        const float *row = xc + (size_t)ih * w - pl, *row2 = xc + (size_t)ih2 * w - pl;
        if (v1 && v2) {
            for (int q = 0; q < kw; q++) {
                const float wv = wk[p * kw + q];
                const float *s1 = row + q * dw, *s2 = row2 + q * dw;
                a0 += wv * *(const conv4j_v16 *)(s1 + o[0]);
                a1 += wv * *(const conv4j_v16 *)(s1 + o[1]);
                a2 += wv * *(const conv4j_v16 *)(s1 + o[2]);
                a3 += wv * *(const conv4j_v16 *)(s1 + o[3]);
                b0 += wv * *(const conv4j_v16 *)(s2 + o[0]);
                b1 += wv * *(const conv4j_v16 *)(s2 + o[1]);
                b2 += wv * *(const conv4j_v16 *)(s2 + o[2]);
                b3 += wv * *(const conv4j_v16 *)(s2 + o[3]);
            }
        } else if (v1) {
            for (int q = 0; q < kw; q++) {
                const float wv = wk[p * kw + q];
                const float *s1 = row + q * dw;
                a0 += wv * *(const conv4j_v16 *)(s1 + o[0]);
                a1 += wv * *(const conv4j_v16 *)(s1 + o[1]);
                a2 += wv * *(const conv4j_v16 *)(s1 + o[2]);
                a3 += wv * *(const conv4j_v16 *)(s1 + o[3]);
            }
        } else if (v2) {
            for (int q = 0; q < kw; q++) {
                const float wv = wk[p * kw + q];
                const float *s2 = row2 + q * dw;
                b0 += wv * *(const conv4j_v16 *)(s2 + o[0]);
                b1 += wv * *(const conv4j_v16 *)(s2 + o[1]);
                b2 += wv * *(const conv4j_v16 *)(s2 + o[2]);
                b3 += wv * *(const conv4j_v16 *)(s2 + o[3]);
            }
        }
    }
    *(conv4j_v16 *)(yr + o[0]) = a0;
    *(conv4j_v16 *)(yr + o[1]) = a1;
    *(conv4j_v16 *)(yr + o[2]) = a2;
    *(conv4j_v16 *)(yr + o[3]) = a3;
    if (yr2) {
        *(conv4j_v16 *)(yr2 + o[0]) = b0;
        *(conv4j_v16 *)(yr2 + o[1]) = b1;
        *(conv4j_v16 *)(yr2 + o[2]) = b2;
        *(conv4j_v16 *)(yr2 + o[3]) = b3;
    }
}

/* The border columns [0, ja) and [jb, ow) of output row i. */
static inline void conv4j_dw_borders(const float *xc, const float *wk, float init, float *yr, int i,
                                     int h, int w, int kh, int kw, int ow, int sh, int sw, int pt, int pl, int dh, int dw,
                                     const int *los, const int *his, int ja, int jb) {
    if (ja + (ow - jb) <= 8) {
        /* a few border columns: each output by itself, skipping the taps in the padding */
        for (int side = 0; side < 2; side++) {
            for (int j = side ? jb : 0; j < (side ? ow : ja); j++) {
                float acc = init;
                for (int p = 0; p < kh; p++) {
                    int ih = i * sh - pt + p * dh;
                    if ((unsigned)ih >= (unsigned)h) continue;
                    const float *row = xc + (size_t)ih * w;
                    for (int q = 0; q < kw; q++) {
                        int iw = j * sw - pl + q * dw;
                        if ((unsigned)iw < (unsigned)w) acc += wk[p * kw + q] * row[iw];
                    }
                }
                yr[j] = acc;
            }
        }
    } else {
        for (int j = 0; j < ja; j++) yr[j] = init;
        for (int j = jb; j < ow; j++) yr[j] = init;
        conv4j_dw_cols(xc, wk, yr, i, 0, ja, h, kh, kw, w, sh, sw, pt, pl, dh, dw, los, his);
        conv4j_dw_cols(xc, wk, yr, i, jb, ow, h, kh, kw, w, sh, sw, pt, pl, dh, dw, los, his);
    }
}

/* Output rows i and, when two is set, i + 1 of one channel. The interior [ja, jb), where every tap of
   a stride-1 kernel lies inside the image, goes by blocks of four vectors per row; the last, partial,
   group of blocks is shifted left to end at jb. The border columns go tap by tap. */
CONV4J_MULTIVERSION
static void conv4j_dw_rows(const float *xc, const float *wk, float init, float *yr, int i, int two,
                           int h, int w, int kh, int kw, int ow, int sh, int sw, int pt, int pl, int dh, int dw,
                           const int *los, const int *his, int ja, int jb) {
    if (jb - ja < 16) {
        ja = jb = ow;
    }
    conv4j_dw_borders(xc, wk, init, yr, i, h, w, kh, kw, ow, sh, sw, pt, pl, dh, dw, los, his, ja, jb);
    if (two) {
        conv4j_dw_borders(xc, wk, init, yr + ow, i + 1, h, w, kh, kw, ow, sh, sw, pt, pl, dh, dw, los, his, ja, jb);
    }
    for (int j = ja; j < jb; j += 64) {
        int o[4];
        for (int u = 0; u < 4; u++) o[u] = j + 16 * u + 16 <= jb ? j + 16 * u : jb - 16;
        conv4j_dw_block4(xc, wk, init, yr, two ? yr + ow : NULL, i, o, h, kh, kw, w, sh, pt, pl, dh, dw);
    }
}


/* IEEE semantics: padding is zeros that are multiplied, so a NaN or infinite weight (or output
   gradient) meets 0 there and makes NaN, as in the definition on the explicitly padded input. The
   fast paths skip padded taps, which only matters when a value is not finite; these tell when. */
static inline int conv4j_all_finite(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] - p[i] == 0.f)) return 0;  /* NaN and +-Inf give NaN */
    }
    return 1;
}

/* The definition, padding included: for channels whose weights are not all finite. */
static inline void conv4j_dw_forward_padded(const float *xc, const float *wk, float init, float *yc,
                                            int h, int w, int kh, int kw, int oh, int ow,
                                            int sh, int sw, int pt, int pl, int dh, int dw) {
    for (int i = 0; i < oh; i++) {
        for (int j = 0; j < ow; j++) {
            float acc = init;
            for (int p = 0; p < kh; p++) {
                int ih = i * sh - pt + p * dh;
                for (int q = 0; q < kw; q++) {
                    int iw = j * sw - pl + q * dw;
                    float v = ((unsigned)ih < (unsigned)h && (unsigned)iw < (unsigned)w) ? xc[(size_t)ih * w + iw] : 0.f;
                    acc += wk[p * kw + q] * v;
                }
            }
            yc[(size_t)i * ow + j] = acc;
        }
    }
}

/* Output channels [o0, o0+on) of one image. */
static inline void conv4j_dw_forward(const float *x, long long xoff, const float *wt, long long woff,
                                     const float *bias, long long boff, float *y, long long yoff,
                                     int h, int w, int kh, int kw, int oh, int ow,
                                     int sh, int sw, int pt, int pl, int dh, int dw,
                                     int mult, int o0, int on) {
    x += xoff; wt += woff; y += yoff;
    if (bias) bias += boff;
    /* the valid output columns of each kernel column are the same on every row: find them once
       (two integer divisions each) rather than per row, and the interior [ja, jb) valid for all */
    int stack_lo[64], stack_hi[64];
    int *los = kw <= 64 ? stack_lo : (int *)malloc(sizeof(int) * 2 * (size_t)kw);
    int *his = kw <= 64 ? stack_hi : los + kw;
    if (!los) return;
    int ja = 0, jb = ow;
    for (int q = 0; q < kw; q++) {
        conv4j_valid_cols(q * dw - pl, sw, w, ow, &los[q], &his[q]);
        if (los[q] > ja) ja = los[q];
        if (his[q] < jb) jb = his[q];
    }
    if (sw != 1 || jb < ja) ja = jb = ow;  /* no stride-1 interior: the plain path does all */
    for (int oc = o0; oc < o0 + on; oc++) {
        const float *xc = x + (size_t)(oc / mult) * h * w;
        const float *wk = wt + (size_t)oc * kh * kw;
        float *yc = y + (size_t)oc * oh * ow;
        const float init = bias ? bias[oc] : 0.f;
        if (!conv4j_all_finite(wk, (size_t)kh * kw)) {
            conv4j_dw_forward_padded(xc, wk, init, yc, h, w, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw);
            continue;
        }
        for (int i = 0; i < oh; i += 2) {
            conv4j_dw_rows(xc, wk, init, yc + (size_t)i * ow, i, i + 1 < oh, h, w, kh, kw, ow, sh, sw, pt, pl, dh, dw,
                           los, his, ja, jb);
        }
    }
    if (los != stack_lo) free(los);
}

/* Input gradient of input channels [c0, c0+cn) of one image; gx is cleared first unless accumulate. */
static inline void conv4j_dw_backward_data(const float *gy, long long gyoff, const float *wt, long long woff,
                                           float *gx, long long gxoff,
                                           int h, int w, int kh, int kw, int oh, int ow,
                                           int sh, int sw, int pt, int pl, int dh, int dw,
                                           int mult, int c0, int cn, int accumulate) {
    gy += gyoff; wt += woff; gx += gxoff;
    for (int c = c0; c < c0 + cn; c++) {
        float *gxc = gx + (size_t)c * h * w;
        if (!accumulate) memset(gxc, 0, sizeof(float) * (size_t)h * w);
        for (int oc = c * mult; oc < (c + 1) * mult; oc++) {
            const float *wk = wt + (size_t)oc * kh * kw;
            const float *gyc = gy + (size_t)oc * oh * ow;
            for (int i = 0; i < oh; i++) {
                const float *gr = gyc + (size_t)i * ow;
                for (int p = 0; p < kh; p++) {
                    int ih = i * sh - pt + p * dh;
                    if ((unsigned)ih >= (unsigned)h) continue;
                    for (int q = 0; q < kw; q++) {
                        const float wv = wk[p * kw + q];
                        int iw0 = q * dw - pl, lo, hi;
                        conv4j_valid_cols(iw0, sw, w, ow, &lo, &hi);
                        float *dst = gxc + (size_t)ih * w + iw0;
                        if (sw == 1) {
                            for (int j = lo; j < hi; j++) dst[j] += wv * gr[j];
                        } else {
                            for (int j = lo; j < hi; j++) dst[(size_t)j * sw] += wv * gr[j];
                        }
                    }
                }
            }
        }
    }
}

/* Weight gradient of output channels [o0, o0+on), summed over the whole batch in a fixed order. */
static inline void conv4j_dw_backward_weights(const float *x, const float *gy, float *gw, long long gwoff,
                                              int batch, int channels, int outChannels,
                                              int h, int w, int kh, int kw, int oh, int ow,
                                              int sh, int sw, int pt, int pl, int dh, int dw,
                                              int mult, int o0, int on, int accumulate) {
    gw += gwoff;
    for (int oc = o0; oc < o0 + on; oc++) {
        float *gk = gw + (size_t)oc * kh * kw;
        int finite = 1;
        for (int n = 0; n < batch && finite; n++) {
            finite = conv4j_all_finite(gy + ((size_t)n * outChannels + oc) * oh * ow, (size_t)oh * ow);
        }
        if (!finite) {  /* the definition, padding included */
            for (int p = 0; p < kh; p++) {
                for (int q = 0; q < kw; q++) {
                    double s = 0;
                    for (int n = 0; n < batch; n++) {
                        const float *xc = x + ((size_t)n * channels + oc / mult) * h * w;
                        const float *gyc = gy + ((size_t)n * outChannels + oc) * oh * ow;
                        for (int i = 0; i < oh; i++) {
                            int ih = i * sh - pt + p * dh;
                            for (int j = 0; j < ow; j++) {
                                int iw = j * sw - pl + q * dw;
                                float v = ((unsigned)ih < (unsigned)h && (unsigned)iw < (unsigned)w) ? xc[(size_t)ih * w + iw] : 0.f;
                                s += (double)(gyc[(size_t)i * ow + j] * v);
                            }
                        }
                    }
                    gk[p * kw + q] = (float)(accumulate ? gk[p * kw + q] + s : s);
                }
            }
            continue;
        }
        for (int p = 0; p < kh; p++) {
            for (int q = 0; q < kw; q++) {
                int iw0 = q * dw - pl, lo, hi;
                conv4j_valid_cols(iw0, sw, w, ow, &lo, &hi);
                double s = 0;
                for (int n = 0; n < batch; n++) {
                    const float *xc = x + ((size_t)n * channels + oc / mult) * h * w;
                    const float *gyc = gy + ((size_t)n * outChannels + oc) * oh * ow;
                    for (int i = 0; i < oh; i++) {
                        int ih = i * sh - pt + p * dh;
                        if ((unsigned)ih >= (unsigned)h) continue;
                        const float *src = xc + (size_t)ih * w + iw0, *gr = gyc + (size_t)i * ow;
                        float r = 0.f;
                        if (sw == 1) {
                            for (int j = lo; j < hi; j++) r += gr[j] * src[j];
                        } else {
                            for (int j = lo; j < hi; j++) r += gr[j] * src[(size_t)j * sw];
                        }
                        s += r;
                    }
                }
                gk[p * kw + q] = (float)(accumulate ? gk[p * kw + q] + s : s);
            }
        }
    }
}

#endif
