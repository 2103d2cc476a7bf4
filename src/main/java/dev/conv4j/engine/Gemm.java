package dev.conv4j.engine;

/**
 * Single-precision matrix products on row-major arrays for the pure-Java engine. Loops are ordered
 * so that the innermost one runs along a contiguous row with no dependence between iterations,
 * which C2 compiles to SIMD; blocking over the shared dimension and the columns keeps the rows
 * being updated in L1.
 */
final class Gemm {
    private static final int COLUMN_BLOCK = 512;
    private static final int DEPTH_BLOCK = 128;

    private Gemm() {
    }

    /**
     * {@code C[m x n] += A[m x k] · B[k x n]}; A has row stride {@code lda} from {@code aoff},
     * B and C are dense.
     */
    static void nn(int m, int n, int k, float[] a, int aoff, int lda, float[] b, float[] c) {
        for (int j0 = 0; j0 < n; j0 += COLUMN_BLOCK) {
            int j1 = Math.min(n, j0 + COLUMN_BLOCK);
            for (int p0 = 0; p0 < k; p0 += DEPTH_BLOCK) {
                int p1 = Math.min(k, p0 + DEPTH_BLOCK);
                for (int i = 0; i < m; i++) {
                    int ci = i * n, ai = aoff + i * lda;
                    for (int p = p0; p < p1; p++) {
                        float av = a[ai + p];
                        int bp = p * n;
                        for (int j = j0; j < j1; j++) {
                            c[ci + j] += av * b[bp + j];
                        }
                    }
                }
            }
        }
    }

    /**
     * {@code C[m x n] = A[k x m]ᵀ · B[k x n]}, where A's rows have stride {@code lda} from {@code aoff}
     * and only its columns [0, m) are used; B and C are dense. C is overwritten.
     */
    static void tn(int m, int n, int k, float[] a, int aoff, int lda, float[] b, float[] c) {
        java.util.Arrays.fill(c, 0, m * n, 0f);
        for (int j0 = 0; j0 < n; j0 += COLUMN_BLOCK) {
            int j1 = Math.min(n, j0 + COLUMN_BLOCK);
            for (int p = 0; p < k; p++) {
                int ap = aoff + p * lda, bp = p * n;
                for (int i = 0; i < m; i++) {
                    float av = a[ap + i];
                    int ci = i * n;
                    for (int j = j0; j < j1; j++) {
                        c[ci + j] += av * b[bp + j];
                    }
                }
            }
        }
    }

    /** {@code dst[n x m] = src[m x n]ᵀ}. */
    static void transpose(int m, int n, float[] src, float[] dst) {
        final int t = 32;
        for (int i0 = 0; i0 < m; i0 += t) {
            int i1 = Math.min(m, i0 + t);
            for (int j0 = 0; j0 < n; j0 += t) {
                int j1 = Math.min(n, j0 + t);
                for (int i = i0; i < i1; i++) {
                    for (int j = j0; j < j1; j++) {
                        dst[j * m + i] = src[i * n + j];
                    }
                }
            }
        }
    }
}
