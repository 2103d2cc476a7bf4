/*
 * The depthwise row kernels' loop over one plane (depthwise_rows.c), written once for every vector
 * width. A file including it defines first:
 *   CONV4J_DW_PLANE       the function's name (a conv4j_dw_plane_fn)
 *   CONV4J_DW_PLANE_ATTR  its attributes (the ISA it is compiled for)
 *   DW_L                  floats to a vector: 16 where the CPU has 32 vector registers, 8 on AVX2's 16,
 *                         where four output rows of two 16-float vectors (16 ymm accumulators) spilled
 *                         and ran at a fifth of the speed
 *   DW_V                  vectors of each output row a block holds, 1 or 2
 */
#include "depthwise/depthwise.h"

typedef float conv4j_dw_vec __attribute__((vector_size(4 * DW_L), aligned(4), may_alias));
typedef int conv4j_dw_ivec __attribute__((vector_size(4 * DW_L)));
/* acc + w·x, one rounding where the CPU has FMA: explicitly on AVX2, so that the sums are those of
   the kernels written with intrinsics (the 8-channel and any-layout forward passes) whatever the
   optimization level; the 16-float clones leave it to gcc, which fuses them at -O2 and above. */
#if DW_L == 8 && defined(__FMA__)
#define DW_FMA(w, x, acc) ((conv4j_dw_vec)_mm256_fmadd_ps(_mm256_set1_ps(w), (__m256)(x), (__m256)(acc)))
#else
#define DW_FMA(w, x, acc) ((acc) + (w) * (x))
#endif
#if DW_L == 16
#define CONV4J_DW_EVENS ((conv4j_dw_ivec){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30})
#else
#define CONV4J_DW_EVENS ((conv4j_dw_ivec){0, 2, 4, 6, 8, 10, 12, 14})
#endif


/* The n columns of an output row an accumulator starts from: init, or with add what y holds. */
__attribute__((always_inline)) static inline void conv4j_dw_start(conv4j_dw_vec *a, const float *yr, float init, int add, int n) {
    *a = (conv4j_dw_vec){0};
    if (!add) *a += init;
    else if (n == DW_L) *a = *(const conv4j_dw_vec *)yr;
    else memcpy(a, yr, sizeof(float) * (size_t)n);
}

/* Stores n columns of one output row from an accumulator; all DW_L when they fit before the end of
   the plane (room floats), the columns past n being overwritten later (see conv4j_dw_band). */
__attribute__((always_inline)) static inline void conv4j_dw_store(float *yr, conv4j_dw_vec a, int n, long long room) {
    if (n == DW_L || room >= DW_L) *(conv4j_dw_vec *)yr = a;
    else memcpy(yr, &a, sizeof(float) * (size_t)n);
}

/* Columns [j, j + DW_L*V) of the R output rows of a band, 3x3 kernel, a and c constants: R*V
   accumulators (enough independent chains to hide the multiply-add latency), and each input slice
   is loaded once for all the output rows that read it. The last vector stores n columns. */
__attribute__((always_inline)) static inline void conv4j_dw_block3(float *const *rowp, const long long *off,
                                                                   const float *wk, float init, int add, float *y, int ow,
                                                                   long long room, int j, int n, int R, int V, int a, int c) {
    conv4j_dw_vec acc[4][2];
    for (int t = 0; t < R; t++)
        for (int v = 0; v < V; v++) conv4j_dw_start(&acc[t][v], y + (long long)t * ow + j + DW_L * v, init, add, v == V - 1 ? n : DW_L);
#pragma GCC unroll 16
    for (int r = 0; r < (R - 1) * a + 2 * c + 1; r++)
#pragma GCC unroll 3
        for (int q = 0; q < 3; q++)
#pragma GCC unroll 2
            for (int v = 0; v < V; v++) {
                conv4j_dw_vec s = *(const conv4j_dw_vec *)(rowp[r] + off[q] + j + DW_L * v);
#pragma GCC unroll 4
                for (int t = 0; t < R; t++) {
                    int d = r - t * a;
                    if (d >= 0 && d % c == 0 && d / c < 3) acc[t][v] = DW_FMA(wk[d / c * 3 + q], s, acc[t][v]);
                }
            }
    for (int t = 0; t < R; t++)
        for (int v = 0; v < V; v++) {
            long long at = (long long)t * ow + j + DW_L * v;
            conv4j_dw_store(y + at, acc[t][v], v == V - 1 ? n : DW_L, room - at);
        }
}

/* The same for any kernel, tap by tap. */
__attribute__((always_inline)) static inline void conv4j_dw_block(float *const *rowp, const long long *off,
                                                                  const float *wk, float init, int add, float *y, int ow,
                                                                  long long room, int j, int n, int R, int V, int kh, int kw, int a, int c) {
    conv4j_dw_vec acc[4][2];
    for (int t = 0; t < R; t++)
        for (int v = 0; v < V; v++) conv4j_dw_start(&acc[t][v], y + (long long)t * ow + j + DW_L * v, init, add, v == V - 1 ? n : DW_L);
    for (int p = 0; p < kh; p++)
        for (int q = 0; q < kw; q++) {
            const float wv = wk[p * kw + q];
            for (int t = 0; t < R; t++)
                for (int v = 0; v < V; v++)
                    acc[t][v] = DW_FMA(wv, *(const conv4j_dw_vec *)(rowp[t * a + p * c] + off[q] + j + DW_L * v), acc[t][v]);
        }
    for (int t = 0; t < R; t++)
        for (int v = 0; v < V; v++) {
            long long at = (long long)t * ow + j + DW_L * v;
            conv4j_dw_store(y + at, acc[t][v], v == V - 1 ? n : DW_L, room - at);
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
    int jt = ow % DW_L ? ow / DW_L * DW_L : ow;
    if (jt < ow) {
        if (three) conv4j_dw_block3(rowp, off, wk, init, add, y, ow, room, jt, ow - jt, R, 1, a, c);
        else conv4j_dw_block(rowp, off, wk, init, add, y, ow, room, jt, ow - jt, R, 1, kh, kw, a, c);
    }
    int j = 0;
    for (; DW_V == 2 && j + 2 * DW_L <= jt; j += 2 * DW_L) {
        if (three) conv4j_dw_block3(rowp, off, wk, init, add, y, ow, room, j, DW_L, R, 2, a, c);
        else conv4j_dw_block(rowp, off, wk, init, add, y, ow, room, j, DW_L, R, 2, kh, kw, a, c);
    }
    for (; j < jt; j += DW_L) {
        if (three) conv4j_dw_block3(rowp, off, wk, init, add, y, ow, room, j, DW_L, R, 1, a, c);
        else conv4j_dw_block(rowp, off, wk, init, add, y, ow, room, j, DW_L, R, 1, kh, kw, a, c);
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

/* dst[0, DW_L) = src[0], src[2], ... src[2 * DW_L - 2] */
__attribute__((always_inline)) static inline void conv4j_dw_evens(float *dst, const float *src) {
#if DW_L == 8 && defined(__AVX2__)
    __m256 e = _mm256_shuffle_ps(_mm256_loadu_ps(src), _mm256_loadu_ps(src + 8), 0x88);
    _mm256_storeu_ps(dst, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
#else
    conv4j_dw_vec lo = *(const conv4j_dw_vec *)src, up = *(const conv4j_dw_vec *)(src + DW_L);
    *(conv4j_dw_vec *)dst = __builtin_shuffle(lo, up, CONV4J_DW_EVENS);
#endif
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
            if (hi - k >= DW_L) {  /* vectors, the last one overlapping the one before */
                for (; k + DW_L < hi; k += DW_L) *(conv4j_dw_vec *)(dst + k) = *(const conv4j_dw_vec *)(src + k);
                k = hi - DW_L;
                *(conv4j_dw_vec *)(dst + k) = *(const conv4j_dw_vec *)(src + k);
            } else {
                for (; k < hi; k++) dst[k] = src[k];
            }
        } else if (sw == 2) {
            /* the even columns of two vectors at a time, the last block overlapping the one before
               (scalar copies took most of a stride-2 layer's time): the last element a block reads,
               src[2k + 2*DW_L - 1], stays in the row while k + DW_L < hi, so the last column is copied alone */
            if (hi - k > DW_L) {
                for (; k + DW_L < hi; k += DW_L) conv4j_dw_evens(dst + k, src + 2 * k);
                k = hi - DW_L - 1;
                conv4j_dw_evens(dst + k, src + 2 * k);
                k = hi - 1;
            }
            for (; k < hi; k++) dst[k] = src[2 * k];
        } else {
            for (; k < hi; k++) dst[k] = src[k * sw];
        }
    }
}

/* All output rows of one channel, band by band. One function for the whole plane, so that the CPU
   dispatch happens once per channel. */
CONV4J_DW_PLANE_ATTR
void CONV4J_DW_PLANE(const conv4j_dw_layout *L, const float *xc, const float *wk, float init, int add, float *yc,
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

