/*
 * conv4j's own single-threaded sgemm for CPUs with AVX2 and FMA but not AVX-512 (see gemm.h for the
 * operations), in the layout of gemm_avx512.c: A copied into panels of 6 rows, B into panels of 16
 * columns, KC values of k at a time, and a micro-kernel keeping a 6 x 16 block of C in 12 ymm
 * registers (per k: 2 loads of B, 6 broadcasts of A, 12 multiply-adds, the pattern of BLIS's Haswell
 * kernel). OpenBLAS's Zen and Haswell kernels left a fifth of the FMA peak on conv4j's pointwise
 * products (AMD EPYC Zen 3: 65-75% of the peak against 85-90%). The B block is sized for a 512 KiB L2.
 * Edges are zero-padded in the panels and stored with whole vectors where they fit, so nothing
 * outside C is touched. A column matrix B is gathered entry by entry (for tests: sgemm_columns
 * declines, and the caller builds the matrix).
 */
#include <stdint.h>
#include "common/conv4j_avx2.h"
#include "gemm/gemm.h"

#define MR 6
#define NR 16
#define KC 256
/* Floats of the packed blocks: a block of B's columns, 192 KiB, beside a block of A's rows, 96 KiB,
   in L2 (as many columns and rows as fit for the panel's k: at k 64, four times those at 256). */
#define B_FLOATS (KC * 192)
#define A_FLOATS (KC * 96)
#define AVX2_PACK_FLOATS (A_FLOATS + B_FLOATS + 16)

/* Entry (row, col) of the column matrix of s: channel, kernel row and column from the row, output
   row and column from the column. */
static inline float column_entry(const conv4j_columns *s, long long row, long long col) {
    const int taps = s->kh * s->kw, ch = (int)(row / taps), p = (int)(row % taps / s->kw), q = (int)(row % s->kw);
    const long long ih = (s->oh0 + col / s->ow) * (long long)s->sh - s->pt + (long long)p * s->dh;
    const long long iw = col % s->ow * (long long)s->sw - s->pl + (long long)q * s->dw;
    return ih < 0 || ih >= s->h || iw < 0 || iw >= s->w ? 0.f : s->x[((size_t)ch * s->h + ih) * s->w + iw];
}

/* Columns [j0, j0+nr) and k in [p0, p0+kc) of B (Bᵀ stored n x k with tb; the column matrix of
   columns, or its transpose, when that is set) into bp[k*NR + c], zero-padded to NR columns. */
static void pack_b(const float *b, int ldb, int tb, const conv4j_columns *columns, int j0, int nr, int p0, int kc,
                   float *bp) {
    if (columns) {
        for (int k = 0; k < kc; k++)
            for (int c = 0; c < NR; c++)
                bp[k * NR + c] = c >= nr ? 0.f : tb ? column_entry(columns, j0 + c, p0 + k) : column_entry(columns, p0 + k, j0 + c);
        return;
    }
    if (!tb) {
        const __m256i m0 = conv4j_lanes8(nr), m1 = conv4j_lanes8(nr - 8);
        for (int k = 0; k < kc; k++) {
            const float *src = b + (size_t)(p0 + k) * ldb + j0;
            if (nr == NR) {
                _mm256_store_ps(bp + k * NR, _mm256_loadu_ps(src));
                _mm256_store_ps(bp + k * NR + 8, _mm256_loadu_ps(src + 8));
            } else {
                _mm256_store_ps(bp + k * NR, _mm256_maskload_ps(src, m0));
                _mm256_store_ps(bp + k * NR + 8, _mm256_maskload_ps(src + 8, m1));
            }
        }
        return;
    }
    /* Bᵀ: 8 k values of 8 columns at a time, turned in registers */
    for (int v = 0; v < 2; v++)
        for (int k0 = 0; k0 < kc; k0 += 8) {
            const int kn = kc - k0 < 8 ? kc - k0 : 8;
            const __m256i km = conv4j_lanes8(kn);
            __m256 r[8];
            for (int i = 0; i < 8; i++) {
                const int col = 8 * v + i;
                r[i] = col < nr ? _mm256_maskload_ps(b + (size_t)(j0 + col) * ldb + p0 + k0, km) : _mm256_setzero_ps();
            }
            conv4j_transpose8(r);
            for (int i = 0; i < kn; i++) _mm256_store_ps(bp + (k0 + i) * NR + 8 * v, r[i]);
        }
}

/* One k step of the micro-kernel: B's two vectors, then per row a broadcast and two multiply-adds. */
#define K_FMA2(r, lo, hi) \
    "vfmadd231ps %%ymm12, %%ymm" #r ", %[" #lo "]\n\t" \
    "vfmadd231ps %%ymm13, %%ymm" #r ", %[" #hi "]\n\t"
#define K_STEP(k) \
    "vmovaps " #k "*64(%[b]), %%ymm12\n\t" \
    "vmovaps " #k "*64+32(%[b]), %%ymm13\n\t" \
    "vbroadcastss " #k "*24(%[a]), %%ymm14\n\t" K_FMA2(14, l0, h0) \
    "vbroadcastss " #k "*24+4(%[a]), %%ymm15\n\t" K_FMA2(15, l1, h1) \
    "vbroadcastss " #k "*24+8(%[a]), %%ymm14\n\t" K_FMA2(14, l2, h2) \
    "vbroadcastss " #k "*24+12(%[a]), %%ymm15\n\t" K_FMA2(15, l3, h3) \
    "vbroadcastss " #k "*24+16(%[a]), %%ymm14\n\t" K_FMA2(14, l4, h4) \
    "vbroadcastss " #k "*24+20(%[a]), %%ymm15\n\t" K_FMA2(15, l5, h5)

/* count times: the steps, then A and B move on by their bytes */
#define K_LOOP(steps, abytes, bbytes, count) \
    __asm__("1:\n\t" steps \
            "add $" #abytes ", %[a]\n\t" \
            "add $" #bbytes ", %[b]\n\t" \
            "dec %[k]\n\t" \
            "jnz 1b\n\t" \
            : [a] "+r"(ap), [b] "+r"(bp), [k] "+r"(count), [l0] "+x"(l0), [l1] "+x"(l1), [l2] "+x"(l2), [l3] "+x"(l3), \
              [l4] "+x"(l4), [l5] "+x"(l5), [h0] "+x"(h0), [h1] "+x"(h1), [h2] "+x"(h2), [h3] "+x"(h3), [h4] "+x"(h4), \
              [h5] "+x"(h5) \
            : \
            : "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory")

/* C block (m <= 6 rows, n <= 16 columns) = beta * C + panel product over kc. Written out: gcc's
   schedule of the same loop copies registers between the multiply-adds (see blocked_avx2.c). */
static void kernel_6x16(int kc, const float *ap, const float *bp, float *c, int ldc, int m, int n, float beta) {
    __m256 l0 = _mm256_setzero_ps(), l1 = l0, l2 = l0, l3 = l0, l4 = l0, l5 = l0;
    __m256 h0 = l0, h1 = l0, h2 = l0, h3 = l0, h4 = l0, h5 = l0;
    long long quads = kc / 4, rest = kc % 4;
    if (quads) K_LOOP(K_STEP(0) K_STEP(1) K_STEP(2) K_STEP(3), 96, 256, quads);
    if (rest) K_LOOP(K_STEP(0), 24, 64, rest);
    const __m256 acc[MR][2] = {{l0, h0}, {l1, h1}, {l2, h2}, {l3, h3}, {l4, h4}, {l5, h5}};
    const __m256 bb = _mm256_set1_ps(beta);
    for (int r = 0; r < m; r++) {
        float *row = c + (size_t)r * ldc;
        for (int v = 0; v < 2; v++) {
            __m256 t = acc[r][v];
            if (n >= 8 * v + 8) {
                if (beta != 0.f) t = _mm256_fmadd_ps(bb, _mm256_loadu_ps(row + 8 * v), t);
                _mm256_storeu_ps(row + 8 * v, t);
            } else if (n > 8 * v) {
                /* masked only at C's right edge (masked stores are microcoded on AMD's cores) */
                const __m256i mk = conv4j_lanes8(n - 8 * v);
                if (beta != 0.f) t = _mm256_fmadd_ps(bb, _mm256_maskload_ps(row + 8 * v, mk), t);
                _mm256_maskstore_ps(row + 8 * v, mk, t);
            }
        }
    }
}

/* C = beta * C + op(A) op(B) (B the column matrix `columns` when that is set): for each block of A's
   rows and k, A's panels stay in L2 while each block of B's panels is packed once and read by all
   of them, a 16 KiB B panel in L1 per run of A panels. pack holds AVX2_PACK_FLOATS floats. */
static void blocked(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                    const conv4j_columns *columns, float beta, float *c, int ldc, float *pack) {
    float *ap = (float *)(((uintptr_t)pack + 63) & ~(uintptr_t)63), *bp = ap + A_FLOATS;
    /* equal k panels: a short last one would load and store its C blocks for little work */
    const int kpanel = (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);
    for (int p0 = 0; p0 < k; p0 += kpanel) {
        const int kc = k - p0 < kpanel ? k - p0 : kpanel;
        const float pb = p0 == 0 ? beta : 1.f;
        const int NB = B_FLOATS / kpanel / NR * NR, MB = A_FLOATS / kpanel / MR * MR;
        for (int j0 = 0; j0 < n; j0 += NB) {
            const int nb = n - j0 < NB ? n - j0 : NB, jpanels = (nb + NR - 1) / NR;
            for (int jp = 0; jp < jpanels; jp++) {
                const int c0 = j0 + jp * NR;
                pack_b(b, ldb, tb, columns, c0, n - c0 < NR ? n - c0 : NR, p0, kc, bp + (size_t)jp * NR * kc);
            }
            for (int i0 = 0; i0 < m; i0 += MB) {
                const int mb = m - i0 < MB ? m - i0 : MB, panels = (mb + MR - 1) / MR;
                if (j0 == 0 || m > MB) /* one block of A is packed once per k panel */
                    for (int ip = 0; ip < panels; ip++) {
                        const int r0 = i0 + ip * MR;
                        conv4j_gemm_pack_a(a, lda, ta, r0, m - r0 < MR ? m - r0 : MR, p0, kc, ap + (size_t)ip * MR * kc, MR);
                    }
                for (int jp = 0; jp < jpanels; jp++) {
                    const int c0 = j0 + jp * NR, nr = n - c0 < NR ? n - c0 : NR;
                    for (int ip = 0; ip < panels; ip++) {
                        const int r0 = i0 + ip * MR;
                        kernel_6x16(kc, ap + (size_t)ip * MR * kc, bp + (size_t)jp * NR * kc, c + (size_t)r0 * ldc + c0, ldc,
                                    m - r0 < MR ? m - r0 : MR, nr, pb);
                    }
                }
            }
        }
    }
}

static void run_avx2(conv4j_gemm_kind kind, int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
                     int ldb, const conv4j_columns *columns, float beta, float *c, int ldc, float *pack) {
    blocked(ta, tb, m, n, k, a, lda, b, ldb, columns, beta, c, ldc, pack);
}

/* Wide products: the forward ones (W · X: 1.0x to 1.35x OpenBLAS's below 512 rows, level above), the
   input gradient's Wᵀ · gy (1.05x to 1.35x at any height) and the weight gradient's gy · colᵀ below
   256 rows or at least twice as wide as tall (1.03x to 1.2x; 0.95x on the square ones). Narrow
   products (fewer than 256 columns) ran 0.8x to 0.95x here and stay in OpenBLAS. (AMD EPYC Zen 3,
   ResNet-50's products, one thread.) */
static conv4j_gemm_kind choose_avx2(int ta, int tb, int m, int n, int k, const float *pack) {
    if (!pack || m <= 0 || n <= 0 || k <= 0 || n < CONV4J_GEMM_MIN_N) return CONV4J_GEMM_OPENBLAS;
    const int own = ta ? 1 : tb ? m < 256 || n >= 2 * m : m < 512;
    return own ? CONV4J_GEMM_WIDE : CONV4J_GEMM_OPENBLAS;
}

static void sgemm_avx2(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                       float *c, int ldc, float *pack) {
    if (choose_avx2(ta, tb, m, n, k, pack) == CONV4J_GEMM_OPENBLAS) {
        conv4j_sgemm_openblas(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
    } else {
        blocked(ta, tb, m, n, k, a, lda, b, ldb, NULL, beta, c, ldc, pack);
    }
}

static int sgemm_columns_avx2(int tb, int m, int n, int k, const float *a, int lda, const conv4j_columns *columns,
                              float beta, float *c, int ldc, float *pack) {
    return 0;
}

const conv4j_gemm_ops conv4j_gemm_avx2 = {"avx2", AVX2_PACK_FLOATS, choose_avx2, sgemm_avx2, sgemm_columns_avx2, run_avx2};
