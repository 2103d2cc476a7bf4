/*
 * conv4j's own single-threaded sgemm for CPUs with AVX-512 (see gemm.h for where it runs).
 *
 * The layout is the usual one of BLIS and OpenBLAS, for row-major C (m x n) = A (m x k) * B (k x n):
 * A is copied into panels of MR rows and B into panels of 16·NV columns, both in the order the
 * micro-kernel reads them, KC values of k at a time; the micro-kernel keeps an MR x 16·NV block of C
 * in 24 registers and per k broadcasts MR values of A against NV vectors of B. An A panel (8-12 KB)
 * stays in L1 while B panels stream from L2. Edges are zero-padded in the panels and masked when C
 * is stored, so nothing outside C is touched. Where B is a column matrix (im2col.h), the panels are
 * gathered straight from the image, so the matrix is never written out and read back.
 */
#include <stdint.h>
#include "common/conv4j_avx512.h"
#include "gemm/gemm.h"

/* GCC's shuffle intrinsics start from an "undefined" vector, which it may report as uninitialized */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"


/* columns [j0, j0+nr) and k in [p0, p0+kc) of B (or of Bᵀ stored n x k) into bp[k*NR + c], zero-padded to NR columns */
static void conv4j_gemm_pack_b(const float *b, int ldb, int tb, int j0, int nr, int p0, int kc, float *bp, int NV) {
    const int NR = 16 * NV;
    if (!tb) {
        __mmask16 m[4];
        for (int v = 0; v < NV; v++) m[v] = conv4j_lanes(nr - 16 * v);
        for (int k = 0; k < kc; k++) {
            const float *src = b + (size_t)(p0 + k) * ldb + j0;
            for (int v = 0; v < NV; v++) _mm512_store_ps(bp + k * NR + 16 * v, _mm512_maskz_loadu_ps(m[v], src + 16 * v));
        }
        return;
    }
    /* Bᵀ: rows of 16 k values from 16 columns, transposed in registers */
    for (int v = 0; v < NV; v++) {
        for (int k0 = 0; k0 < kc; k0 += 16) {
            int kn = kc - k0 < 16 ? kc - k0 : 16;
            __mmask16 km = conv4j_lanes(kn);
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                int col = 16 * v + i;
                r[i] = col < nr ? _mm512_maskz_loadu_ps(km, b + (size_t)(j0 + col) * ldb + p0 + k0) : _mm512_setzero_ps();
            }
            conv4j_transpose16(r);
            for (int i = 0; i < kn; i++) _mm512_store_ps(bp + (k0 + i) * NR + 16 * v, r[i]);
        }
    }
}

/* dst[l] = src[iw0 + l*sw] for l < len where that input column lies in [0, w), else 0; src is an
   input row, or null for a row of padding. Lanes masked off are never read. */
static inline void conv4j_gather_run(float *dst, const float *src, long long iw0, int sw, int w, int len) {
    if (!src) {
        for (int t = 0; t < len; t += 16) _mm512_mask_storeu_ps(dst + t, conv4j_lanes(len - t), _mm512_setzero_ps());
    } else if (sw == 1) {
        for (int t = 0; t < len; t += 16) {
            long long e = iw0 + t;
            __mmask16 in = conv4j_lanes(len - t) & conv4j_lanes(w - e) & (__mmask16)~conv4j_lanes(-e);
            _mm512_mask_storeu_ps(dst + t, conv4j_lanes(len - t), _mm512_maskz_loadu_ps(in, src + e));
        }
    } else if (sw == 2) {
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        for (int t = 0; t < len; t += 16) {
            long long e = iw0 + 2LL * t, end = iw0 + 2LL * len; /* input columns [e, end) of this run */
            __mmask16 in0 = conv4j_lanes((w < end ? w : end) - e) & (__mmask16)~conv4j_lanes(-e);
            __mmask16 in1 = conv4j_lanes((w < end ? w : end) - e - 16) & (__mmask16)~conv4j_lanes(-e - 16);
            __m512 a = _mm512_maskz_loadu_ps(in0, src + e), b = _mm512_maskz_loadu_ps(in1, src + e + 16);
            _mm512_mask_storeu_ps(dst + t, conv4j_lanes(len - t), _mm512_permutex2var_ps(a, even, b));
        }
    } else {
        for (int l = 0; l < len; l++) {
            long long iw = iw0 + (long long)l * sw;
            dst[l] = iw >= 0 && iw < w ? src[iw] : 0.f;
        }
    }
}

/* The next row of the column matrix: the next kernel column, row, then channel. */
static inline void conv4j_next_tap(const conv4j_columns *s, int *ch, int *kp, int *q) {
    if (++*q == s->kw) {
        *q = 0;
        if (++*kp == s->kh) {
            *kp = 0;
            ++*ch;
        }
    }
}

/* Runs a panel may have for conv4j_gemm_pack_columns to work out the masks of its loads once per
   panel rather than once per matrix row. */
#define CONV4J_PACK_RUNS 8

/* The panel's columns [j0, j0+nr) fall into runs along output rows: run i fills panel columns
   [at, at+len) from output row `row`, output columns from `col`. Returns the number of runs. */
typedef struct {
    int at[64], len[64], row[64], col[64];
} conv4j_pack_runs;

static int conv4j_pack_runs_init(const conv4j_columns *s, int j0, int nr, conv4j_pack_runs *u) {
    int runs = 0;
    for (int c = 0; c < nr;) {
        int pix = j0 + c, r = pix / s->ow, j = pix - r * s->ow, n = s->ow - j < nr - c ? s->ow - j : nr - c;
        u->at[runs] = c; u->len[runs] = n; u->row[runs] = s->oh0 + r; u->col[runs] = j; runs++;
        c += n;
    }
    return runs;
}

/* Per run and kernel column, the first input column and the masks of each 16 values' loads; per
   run, the first input row and the stores' masks (column strides 1 and 2). */
typedef struct {
    long long first[CONV4J_PACK_RUNS][CONV4J_PACK_KW], top[CONV4J_PACK_RUNS];
    __mmask16 in0[CONV4J_PACK_RUNS][CONV4J_PACK_KW][4], in1[CONV4J_PACK_RUNS][CONV4J_PACK_KW][4], out[CONV4J_PACK_RUNS][4];
} conv4j_pack_masks;

static void conv4j_pack_masks_init(const conv4j_columns *s, const conv4j_pack_runs *u, int runs, conv4j_pack_masks *k) {
    const int sw = s->sw;
    for (int i = 0; i < runs; i++) {
        k->top[i] = (long long)u->row[i] * s->sh - s->pt;
        for (int t = 0; 16 * t < u->len[i]; t++) k->out[i][t] = conv4j_lanes(u->len[i] - 16 * t);
        for (int kq = 0; kq < s->kw; kq++) {
            long long f = (long long)u->col[i] * sw - s->pl + (long long)kq * s->dw, end = f + (long long)sw * u->len[i];
            if (end > s->w) end = s->w;
            k->first[i][kq] = f;
            for (int t = 0; 16 * t < u->len[i]; t++) {
                long long e = f + 16LL * sw * t; /* input column of the chunk's first value */
                k->in0[i][kq][t] = conv4j_lanes(end - e) & (__mmask16)~conv4j_lanes(-e);
                k->in1[i][kq][t] = conv4j_lanes(end - e - 16) & (__mmask16)~conv4j_lanes(-e - 16);
            }
        }
    }
}

/* One row of a panel (matrix row of channel ch, kernel row kp, column q) with the masks of
   conv4j_pack_masks: a few instructions per 16 values. */
static inline void conv4j_pack_masked_row(const conv4j_columns *s, const conv4j_pack_runs *u, int runs,
                                          const conv4j_pack_masks *k, int ch, int kp, int q, float *dst) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const float *xc = s->x + (size_t)ch * s->h * s->w;
    for (int i = 0; i < runs; i++) {
        long long ih = k->top[i] + (long long)kp * s->dh;
        float *d = dst + u->at[i];
        if (ih < 0 || ih >= s->h) {
            for (int t = 0; 16 * t < u->len[i]; t++) _mm512_mask_storeu_ps(d + 16 * t, k->out[i][t], _mm512_setzero_ps());
            continue;
        }
        const float *src = xc + (size_t)ih * s->w + k->first[i][q];
        if (s->sw == 1) {
            for (int t = 0; 16 * t < u->len[i]; t++)
                _mm512_mask_storeu_ps(d + 16 * t, k->out[i][t], _mm512_maskz_loadu_ps(k->in0[i][q][t], src + 16 * t));
        } else {
            for (int t = 0; 16 * t < u->len[i]; t++) {
                __m512 a = _mm512_maskz_loadu_ps(k->in0[i][q][t], src + 32 * t);
                __m512 b = _mm512_maskz_loadu_ps(k->in1[i][q][t], src + 32 * t + 16);
                _mm512_mask_storeu_ps(d + 16 * t, k->out[i][t], _mm512_permutex2var_ps(a, even, b));
            }
        }
    }
}

/* Columns [j0, j0+nr) and rows [p0, p0+kc) of the column matrix into bp[k*NR + c], zero-padded to
   NR columns, gathered from the image: each run of the panel's columns is read from one input row
   per matrix row. With column stride 1 or 2, few runs and a kernel at most CONV4J_PACK_KW wide, the
   loads' masks are worked out once for the panel (they depend only on the run and the kernel
   column). */
static void conv4j_gemm_pack_columns(const conv4j_columns *s, int j0, int nr, int p0, int kc, float *bp, int NV) {
    const int NR = 16 * NV, khkw = s->kh * s->kw, sw = s->sw;
    conv4j_pack_runs u;
    const int runs = conv4j_pack_runs_init(s, j0, nr, &u);
    const int masked = (sw == 1 || sw == 2) && runs <= CONV4J_PACK_RUNS && s->kw <= CONV4J_PACK_KW;
    conv4j_pack_masks k;
    if (masked) conv4j_pack_masks_init(s, &u, runs, &k);
    int ch = p0 / khkw, kp = p0 % khkw / s->kw, q = p0 % s->kw;
    for (int r = 0; r < kc; r++, conv4j_next_tap(s, &ch, &kp, &q)) {
        float *dst = bp + (size_t)r * NR;
        if (masked) {
            conv4j_pack_masked_row(s, &u, runs, &k, ch, kp, q, dst);
        } else {
            const float *xc = s->x + (size_t)ch * s->h * s->w;
            for (int i = 0; i < runs; i++) {
                long long ih = (long long)u.row[i] * s->sh - s->pt + (long long)kp * s->dh;
                const float *src = ih >= 0 && ih < s->h ? xc + (size_t)ih * s->w : 0;
                conv4j_gather_run(dst + u.at[i], src, (long long)u.col[i] * sw - s->pl + (long long)q * s->dw, sw, s->w, u.len[i]);
            }
        }
        for (int c = nr; c < NR; c += 16) _mm512_mask_storeu_ps(dst + c, conv4j_lanes(NR - c), _mm512_setzero_ps());
    }
}

/* The same for a transposed B, the column matrix's transpose (the weight gradient's gy · colᵀ):
   bp[k*NR + c] = column-matrix entry (j0 + c, p0 + k). Sixteen matrix rows at a time are read as
   16 pixels each, one masked load (two and a permute at stride 2) per run of pixels along an
   output row, and turned in registers. Column stride 1 or 2 and kernels up to CONV4J_PACK_KW only
   (see conv4j_sgemm_columns_avx512). The loads' masks and offsets depend only on the run and the
   kernel column (the row offsets on the run and the kernel row), so they are worked out once per 16
   pixels for all the panel's rows, in local arrays: filled through a struct, gcc's AVX-512 code for
   them was slower. */
static void conv4j_gemm_pack_columns_t(const conv4j_columns *s, int j0, int nr, int p0, int kc, float *bp, int NV) {
    const int NR = 16 * NV, khkw = s->kh * s->kw, sw = s->sw;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    /* each row of the panel: its channel's plane, kernel row and kernel column (rows past nr: none) */
    const float *plane[64];
    int kp[64], kq[64];
    for (int i = 0; i < NR; i++) {
        int jr = j0 + i, tap = jr % khkw;
        plane[i] = i < nr ? s->x + (size_t)(jr / khkw) * s->h * s->w : 0;
        kp[i] = tap / s->kw;
        kq[i] = tap % s->kw;
    }
    for (int k0 = 0; k0 < kc; k0 += 16) {
        int kn = kc - k0 < 16 ? kc - k0 : 16, runs = 0;
        /* per run u of pixels along an output row: the lanes it fills; per kernel row, the offset of
           its input row (-1: padding); per kernel column, the offset of the input column of lane 0
           and the masks of the loads */
        __mmask16 lanes[16], m0[16][CONV4J_PACK_KW], m1[16][CONV4J_PACK_KW];
        long long rowoff[16][CONV4J_PACK_KW], coloff[16][CONV4J_PACK_KW];
        for (int c = 0; c < kn; runs++) {
            int pix = p0 + k0 + c, r = pix / s->ow, j = pix - r * s->ow, n = s->ow - j < kn - c ? s->ow - j : kn - c;
            lanes[runs] = conv4j_lanes(c + n) & (__mmask16)~conv4j_lanes(c);
            for (int p = 0; p < s->kh; p++) {
                long long ih = (long long)(s->oh0 + r) * s->sh - s->pt + (long long)p * s->dh;
                rowoff[runs][p] = ih >= 0 && ih < s->h ? ih * s->w : -1;
            }
            for (int q = 0; q < s->kw; q++) {
                long long b = (long long)j * sw - s->pl + (long long)q * s->dw - (long long)sw * c; /* lane l reads column b + l*sw */
                coloff[runs][q] = b;
                if (sw == 1) {
                    m0[runs][q] = lanes[runs] & conv4j_lanes(s->w - b) & (__mmask16)~conv4j_lanes(-b);
                } else {
                    long long lo = 2LL * c > -b ? 2LL * c : -b, hi = 2LL * (c + n) < s->w - b ? 2LL * (c + n) : s->w - b;
                    m0[runs][q] = conv4j_lanes(hi) & (__mmask16)~conv4j_lanes(lo);
                    m1[runs][q] = conv4j_lanes(hi - 16) & (__mmask16)~conv4j_lanes(lo - 16);
                }
            }
            c += n;
        }
        for (int v = 0; v < NV; v++) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                const int e = 16 * v + i, p = kp[e], q = kq[e];
                __m512 row = _mm512_setzero_ps();
                for (int u = 0; u < runs && plane[e]; u++) {
                    if (rowoff[u][p] < 0) continue;
                    const float *src = plane[e] + rowoff[u][p] + coloff[u][q];
                    if (sw == 1) {
                        row = _mm512_mask_loadu_ps(row, m0[u][q], src);
                    } else {
                        __m512 a0 = _mm512_maskz_loadu_ps(m0[u][q], src), a1 = _mm512_maskz_loadu_ps(m1[u][q], src + 16);
                        row = _mm512_mask_mov_ps(row, lanes[u], _mm512_permutex2var_ps(a0, even, a1));
                    }
                }
                r[i] = row;
            }
            conv4j_transpose16(r);
            for (int l = 0; l < kn; l++) _mm512_store_ps(bp + (size_t)(k0 + l) * NR + 16 * v, r[l]);
        }
    }
}

/* C block (m <= MR rows, n <= 16·NV columns, row stride ldc) = beta * C + panel product over kc.
   The transposed variant is the same product for Cᵀ: its rows are columns of C and its vectors run
   down C's columns, so each 16-row slice is turned in registers before it is stored. */
#define CONV4J_GEMM_KERNEL(name, MR, NV, TRANSPOSED)                                                          \
static void name(int kc, const float *ap, const float *bp, float *c, int ldc, int m, int n, float beta) {    \
    __m512 acc[MR][NV];                                                                                       \
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                                                   \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();                 \
    }                                                                                                         \
    for (int k = 0; k < kc; k++) {                                                                            \
        __m512 bv[NV];                                                                                        \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) bv[v] = _mm512_load_ps(bp + 16 * v);             \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                                               \
            __m512 av = _mm512_set1_ps(ap[r]);                                                                \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]); \
        }                                                                                                     \
        ap += MR;                                                                                             \
        bp += 16 * NV;                                                                                        \
    }                                                                                                         \
    __m512 bb = _mm512_set1_ps(beta);                                                                         \
    if (!(TRANSPOSED)) {                                                                                      \
        for (int r = 0; r < m; r++) {                                                                         \
            float *row = c + (size_t)r * ldc;                                                                 \
            for (int v = 0; v < NV; v++) {                                                                    \
                __mmask16 mk = conv4j_lanes(n - 16 * v);                                                      \
                __m512 t = acc[r][v];                                                                         \
                if (beta != 0.f) t = _mm512_fmadd_ps(bb, _mm512_maskz_loadu_ps(mk, row + 16 * v), t);         \
                _mm512_mask_storeu_ps(row + 16 * v, mk, t);                                                   \
            }                                                                                                 \
        }                                                                                                     \
        return;                                                                                               \
    }                                                                                                         \
    __mmask16 mk = conv4j_lanes(m);                                                                           \
    for (int v = 0; v < NV && 16 * v < n; v++) {                                                              \
        __m512 t[16];                                                                                         \
        for (int r = 0; r < MR; r++) t[r] = acc[r][v];                                                        \
        for (int r = MR; r < 16; r++) t[r] = _mm512_setzero_ps();                                             \
        conv4j_transpose16(t);                                                                                \
        for (int l = 0; l < 16 && 16 * v + l < n; l++) {                                                      \
            float *row = c + (size_t)(16 * v + l) * ldc;                                                      \
            __m512 o = t[l];                                                                                  \
            if (beta != 0.f) o = _mm512_fmadd_ps(bb, _mm512_maskz_loadu_ps(mk, row), o);                      \
            _mm512_mask_storeu_ps(row, mk, o);                                                                \
        }                                                                                                     \
    }                                                                                                         \
}

CONV4J_GEMM_KERNEL(conv4j_gemm_kernel_8x48, 8, 3, 0)
CONV4J_GEMM_KERNEL(conv4j_gemm_kernel_8x32, 8, 2, 0)
CONV4J_GEMM_KERNEL(conv4j_gemm_kernel_8x16, 8, 1, 0)
CONV4J_GEMM_KERNEL(conv4j_gemm_kernel_12x32t, 12, 2, 1)

typedef void (*conv4j_gemm_kernel_fn)(int, const float *, const float *, float *, int, int, int, float);

/* vectors of the kernel that runs a panel of nr columns: the fewest that cover it, if kernel has that width */
static inline int conv4j_gemm_vectors(const conv4j_gemm_kernel_fn *kernel, int nr, int NV) {
    int v = (nr + 15) / 16;
    return v < NV && kernel[v - 1] ? v : NV;
}

/* The operands of a blocked product, and its micro-kernels kernel[v] of MR rows and v + 1 vectors,
   which store Cᵀ when `transposed` is set (c is then the transpose of the product's C). */
typedef struct {
    int ta, tb, m, n, k;
    const float *a, *b;
    int lda, ldb;
    const conv4j_columns *columns; /* when not null, B is this column matrix */
    float beta;
    float *c;
    int ldc;
    int MR, NV, transposed;
    const conv4j_gemm_kernel_fn *kernel;
} conv4j_gemm_blocks;

/* Columns [j0, j0 + nb) of B, rows [p0, p0 + kc), into panels of NR columns at bp. */
__attribute__((always_inline)) static inline void conv4j_gemm_pack_panels(const conv4j_gemm_blocks *g, int j0, int nb, int p0, int kc, float *bp) {
    const int NR = 16 * g->NV;
    for (int jp = 0; jp < (nb + NR - 1) / NR; jp++) {
        int c0 = j0 + jp * NR, nr = g->n - c0 < NR ? g->n - c0 : NR;
        int nv = conv4j_gemm_vectors(g->kernel, nr, g->NV);
        float *dst = bp + (size_t)jp * NR * kc;
        if (g->columns && g->tb) {
            conv4j_gemm_pack_columns_t(g->columns, c0, nr, p0, kc, dst, nv);
        } else if (g->columns) {
            conv4j_gemm_pack_columns(g->columns, c0, nr, p0, kc, dst, nv);
        } else {
            conv4j_gemm_pack_b(g->b, g->ldb, g->tb, c0, nr, p0, kc, dst, nv);
        }
    }
}

/* The blocked product. Panels are NV vectors wide; a last, narrower one runs on the narrower kernel
   where there is one, rather than on padding. pack holds CONV4J_GEMM_PACK_FLOATS floats. Inlined
   into each caller, whose blocks are constants there: its kernels are then called directly. */
__attribute__((always_inline)) static inline void conv4j_gemm_blocked(const conv4j_gemm_blocks *g, float *pack) {
    const int MR = g->MR, NR = 16 * g->NV, KC = CONV4J_GEMM_KC, NB = CONV4J_GEMM_NB, MB = CONV4J_GEMM_MB;
    const int m = g->m, n = g->n, k = g->k;
    float *ap = (float *)(((uintptr_t)pack + 63) & ~(uintptr_t)63), *bp = ap + (size_t)(MB + 16) * KC;
    /* equal k panels: a short last one would load and store its C blocks for little work */
    const int kpanel = (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);
    for (int i0 = 0; i0 < m; i0 += MB) {
        int mb = m - i0 < MB ? m - i0 : MB, panels = (mb + MR - 1) / MR;
        for (int p0 = 0; p0 < k; p0 += kpanel) {
            int kc = k - p0 < kpanel ? k - p0 : kpanel;
            float pb = p0 == 0 ? g->beta : 1.f;
            for (int ip = 0; ip < panels; ip++) {
                int r0 = i0 + ip * MR, mr = m - r0 < MR ? m - r0 : MR;
                conv4j_gemm_pack_a(g->a, g->lda, g->ta, r0, mr, p0, kc, ap + (size_t)ip * MR * kc, MR);
            }
            for (int j0 = 0; j0 < n; j0 += NB) {
                int nb = n - j0 < NB ? n - j0 : NB, jpanels = (nb + NR - 1) / NR;
                conv4j_gemm_pack_panels(g, j0, nb, p0, kc, bp);
                for (int ip = 0; ip < panels; ip++) {
                    int r0 = i0 + ip * MR, mr = m - r0 < MR ? m - r0 : MR;
                    for (int jp = 0; jp < jpanels; jp++) {
                        int c0 = j0 + jp * NR, nr = n - c0 < NR ? n - c0 : NR;
                        float *cb = g->transposed ? g->c + (size_t)c0 * g->ldc + r0 : g->c + (size_t)r0 * g->ldc + c0;
                        g->kernel[conv4j_gemm_vectors(g->kernel, nr, g->NV) - 1](kc, ap + (size_t)ip * MR * kc,
                                                                               bp + (size_t)jp * NR * kc, cb, g->ldc, mr, nr, pb);
                    }
                }
            }
        }
    }
}

static const conv4j_gemm_kernel_fn conv4j_gemm_wide[3] = {conv4j_gemm_kernel_8x16, conv4j_gemm_kernel_8x32, conv4j_gemm_kernel_8x48};
static const conv4j_gemm_kernel_fn conv4j_gemm_narrow[2] = {0, conv4j_gemm_kernel_12x32t};

static void conv4j_gemm_run_avx512(conv4j_gemm_kind kind, int ta, int tb, int m, int n, int k, const float *a, int lda,
                                   const float *b, int ldb, const conv4j_columns *columns, float beta, float *c, int ldc,
                                   float *pack) {
    if (kind == CONV4J_GEMM_NARROW_T) { /* Cᵀ = op(B)ᵀ op(A)ᵀ */
        const conv4j_gemm_blocks g = {!tb, !ta, n, m, k, b, a, ldb, lda, NULL, beta, c, ldc, 12, 2, 1, conv4j_gemm_narrow};
        conv4j_gemm_blocked(&g, pack);
    } else {
        const conv4j_gemm_blocks g = {ta, tb, m, n, k, a, b, lda, ldb, columns, beta, c, ldc, 8, 3, 0, conv4j_gemm_wide};
        conv4j_gemm_blocked(&g, pack);
    }
}

/* The NARROW_T kernel suits the input gradient's products Wᵀ · gy, with more rows than columns:
   their rows fill its vectors and their few columns its short panels. Other narrow products, and
   wide ones of 512 rows and more (the 1x1 stride-2 layer's 512 x 392 x 256), ran as fast or faster
   in OpenBLAS; the weight gradient's Bᵀ products gain at any height. */
static conv4j_gemm_kind conv4j_gemm_choose_avx512(int ta, int tb, int m, int n, int k, const float *pack) {
    if (!pack || m <= 0 || n <= 0 || k <= 0) return CONV4J_GEMM_OPENBLAS;
    if (ta && m >= n && m >= CONV4J_GEMM_MIN_T_ROWS) return CONV4J_GEMM_NARROW_T;
    return n >= CONV4J_GEMM_MIN_N && (m < CONV4J_GEMM_MB || tb) ? CONV4J_GEMM_WIDE : CONV4J_GEMM_OPENBLAS;
}

static void conv4j_sgemm_avx512(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                                float beta, float *c, int ldc, float *pack) {
    conv4j_gemm_kind kind = conv4j_gemm_choose_avx512(ta, tb, m, n, k, pack);
    if (kind == CONV4J_GEMM_OPENBLAS) {
        conv4j_sgemm_openblas(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
    } else {
        conv4j_gemm_run_avx512(kind, ta, tb, m, n, k, a, lda, b, ldb, NULL, beta, c, ldc, pack);
    }
}

static int conv4j_sgemm_columns_avx512(int tb, int m, int n, int k, const float *a, int lda, const conv4j_columns *columns,
                                       float beta, float *c, int ldc, float *pack) {
    /* the transposed gather handles the strides and kernel sizes of its masks only; elsewhere
       building the matrix is faster than a scalar gather */
    if (tb && ((columns->sw != 1 && columns->sw != 2) || columns->kw > CONV4J_PACK_KW || columns->kh > CONV4J_PACK_KW)) return 0;
    if (conv4j_gemm_choose_avx512(0, tb, m, n, k, pack) != CONV4J_GEMM_WIDE) return 0;
    conv4j_gemm_run_avx512(CONV4J_GEMM_WIDE, 0, tb, m, n, k, a, lda, NULL, 0, columns, beta, c, ldc, pack);
    return 1;
}

const conv4j_gemm_ops conv4j_gemm_avx512 = {"avx512", CONV4J_GEMM_PACK_FLOATS, conv4j_gemm_choose_avx512, conv4j_sgemm_avx512,
                                            conv4j_sgemm_columns_avx512, conv4j_gemm_run_avx512};
