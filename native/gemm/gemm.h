/*
 * The products of the im2col passes: row-major C (m x n) = beta * C + op(A) * op(B), op transposing
 * when ta / tb is set (cblas_sgemm with alpha 1). The generic variant leaves every product to
 * OpenBLAS; the AVX-512 one (gemm_avx512.c) runs those where OpenBLAS's kernels leave 10-40% on the
 * table on conv4j's own single-threaded kernels: wide ones (a few hundred to a few thousand columns,
 * few output channels) and the narrow input-gradient products. The AVX2 one (gemm_avx2.c) runs the
 * wide ones, where OpenBLAS's AVX2 kernels left 10-30%.
 */
#ifndef CONV4J_GEMM_H
#define CONV4J_GEMM_H

#include "im2col/im2col.h"

#define CONV4J_GEMM_KC 256 /* k per panel */
#define CONV4J_GEMM_NB 480 /* columns of B packed at once (a multiple of 32 and 48) */
#define CONV4J_GEMM_MB 512 /* rows of A packed at once (+16: a last panel of 12 rows may pass it) */
/* floats of the packing buffer conv4j's kernels need, with room to align it to 64 bytes */
#define CONV4J_GEMM_PACK_FLOATS ((CONV4J_GEMM_MB + 16) * CONV4J_GEMM_KC + CONV4J_GEMM_KC * CONV4J_GEMM_NB + 16)
/* narrower products run on the transposed kernel, or in OpenBLAS (see the variants' choice) */
#define CONV4J_GEMM_MIN_N 256
#define CONV4J_GEMM_MIN_T_ROWS 32
/* the widest and tallest kernels whose columns the transposed gather reads (its masks are kept per kernel column) */
#define CONV4J_PACK_KW 16

/* How a product runs: in OpenBLAS, on the 8 x 48 kernel, or on the 12 x 32 kernel over Cᵀ. */
typedef enum { CONV4J_GEMM_OPENBLAS = 0, CONV4J_GEMM_WIDE = 1, CONV4J_GEMM_NARROW_T = 2 } conv4j_gemm_kind;

typedef struct conv4j_gemm_ops {
    const char *isa;
    /* floats of the packing buffer its kernels take; 0: it has none, callers pass null */
    long long pack_floats;
    /* how sgemm would run this product (pack: the packing buffer or null) */
    conv4j_gemm_kind (*choose)(int ta, int tb, int m, int n, int k, const float *pack);
    /* C = beta * C + op(A) * op(B); pack is null or pack_floats floats */
    void (*sgemm)(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                  float *c, int ldc, float *pack);
    /* The same with B the column matrix of `columns` (k x n; with tb its transpose, n x k), gathered
       from the image while it is packed, where sgemm would run the product on its own kernel:
       returns 1 then, else 0 without doing anything (the caller builds the matrix and calls sgemm). */
    int (*sgemm_columns)(int tb, int m, int n, int k, const float *a, int lda, const conv4j_columns *columns, float beta,
                         float *c, int ldc, float *pack);
    /* The product on a kernel of the caller's choice, whatever its size (for tests): kind WIDE or
       NARROW_T; columns, when not null, replaces b (WIDE only, and with tb: column strides 1 or 2,
       kernels up to CONV4J_PACK_KW). Null in the generic variant. */
    void (*run)(conv4j_gemm_kind kind, int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
                int ldb, const conv4j_columns *columns, float beta, float *c, int ldc, float *pack);
} conv4j_gemm_ops;

extern const conv4j_gemm_ops conv4j_gemm_generic, conv4j_gemm_avx512, conv4j_gemm_avx2;

/* Rows [i0, i0+mr) and k in [p0, p0+kc) of A (or of Aᵀ stored k x m) into ap[k*MR + r], zero-padded
   to MR rows. Inlined where MR is a constant: packing A takes a tenth of a weight-gradient product,
   and a loop over a variable MR was 3-5% slower on those. */
__attribute__((always_inline)) static inline void conv4j_gemm_pack_a(const float *a, int lda, int ta, int i0, int mr, int p0, int kc, float *ap, int MR) {
    if (ta) {
        for (int k = 0; k < kc; k++) {
            const float *src = a + (size_t)(p0 + k) * lda + i0;
            int r = 0;
            for (; r < mr; r++) ap[k * MR + r] = src[r];
            for (; r < MR; r++) ap[k * MR + r] = 0.f;
        }
        return;
    }
    for (int r = 0; r < mr; r++) {
        const float *src = a + (size_t)(i0 + r) * lda + p0;
        for (int k = 0; k < kc; k++) ap[k * MR + r] = src[k];
    }
    for (int r = mr; r < MR; r++) {
        for (int k = 0; k < kc; k++) ap[k * MR + r] = 0.f;
    }
}

/* OpenBLAS's product, for every variant. */
void conv4j_sgemm_openblas(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                           float beta, float *c, int ldc);

#endif
