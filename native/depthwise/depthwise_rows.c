/*
 * The depthwise row kernels (depthwise.h), for any x86-64 CPU: loops along output rows, so the
 * innermost loop is a plain vector loop over one row without bounds tests. The plane kernel is
 * compiled for each ISA level (GCC target_clones), so its dispatch happens once per channel.
 */
#include <stdlib.h>
#include "depthwise/depthwise.h"

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

/* The bands: four output rows per band, unless the rows they read are far apart (a stride or
   dilation far larger than the kernel): then one row at a time, copying only the rows it reads. */
static void conv4j_dw_bands_plan(conv4j_dw_layout *L, int kh, int oh, int sh, int dh) {
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
}

/* The phases the kernel columns read (at most min(sw, kw)), each kernel column's offset in a scratch
   row, and the columns of each phase inside the image. 0 if the rows would not fit in memory. */
static int conv4j_dw_phases_plan(conv4j_dw_setup *S, int w, int kw, int ow, int sw, int pl, int dw) {
    conv4j_dw_layout *L = &S->L;
    int *phase = S->ints, *fq = S->ints + kw, *lo = S->ints + 2 * kw, *hi = S->ints + 3 * kw;
    L->nph = 0;
    long long kmax = 0;
    for (int q = 0; q < kw; q++) {
        int r = (int)((long long)q * dw % sw), f = 0;
        while (f < L->nph && phase[f] != r) f++;
        if (f == L->nph) phase[L->nph++] = r;
        fq[q] = f;
        if ((long long)q * dw / sw > kmax) kmax = (long long)q * dw / sw;
    }
    /* room for the vectors that pass ow, reading zeros */
    L->len = ((ow + 15LL) / 16 * 16 + kmax + 15) / 16 * 16;
    for (int q = 0; q < kw; q++) S->off[q] = fq[q] * L->len + (long long)q * dw / sw;
    if (L->len >= (1LL << 30)) return 0; /* the definition: such rows would not fit in memory */
    for (int f = 0; f < L->nph; f++) conv4j_valid_cols(phase[f] - pl, sw, w, (int)L->len, &lo[f], &hi[f]);
    L->phase = phase; L->lo = lo; L->hi = hi; L->off = S->off; L->rowp = S->rowp;
    return 1;
}

static void conv4j_dw_setup_init(conv4j_dw_setup *S, int w, int kh, int kw, int oh, int ow,
                                 int sh, int sw, int pl, int dh, int dw) {
    conv4j_dw_layout *L = &S->L;
    conv4j_dw_bands_plan(L, kh, oh, sh, dh);
    /* small arrays: per kernel column, and the band's row pointers */
    S->ints = kw <= 16 ? S->stack_ints : (int *)malloc(sizeof(int) * 4 * (size_t)kw);
    S->off = kw <= 16 ? S->stack_off : (long long *)malloc(sizeof(long long) * (size_t)kw);
    S->rowp = L->nb <= 64 ? S->stack_rowp : (float **)malloc(sizeof(float *) * (size_t)L->nb);
    S->heap = NULL;
    int ok = S->ints && S->off && S->rowp && conv4j_dw_phases_plan(S, w, kw, ow, sw, pl, dw);
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

static void conv4j_dw_setup_free(conv4j_dw_setup *S) {
    free(S->heap);
    if (S->ints != S->stack_ints) free(S->ints);
    if (S->off != S->stack_off) free(S->off);
    if (S->rowp != S->stack_rowp) free(S->rowp);
}

/* Output channels [first, first + count) of one image; channels whose weights are not all finite by
   the definition. */
void conv4j_dw_forward_rows(const conv4j_dw_params *p, const float *x, const float *wt, const float *bias, float *y) {
    const conv4j_conv_shape *s = &p->s;
    const int taps = s->kh * s->kw;
    conv4j_dw_setup S;
    conv4j_dw_setup_init(&S, s->w, s->kh, s->kw, s->oh, s->ow, s->sh, s->sw, s->pl, s->dh, s->dw);
    for (int oc = p->first; oc < p->first + p->count; oc++) {
        const float *xc = x + (size_t)(oc / s->mult) * s->h * s->w;
        const float *wk = wt + (size_t)oc * taps;
        float *yc = y + (size_t)oc * s->oh * s->ow;
        const float init = bias ? bias[oc] : 0.f;
        if (!S.ok || !conv4j_all_finite(wk, (size_t)taps)) {
            conv4j_dw_definition(s, xc, wk, init, yc, NULL, NULL, 0, taps);
            continue;
        }
        conv4j_dw_plane(&S.L, xc, wk, init, 0, yc, s->h, s->w, s->kh, s->kw, s->oh, s->ow, s->sh, s->sw, s->pt, s->pl);
    }
    conv4j_dw_setup_free(&S);
}

/* Input gradient of stride 1 of input channels [first, first + count) of one image: the forward row
   kernels over gy with the kernels turned by 180 degrees, padded by (k-1)·d - p. Channels whose
   weights are not all finite go tap by tap: that padding would meet them as 0 · Inf, where the
   definition has no product at all. */
void conv4j_dw_data_turned(const conv4j_dw_params *p, const float *gy, const float *wt, float *gx) {
    const conv4j_conv_shape *s = &p->s;
    const int h = s->h, w = s->w, kh = s->kh, kw = s->kw, oh = s->oh, ow = s->ow, taps = kh * kw;
    const int ptt = (kh - 1) * s->dh - s->pt, plt = (kw - 1) * s->dw - s->pl;
    conv4j_dw_setup S;
    conv4j_dw_setup_init(&S, ow, kh, kw, h, w, 1, 1, plt, s->dh, s->dw);
    float stack_k[64], *turned = taps <= 64 ? stack_k : (float *)malloc(sizeof(float) * (size_t)taps);
    for (int c = p->first; c < p->first + p->count; c++) {
        float *gxc = gx + (size_t)c * h * w;
        int add = p->accumulate;
        for (int oc = c * s->mult; oc < (c + 1) * s->mult; oc++, add = 1) {
            const float *wk = wt + (size_t)oc * taps;
            const float *gyc = gy + (size_t)oc * oh * ow;
            if (S.ok && turned && conv4j_all_finite(wk, (size_t)taps)) {
                for (int t = 0; t < taps; t++) turned[t] = wk[taps - 1 - t];
                conv4j_dw_plane(&S.L, gyc, turned, 0.f, add, gxc, oh, ow, kh, kw, h, w, 1, 1, ptt, plt);
            } else {
                conv4j_dw_data_taps_channel(s, gyc, wk, gxc, add);
            }
        }
    }
    conv4j_dw_setup_free(&S);
    if (turned != stack_k) free(turned);
}
