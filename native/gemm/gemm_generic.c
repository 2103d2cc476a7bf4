/* The products on any x86-64 CPU: all of them in OpenBLAS (its DYNAMIC_ARCH build picks its kernels
   for the CPU at run time). */
#include <cblas.h>
#include "gemm/gemm.h"

void conv4j_sgemm_openblas(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                           float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
                1.f, a, lda, b, ldb, beta, c, ldc);
}

static conv4j_gemm_kind conv4j_gemm_choose_generic(int ta, int tb, int m, int n, int k, const float *pack) {
    return CONV4J_GEMM_OPENBLAS;
}

static void conv4j_sgemm_generic(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                                 float beta, float *c, int ldc, float *pack) {
    conv4j_sgemm_openblas(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

static int conv4j_sgemm_columns_generic(int tb, int m, int n, int k, const float *a, int lda, const conv4j_columns *columns,
                                        float beta, float *c, int ldc, float *pack) {
    return 0;
}

const conv4j_gemm_ops conv4j_gemm_generic = {"generic", 0, conv4j_gemm_choose_generic, conv4j_sgemm_generic,
                                             conv4j_sgemm_columns_generic, NULL};
