/*
 * Direct kernels for depthwise convolution (groups == C, O = mult*C): each output channel reads
 * one input plane, so im2col + GEMM would degenerate into M=1 products. Output channel oc reads
 * input channel oc / mult. Loops run along output rows so the innermost loop is a contiguous
 * (stride 1) or strided pass over one row, without bounds tests.
 */
#ifndef CONV4J_DEPTHWISE_H
#define CONV4J_DEPTHWISE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "conv4j_im2col.h"
#include "conv4j_dispatch.h"
#include "conv4j_depthwise16.h"

typedef float conv4j_v16 __attribute__((vector_size(64), aligned(4), may_alias));
typedef int conv4j_i16 __attribute__((vector_size(64)));


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

/* The n columns of an output row an accumulator starts from: init, or with add what y holds. */
__attribute__((always_inline)) static inline void conv4j_dw_start(conv4j_v16 *a, const float *yr, float init, int add, int n) {
    *a = (conv4j_v16){0};
    if (!add) *a += init;
    else if (n == 16) *a = *(const conv4j_v16 *)yr;
    else memcpy(a, yr, sizeof(float) * (size_t)n);
}

/* Stores n columns of one output row from an accumulator; all 16 when they fit before the end of
   the plane (room floats), the columns past n being overwritten later (see conv4j_dw_band). */
__attribute__((always_inline)) static inline void conv4j_dw_store(float *yr, conv4j_v16 a, int n, long long room) {
    if (n == 16 || room >= 16) *(conv4j_v16 *)yr = a;
    else memcpy(yr, &a, sizeof(float) * (size_t)n);
}

/* Columns [j, j + 16*V) of the R output rows of a band, 3x3 kernel, a and c constants: R*V
   accumulators (enough independent chains to hide the multiply-add latency), and each input slice
   is loaded once for all the output rows that read it. The last vector stores n columns. */
__attribute__((always_inline)) static inline void conv4j_dw_block3(float *const *rowp, const long long *off,
                                                                   const float *wk, float init, int add, float *y, int ow,
                                                                   long long room, int j, int n, int R, int V, int a, int c) {
    conv4j_v16 acc[4][2];
    for (int t = 0; t < R; t++)
        for (int v = 0; v < V; v++) conv4j_dw_start(&acc[t][v], y + (long long)t * ow + j + 16 * v, init, add, v == V - 1 ? n : 16);
#pragma GCC unroll 16
    for (int r = 0; r < (R - 1) * a + 2 * c + 1; r++)
#pragma GCC unroll 3
        for (int q = 0; q < 3; q++)
#pragma GCC unroll 2
            for (int v = 0; v < V; v++) {
                conv4j_v16 s = *(const conv4j_v16 *)(rowp[r] + off[q] + j + 16 * v);
#pragma GCC unroll 4
                for (int t = 0; t < R; t++) {
                    int d = r - t * a;
                    if (d >= 0 && d % c == 0 && d / c < 3) acc[t][v] += wk[d / c * 3 + q] * s;
                }
            }
    for (int t = 0; t < R; t++)
        for (int v = 0; v < V; v++) {
            long long at = (long long)t * ow + j + 16 * v;
            conv4j_dw_store(y + at, acc[t][v], v == V - 1 ? n : 16, room - at);
        }
}

/* The same for any kernel, tap by tap. */
__attribute__((always_inline)) static inline void conv4j_dw_block(float *const *rowp, const long long *off,
                                                                  const float *wk, float init, int add, float *y, int ow,
                                                                  long long room, int j, int n, int R, int V, int kh, int kw, int a, int c) {
    conv4j_v16 acc[4][2];
    for (int t = 0; t < R; t++)
        for (int v = 0; v < V; v++) conv4j_dw_start(&acc[t][v], y + (long long)t * ow + j + 16 * v, init, add, v == V - 1 ? n : 16);
    for (int p = 0; p < kh; p++)
        for (int q = 0; q < kw; q++) {
            const float wv = wk[p * kw + q];
            for (int t = 0; t < R; t++)
                for (int v = 0; v < V; v++)
                    acc[t][v] += wv * *(const conv4j_v16 *)(rowp[t * a + p * c] + off[q] + j + 16 * v);
        }
    for (int t = 0; t < R; t++)
        for (int v = 0; v < V; v++) {
            long long at = (long long)t * ow + j + 16 * v;
            conv4j_dw_store(y + at, acc[t][v], v == V - 1 ? n : 16, room - at);
        }
}

/* The R output rows of a band, whose rows follow each other in y. A partial last vector goes
   first: its full store spills into the start of the next row, stored after it, and is cut only
   where it would pass the end of the plane (room floats from y). Then blocks of two vectors, then
   one. */
__attribute__((always_inline)) static inline void conv4j_dw_band(float *const *rowp, const long long *off,
                                                                 const float *wk, float init, int add, float *y, int ow,
                                                                 long long room, int R, int three, int kh, int kw,
                                                                 int a, int c) {
    int jt = ow % 16 ? ow / 16 * 16 : ow;
    if (jt < ow) {
        if (three) conv4j_dw_block3(rowp, off, wk, init, add, y, ow, room, jt, ow - jt, R, 1, a, c);
        else conv4j_dw_block(rowp, off, wk, init, add, y, ow, room, jt, ow - jt, R, 1, kh, kw, a, c);
    }
    int j = 0;
    for (; j + 32 <= jt; j += 32) {
        if (three) conv4j_dw_block3(rowp, off, wk, init, add, y, ow, room, j, 16, R, 2, a, c);
        else conv4j_dw_block(rowp, off, wk, init, add, y, ow, room, j, 16, R, 2, kh, kw, a, c);
    }
    for (; j < jt; j += 16) {
        if (three) conv4j_dw_block3(rowp, off, wk, init, add, y, ow, room, j, 16, R, 1, a, c);
        else conv4j_dw_block(rowp, off, wk, init, add, y, ow, room, j, 16, R, 1, kh, kw, a, c);
    }
}

/* R as a constant, so that the accumulators are registers. */
__attribute__((always_inline)) static inline void conv4j_dw_bands(float *const *rowp, const long long *off,
                                                                  const float *wk, float init, int add, float *y, int ow,
                                                                  long long room, int R, int three, int kh, int kw, int a, int c) {
    switch (R) {
    case 4: conv4j_dw_band(rowp, off, wk, init, add, y, ow, room, 4, three, kh, kw, a, c); break;
    case 3: conv4j_dw_band(rowp, off, wk, init, add, y, ow, room, 3, three, kh, kw, a, c); break;
    case 2: conv4j_dw_band(rowp, off, wk, init, add, y, ow, room, 2, three, kh, kw, a, c); break;
    default: conv4j_dw_band(rowp, off, wk, init, add, y, ow, room, 1, three, kh, kw, a, c); break;
    }
}

/* Input row ih into a scratch row (its zero head and tail are never written). */
__attribute__((always_inline)) static inline void conv4j_dw_fill(const conv4j_dw_layout *L, float *dst, const float *xc,
                                                                 long long ih, int h, int w, int sw, int pl) {
    if (ih < 0 || ih >= h) {
        memset(dst, 0, sizeof(float) * (size_t)(L->nph * L->len));
        return;
    }
    const float *row = xc + (size_t)ih * w;
    for (int f = 0; f < L->nph; f++, dst += L->len) {
        long long k = L->lo[f], hi = L->hi[f];
        const float *src = row + (L->phase[f] - (long long)pl);  /* src[k * sw] is inside the row */
        if (sw == 1) {
            if (hi - k >= 16) {  /* vectors, the last one overlapping the one before */
                for (; k + 16 < hi; k += 16) *(conv4j_v16 *)(dst + k) = *(const conv4j_v16 *)(src + k);
                k = hi - 16;
                *(conv4j_v16 *)(dst + k) = *(const conv4j_v16 *)(src + k);
            } else {
                for (; k < hi; k++) dst[k] = src[k];
            }
        } else if (sw == 2) {
            for (; k < hi; k++) dst[k] = src[2 * k];
        } else {
            for (; k < hi; k++) dst[k] = src[k * sw];
        }
    }
}

/* All output rows of one channel, band by band. One function for the whole plane, so that the CPU
   dispatch happens once per channel. */
CONV4J_MULTIVERSION
static void conv4j_dw_plane(const conv4j_dw_layout *L, const float *xc, const float *wk, float init, int add, float *yc,
                            int h, int w, int kh, int kw, int oh, int ow, int sh, int sw, int pt, int pl) {
    long long S = L->nph * L->len, filled = 0;  /* with reuse, the ring holds the rows before filled */
    long long slot0 = 0;  /* the ring slot of the band's first row (no division in the loop) */
    int a = L->a, c = L->c;
    for (int i0 = 0; i0 < oh; i0 += L->rows) {
        int R = oh - i0 < L->rows ? oh - i0 : L->rows;
        long long n = (R - 1LL) * a + (kh - 1LL) * c + 1;
        long long g0 = L->reuse ? (long long)i0 * a : 0;
        long long ih0 = L->reuse ? -(long long)pt : (long long)i0 * sh - pt;
        for (long long b = 0, s = slot0; b < n; b++, s = s + 1 == L->nb ? 0 : s + 1) {
            if (g0 + b >= filled) conv4j_dw_fill(L, L->buf + s * S, xc, ih0 + (g0 + b) * L->step, h, w, sw, pl);
            L->rowp[b] = L->buf + s * S;
        }
        filled = L->reuse ? g0 + n : 0;
        slot0 += L->reuse ? (long long)R * a : 0;
        if (slot0 >= L->nb) slot0 = slot0 - L->nb < L->nb ? slot0 - L->nb : slot0 % L->nb;
        float *y = yc + (size_t)i0 * ow;
        long long room = add ? 0 : (long long)(oh - i0) * ow;  /* adding, a store must not pass its row */
        if (kh == 3 && kw == 3 && a == 1 && c == 1) {
            conv4j_dw_bands(L->rowp, L->off, wk, init, add, y, ow, room, R, 1, 3, 3, 1, 1);
        } else if (kh == 3 && kw == 3 && a == 2 && c == 1) {
            conv4j_dw_bands(L->rowp, L->off, wk, init, add, y, ow, room, R, 1, 3, 3, 2, 1);
        } else {
            conv4j_dw_bands(L->rowp, L->off, wk, init, add, y, ow, room, R, 0, kh, kw, a, c);
        }
    }
}


/* IEEE semantics: padding is zeros that are multiplied, so a NaN or infinite weight (or output
   gradient) meets 0 there and makes NaN, as in the definition on the explicitly padded input. The
   fast paths skip padded taps, which only matters when a value is not finite; these tell when. */
static inline int conv4j_all_finite(const float *p, size_t n) {
    /* exponent bits all set: NaN or +-Inf. Integer tests in blocks vectorize, where a float test
       with an early exit ran one element at a time. */
    for (size_t i = 0; i < n; i += 1024) {
        size_t e = n - i < 1024 ? n - i : 1024;
        unsigned bad = 0;
        for (size_t k = 0; k < e; k++) {
            uint32_t b;
            memcpy(&b, p + i + k, sizeof b);
            bad |= (b & 0x7f800000u) == 0x7f800000u;
        }
        if (bad) return 0;
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

static inline long long conv4j_gcd(long long a, long long b) {
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* A layout and its scratch for planes of one geometry; small ones live in the struct (on the
   caller's stack), larger ones are allocated. ok is 0 when an allocation failed or the rows would not
   fit in memory: the caller then takes the definition's path. */
typedef struct {
    conv4j_dw_layout L;
    int ok;
    int stack_ints[4 * 16];
    long long stack_off[16];
    float *stack_rowp[64];
    float stack_buf[4096 + 16];
    int *ints;
    long long *off;
    float **rowp, *heap;
} conv4j_dw_setup;

static inline void conv4j_dw_setup_init(conv4j_dw_setup *S, int w, int kh, int kw, int oh, int ow,
                                        int sh, int sw, int pl, int dh, int dw) {
    conv4j_dw_layout *L = &S->L;
    /* four output rows per band, unless the rows they read are far apart (a stride or dilation far
       larger than the kernel): then one row at a time, copying only the rows it reads */
    L->rows = oh < 4 ? oh : 4;
    L->step = conv4j_gcd(sh, dh);
    L->nb = ((L->rows - 1LL) * sh + (kh - 1LL) * dh) / L->step + 1;
    L->reuse = 1;
    if (L->nb > 4LL * kh) {
        L->rows = 1;
        L->step = dh;
        L->nb = kh;
        L->reuse = sh % dh == 0;
    }
    L->a = L->reuse ? (int)(sh / L->step) : 0;
    L->c = (int)(dh / L->step);
    /* small arrays: per kernel column, and the band's row pointers */
    S->ints = kw <= 16 ? S->stack_ints : (int *)malloc(sizeof(int) * 4 * (size_t)kw);
    S->off = kw <= 16 ? S->stack_off : (long long *)malloc(sizeof(long long) * (size_t)kw);
    S->rowp = L->nb <= 64 ? S->stack_rowp : (float **)malloc(sizeof(float *) * (size_t)L->nb);
    S->heap = NULL;
    int ok = S->ints && S->off && S->rowp;
    int *phase = S->ints, *fq = S->ints + kw, *lo = S->ints + 2 * kw, *hi = S->ints + 3 * kw;
    long long *off = S->off;
    /* the phases the kernel columns read: at most min(sw, kw) */
    L->nph = 0;
    long long kmax = 0;
    for (int q = 0; ok && q < kw; q++) {
        int r = (int)((long long)q * dw % sw), f = 0;
        while (f < L->nph && phase[f] != r) f++;
        if (f == L->nph) phase[L->nph++] = r;
        fq[q] = f;
        if ((long long)q * dw / sw > kmax) kmax = (long long)q * dw / sw;
    }
    /* room for the vectors that pass ow, reading zeros */
    L->len = ((ow + 15LL) / 16 * 16 + kmax + 15) / 16 * 16;
    for (int q = 0; ok && q < kw; q++) off[q] = fq[q] * L->len + (long long)q * dw / sw;
    ok = ok && L->len < (1LL << 30);  /* else the definition: such rows would not fit in memory */
    for (int f = 0; ok && f < L->nph; f++) conv4j_valid_cols(phase[f] - pl, sw, w, (int)L->len, &lo[f], &hi[f]);
    L->phase = phase; L->lo = lo; L->hi = hi; L->off = off; L->rowp = S->rowp;
    /* the scratch rows, 64-byte aligned, zero where nothing is copied */
    size_t need = ok ? (size_t)(L->nb * L->nph * L->len) : 0;
    if (need + 16 > 4096 + 16) S->heap = (float *)malloc(sizeof(float) * (need + 16));
    L->buf = need + 16 > 4096 + 16 ? S->heap : S->stack_buf;
    ok = ok && L->buf;
    if (ok) {
        L->buf = (float *)(((size_t)L->buf + 63) & ~(size_t)63);
        memset(L->buf, 0, sizeof(float) * need);
    }
    S->ok = ok;
}

static inline void conv4j_dw_setup_free(conv4j_dw_setup *S) {
    free(S->heap);
    if (S->ints != S->stack_ints) free(S->ints);
    if (S->off != S->stack_off) free(S->off);
    if (S->rowp != S->stack_rowp) free(S->rowp);
}

/* Output channels [o0, o0+on) of one image. */
static inline void conv4j_dw_forward(const float *x, long long xoff, const float *wt, long long woff,
                                     const float *bias, long long boff, float *y, long long yoff,
                                     int h, int w, int kh, int kw, int oh, int ow,
                                     int sh, int sw, int pt, int pl, int dh, int dw,
                                     int mult, int o0, int on) {
    x += xoff; wt += woff; y += yoff;
    if (bias) bias += boff;
    if (oh <= 0 || ow <= 0) return;
#ifdef CONV4J_AVX512
    /* short rows: 16 channels to a vector (conv4j_depthwise16.h) */
    if (conv4j_has_avx512() && conv4j_dw16_suits(ow, sw, 0)
        && conv4j_dw16_forward(x, wt, bias, y, h, w, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw, mult, o0, on)) return;
#endif
    conv4j_dw_setup S;
    conv4j_dw_setup_init(&S, w, kh, kw, oh, ow, sh, sw, pl, dh, dw);
    for (int oc = o0; oc < o0 + on; oc++) {
        const float *xc = x + (size_t)(oc / mult) * h * w;
        const float *wk = wt + (size_t)oc * kh * kw;
        float *yc = y + (size_t)oc * oh * ow;
        const float init = bias ? bias[oc] : 0.f;
        if (!S.ok || !conv4j_all_finite(wk, (size_t)kh * kw)) {
            conv4j_dw_forward_padded(xc, wk, init, yc, h, w, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw);
            continue;
        }
        conv4j_dw_plane(&S.L, xc, wk, init, 0, yc, h, w, kh, kw, oh, ow, sh, sw, pt, pl);
    }
    conv4j_dw_setup_free(&S);
}

/* Adds one output channel's share of the input gradient to its input channel's plane, tap by tap. */
CONV4J_MULTIVERSION
static void conv4j_dw_backward_data_plane(const float *gyc, const float *wk, float *gxc,
                                          int h, int w, int kh, int kw, int oh, int ow,
                                          int sh, int sw, int pt, int pl, int dh, int dw) {
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

/* Adds one output channel's share of the input gradient to its input channel's plane, for strides
   above 1: each gx row is built in sw phase rows (phase f holds columns f, f + sw, ...; buf, sw rows
   of plen floats, first data column at margin), where each tap adds a whole gy row with one
   contiguous multiply-add, and is then interleaved into gx. Tap by tap straight into gx, the
   strided adds ran at 2 GFLOP/s. Columns that fall on padding are dropped, as in the definition. */
CONV4J_MULTIVERSION
static void conv4j_dw_backward_data_phased(const float *__restrict__ gyc, const float *wk, float *__restrict__ gxc,
                                           float *__restrict__ buf, long long plen, int margin,
                                           int h, int w, int kh, int kw, int oh, int ow,
                                           int sh, int sw, int pt, int pl, int dh, int dw, int add) {
    for (int ih = 0; ih < h; ih++) {
        int any = 0;
        float *row = gxc + (size_t)ih * w;
        for (int p = 0; p < kh; p++) {
            long long num = (long long)ih + pt - (long long)p * dh;
            if (num < 0 || num % sh || num / sh >= oh) continue;
            if (!any) memset(buf, 0, sizeof(float) * (size_t)(sw * plen));
            any = 1;
            const float *__restrict__ gr = gyc + (size_t)(num / sh) * ow;
            for (int q = 0; q < kw; q++) {
                long long c = (long long)q * dw - pl;  /* gx column of gy column 0 */
                long long f = ((c % sw) + sw) % sw, o = (c - f) / sw;
                float *__restrict__ dst = buf + f * plen + margin + o;
                const float wv = wk[p * kw + q];
                for (int j = 0; j < ow; j++) dst[j] += wv * gr[j];
            }
        }
        if (!any) {
            if (!add) memset(row, 0, sizeof(float) * (size_t)w);
            continue;
        }
        /* overwriting, the row is written once: clearing gx first cost a pass over memory */
        int iw = 0;
        if (sw == 2) {  /* 32 columns from 16 of each phase; buf's rows have room past w / 2 */
            const float *e = buf + margin, *od = buf + plen + margin;
            for (; iw < w; iw += 32) {
                conv4j_v16 a = *(const conv4j_v16 *)(e + iw / 2), b = *(const conv4j_v16 *)(od + iw / 2);
                conv4j_v16 v[2] = {__builtin_shuffle(a, b, (conv4j_i16){0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23}),
                                   __builtin_shuffle(a, b, (conv4j_i16){8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31})};
                if (iw + 32 <= w) {
                    conv4j_v16 *r = (conv4j_v16 *)(row + iw);
                    if (add) {
                        v[0] += r[0];
                        v[1] += r[1];
                    }
                    r[0] = v[0];
                    r[1] = v[1];
                } else {
                    const float *t = (const float *)v;
                    for (int l = 0; l < w - iw; l++) row[iw + l] = add ? row[iw + l] + t[l] : t[l];
                }
            }
        }
        for (long long k = iw / sw; (long long)k * sw < w; k++) {  /* iw is a multiple of sw: no division per column */
            for (int f = 0; f < sw && k * sw + f < w; f++) {
                float v = buf[f * plen + margin + k];
                row[k * sw + f] = add ? row[k * sw + f] + v : v;
            }
        }
    }
}

/* Input gradient of input channels [c0, c0+cn) of one image; gx is cleared first unless accumulate.
   With stride 1 it is a depthwise convolution of gy with the kernels turned by 180 degrees and
   padded by (k-1)·d - p, so it runs on the forward pass's kernels (3x faster than tap by tap on
   MobileNet's 3x3 layer). Channels whose weights are not all finite go tap by tap: that padding
   would meet them as 0 · Inf, where the definition has no product at all. */
static inline void conv4j_dw_backward_data(const float *gy, long long gyoff, const float *wt, long long woff,
                                           float *gx, long long gxoff,
                                           int h, int w, int kh, int kw, int oh, int ow,
                                           int sh, int sw, int pt, int pl, int dh, int dw,
                                           int mult, int c0, int cn, int accumulate) {
    gy += gyoff; wt += woff; gx += gxoff;
#ifdef CONV4J_AVX512
    if (conv4j_has_avx512() && mult == 1 && oh > 0 && conv4j_dw16_suits(ow, sw, 1)
        && conv4j_dw16_backward_data(gy, wt, gx, h, w, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw, c0, cn, accumulate)) return;
#endif
    const int ptt = (kh - 1) * dh - pt, plt = (kw - 1) * dw - pl, taps = kh * kw;
    const int turn = sh == 1 && sw == 1 && oh > 0 && ow > 0;
    conv4j_dw_setup S;
    float stack_k[64], *turned = NULL;
    if (turn) {
        conv4j_dw_setup_init(&S, ow, kh, kw, h, w, 1, 1, plt, dh, dw);
        turned = taps <= 64 ? stack_k : (float *)malloc(sizeof(float) * (size_t)taps);
    }
    /* strides above 1: phase rows with room for every tap's offset (see conv4j_dw_backward_data_phased) */
    const int margin = (pl + sw - 1) / sw;
    long long plen = (long long)(ow > 0 ? ow : 0) + ((long long)(kw - 1) * dw) / sw + 1;
    if (plen < (w - 1LL) / sw + 1) plen = (w - 1LL) / sw + 1;
    plen += margin + 16;
    float *phased = NULL;
    /* on rows of fewer than 32 outputs it measured no faster (MobileNet's 28x28 and 56x56 stride-2
       layers); the rows must stay small (16 MiB) whatever the stride or dilation */
    if (!turn && oh > 0 && ow >= 32 && plen <= (1LL << 22) / sw) phased = (float *)malloc(sizeof(float) * (size_t)(sw * plen));
    for (int c = c0; c < c0 + cn; c++) {
        float *gxc = gx + (size_t)c * h * w;
        int add = accumulate;
        for (int oc = c * mult; oc < (c + 1) * mult; oc++, add = 1) {
            const float *wk = wt + (size_t)oc * taps;
            const float *gyc = gy + (size_t)oc * oh * ow;
            if (turn && S.ok && turned && conv4j_all_finite(wk, (size_t)taps)) {
                for (int t = 0; t < taps; t++) turned[t] = wk[taps - 1 - t];
                conv4j_dw_plane(&S.L, gyc, turned, 0.f, add, gxc, oh, ow, kh, kw, h, w, 1, 1, ptt, plt);
                continue;
            }
            if (phased) {
                conv4j_dw_backward_data_phased(gyc, wk, gxc, phased, plen, margin, h, w, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw, add);
                continue;
            }
            if (!add) memset(gxc, 0, sizeof(float) * (size_t)h * w);
            conv4j_dw_backward_data_plane(gyc, wk, gxc, h, w, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw);
        }
    }
    if (turn) {
        conv4j_dw_setup_free(&S);
        if (turned != stack_k) free(turned);
    }
    free(phased);
}

#ifdef CONV4J_AVX512
/* g++ reports the "undefined" start vector of GCC's reduction intrinsic as uninitialized */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
/* One kernel tap's weight gradient over one image, stride 1: the sum over output rows i and columns
   j in [lo, hi) of gy[i][j] * x[i*sh + ih0][j + iw0], in four vector sums (a fixed order). */
CONV4J_AVX512
static double conv4j_dw_image_dot(const float *xc, const float *gyc, int h, int w, int oh, int ow, int sh,
                                  int ih0, int iw0, int lo, int hi) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int i = 0; i < oh; i++) {
        long long ih = (long long)i * sh + ih0;
        if (ih < 0 || ih >= h) continue;
        const float *src = xc + (size_t)ih * w + iw0, *gr = gyc + (size_t)i * ow;
        int j = lo;
        for (; j + 64 <= hi; j += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(gr + j), _mm512_loadu_ps(src + j), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(gr + j + 16), _mm512_loadu_ps(src + j + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(gr + j + 32), _mm512_loadu_ps(src + j + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(gr + j + 48), _mm512_loadu_ps(src + j + 48), a3);
        }
        for (; j + 16 <= hi; j += 16) {
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(gr + j), _mm512_loadu_ps(src + j), a1);
        }
        __mmask16 m = conv4j_lanes(hi - j);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, gr + j), _mm512_maskz_loadu_ps(m, src + j), a2);
    }
    return (double)_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

/* The nine weight gradients of a 3x3 kernel, stride s = 1 or 2, over one image: out[p*3+q] += the
   sum over output rows i and columns j of gy[i][j] * x[i*s - pt + p*dh][j*s - pl + q*dw]. x's rows
   are first copied into pad, each as s phases of len floats (phase f holds columns f - pl, f - pl + s,
   ...; zero where that is padding), so that each 16 columns of gy meet nine plain loads in nine
   accumulators: one pass over the image for all taps, where tap by tap read it nine times. Each
   accumulator sums in a fixed order. Padding reads zeros, and zero rows (zero), which add exact
   zeros while gy is finite; the caller checks the sums for that. */
CONV4J_AVX512
static void conv4j_dw_weights3(const float *xc, const float *gyc, float *pad, const float *zero, long long len,
                               int h, int w, int oh, int ow, int s, int pt, int pl, int dh, int dw, double *out) {
    const long long rowlen = s * len;
    int lo[2] = {0, 0}, hi[2] = {0, 0};  /* stride 2: the columns of each phase inside the row */
    for (int f = 0; s == 2 && f < 2; f++) conv4j_valid_cols(f - pl, 2, w, (int)len, &lo[f], &hi[f]);
    for (int r = 0; r < h; r++) {
        float *row = pad + (size_t)r * rowlen;
        const float *src = xc + (size_t)r * w;
        if (s == 2) {
            for (int f = 0; f < 2; f++) conv4j_stride2_row(row + f * len, src, w, f - pl, lo[f], hi[f], (int)len);
            continue;
        }
        /* masked loads, which read nothing outside the row (library calls per row took as long as the sums) */
        for (long long k = 0; k < len; k += 16) {
            long long at = k - pl;  /* x column of lane 0 */
            __mmask16 m = conv4j_lanes(w - at) & (__mmask16)~conv4j_lanes(-at);
            _mm512_store_ps(row + k, _mm512_maskz_loadu_ps(m, src + (m ? at : 0)));
        }
    }
    /* where kernel column q reads in a row: its phase and offset */
    const long long o0 = 0, o1 = (long long)(dw % s) * len + dw / s, o2 = (long long)(2 * dw % s) * len + 2 * dw / s;
    /* named accumulators: with an array, GCC stored all nine to the stack on every step */
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0;
    for (int i = 0; i < oh; i++) {
        const float *rp[3];
        for (int p = 0; p < 3; p++) {
            long long ih = (long long)i * s - pt + (long long)p * dh;
            rp[p] = ih >= 0 && ih < h ? pad + (size_t)ih * rowlen : zero;
        }
        const float *gr = gyc + (size_t)i * ow;
        /* plain loads for whole vectors (masked ones that cross a cache line are slower); past ow,
           x is not read either: a value there, outside every window, may be infinite */
#define CONV4J_DW_W3_STEP(LOAD)                                            \
        {                                                                  \
            __m512 g = LOAD(gr + j);                                       \
            const float *r0 = rp[0] + j, *r1 = rp[1] + j, *r2 = rp[2] + j; \
            a0 = _mm512_fmadd_ps(g, LOAD(r0 + o0), a0);                    \
            a1 = _mm512_fmadd_ps(g, LOAD(r0 + o1), a1);                    \
            a2 = _mm512_fmadd_ps(g, LOAD(r0 + o2), a2);                    \
            a3 = _mm512_fmadd_ps(g, LOAD(r1 + o0), a3);                    \
            a4 = _mm512_fmadd_ps(g, LOAD(r1 + o1), a4);                    \
            a5 = _mm512_fmadd_ps(g, LOAD(r1 + o2), a5);                    \
            a6 = _mm512_fmadd_ps(g, LOAD(r2 + o0), a6);                    \
            a7 = _mm512_fmadd_ps(g, LOAD(r2 + o1), a7);                    \
            a8 = _mm512_fmadd_ps(g, LOAD(r2 + o2), a8);                    \
        }
#define CONV4J_DW_W3_MASKED(p) _mm512_maskz_loadu_ps(m, (p))
        int j = 0;
        for (; j + 16 <= ow; j += 16) CONV4J_DW_W3_STEP(_mm512_loadu_ps)
        if (j < ow) {
            __mmask16 m = conv4j_lanes(ow - j);
            CONV4J_DW_W3_STEP(CONV4J_DW_W3_MASKED)
        }
#undef CONV4J_DW_W3_MASKED
#undef CONV4J_DW_W3_STEP
    }
    const __m512 acc[9] = {a0, a1, a2, a3, a4, a5, a6, a7, a8};
    for (int t = 0; t < 9; t++) out[t] += (double)_mm512_reduce_add_ps(acc[t]);
}
#pragma GCC diagnostic pop
#endif

/* Floats of one phase of a padded row of conv4j_dw_weights3 (whole vectors, so rows stay aligned). */
static inline long long conv4j_dw_weights3_len(int ow, int s, int dw) {
    return ((ow + 15LL) / 16 * 16 + 2LL * dw / s + 16 + 15) / 16 * 16;
}

/* Weight gradient of output channels [o0, o0+on), summed over the whole batch in a fixed order. */
CONV4J_MULTIVERSION
static inline void conv4j_dw_backward_weights(const float *x, const float *gy, float *gw, long long gwoff,
                                              int batch, int channels, int outChannels,
                                              int h, int w, int kh, int kw, int oh, int ow,
                                              int sh, int sw, int pt, int pl, int dh, int dw,
                                              int mult, int o0, int on, int accumulate) {
    gw += gwoff;
    const int fast = conv4j_has_avx512();
#ifdef CONV4J_AVX512
    /* short rows go 16 channels to a vector, except 3x3 stride 1, where the nine-tap pass below was faster */
    if (fast && oh > 0 && conv4j_dw16_suits(ow, sw, 1) && !(kh == 3 && kw == 3 && sh == 1 && sw == 1)
        && conv4j_dw16_backward_weights(x, gy, gw, batch, channels, outChannels, h, w, kh, kw, oh, ow, sh, sw, pt, pl,
                                        dh, dw, mult, o0, on, accumulate)) return;
#endif
    /* 3x3, stride 1 or 2, on AVX-512: all nine taps in one pass (conv4j_dw_weights3), on a padded
       copy of the input plane and a zero row */
    float *pad = NULL;
    const long long len = conv4j_dw_weights3_len(ow, sw, dw), rowlen = (long long)sw * len;
    if (fast && kh == 3 && kw == 3 && sh == sw && (sw == 1 || sw == 2) && oh > 0 && ow > 0 && len < (1LL << 24)
        && (h + 1LL) * rowlen <= (1LL << 24)) {  /* at most 64 MiB, whatever the dilation */
        pad = (float *)aligned_alloc(64, sizeof(float) * (size_t)((h + 1LL) * rowlen));
        if (pad) memset(pad + (size_t)h * rowlen, 0, sizeof(float) * (size_t)rowlen);
    }
    for (int oc = o0; oc < o0 + on; oc++) {
        float *gk = gw + (size_t)oc * kh * kw;
#ifdef CONV4J_AVX512
        if (pad) {
            /* Every value of gy meets every tap, padding included, so one that is not finite leaves
               all nine sums non-finite: only then does the channel need the definition's path. That
               is found from the sums, so gy is read once (checking it first cost a third of the time). */
            double sums[9] = {0};
            for (int n = 0; n < batch; n++) {
                conv4j_dw_weights3(x + ((size_t)n * channels + oc / mult) * h * w, gy + ((size_t)n * outChannels + oc) * oh * ow,
                                   pad, pad + (size_t)h * rowlen, len, h, w, oh, ow, sw, pt, pl, dh, dw, sums);
            }
            int done = 1;
            for (int t = 0; t < 9; t++) done &= sums[t] - sums[t] == 0.;
            if (done) {
                for (int t = 0; t < 9; t++) gk[t] = (float)(accumulate ? gk[t] + sums[t] : sums[t]);
                continue;
            }
        }
#endif
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
                /* 16 running sums per image, each in a fixed order, so the loop vectorizes without
                   reassociating anything (a single float sum ran at 2.5 GFLOP/s on MobileNet's 3x3 layer) */
                float lane[16] = {0};
                double s = 0;
                for (int n = 0; n < batch; n++) {
                    const float *xc = x + ((size_t)n * channels + oc / mult) * h * w;
                    const float *gyc = gy + ((size_t)n * outChannels + oc) * oh * ow;
#ifdef CONV4J_AVX512
                    if (sw == 1 && fast) {
                        s += conv4j_dw_image_dot(xc, gyc, h, w, oh, ow, sh, p * dh - pt, iw0, lo, hi);
                        continue;
                    }
#endif
                    for (int i = 0; i < oh; i++) {
                        int ih = i * sh - pt + p * dh;
                        if ((unsigned)ih >= (unsigned)h) continue;
                        const float *src = xc + (size_t)ih * w + iw0, *gr = gyc + (size_t)i * ow;
                        int j = lo;
                        if (sw == 1) {
                            for (; j + 16 <= hi; j += 16) {
                                for (int l = 0; l < 16; l++) lane[l] += gr[j + l] * src[j + l];
                            }
                        }
                        for (int l = 0; j < hi; j++, l = (l + 1) & 15) lane[l] += gr[j] * src[(size_t)j * sw];
                    }
                    for (int l = 0; l < 16; l++) {  /* image by image into double, as the other passes */
                        s += lane[l];
                        lane[l] = 0.f;
                    }
                }
                gk[p * kw + q] = (float)(accumulate ? gk[p * kw + q] + s : s);
            }
        }
    }
    free(pad);
}

#endif
