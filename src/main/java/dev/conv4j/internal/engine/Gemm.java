package dev.conv4j.internal.engine;

/**
 * Single-precision matrix products for the pure-Java engine (its 2-D and 3-D passes). Matrices B and C are arrays of rows
 * ({@code float[][]}): C2 vectorizes a loop {@code c[j] += a * b[j]} over two whole row arrays, but
 * not the same loop over offsets into one flat array (measured here: about 15-20 against 3 GFLOP/s).
 * Four rows of C are updated per pass over a row of B, and the columns are blocked so the rows being
 * updated stay in L1.
 */
public final class Gemm {
    private static final int COLUMN_BLOCK = 512;
    private static final int DEPTH_BLOCK = 128;

    private Gemm() {
    }

    /**
     * {@code C[m][0..n) += A · B}, where A is m x k with row stride {@code lda} from {@code aoff} and
     * B has k rows of at least n columns.
     */
    public static void nn(int m, int n, int k, float[] a, int aoff, int lda, float[][] b, float[][] c) {
        for (int j0 = 0; j0 < n; j0 += COLUMN_BLOCK) {
            int j1 = Math.min(n, j0 + COLUMN_BLOCK);
            for (int p0 = 0; p0 < k; p0 += DEPTH_BLOCK) {
                int p1 = Math.min(k, p0 + DEPTH_BLOCK);
                int i = 0;
                for (; i + 4 <= m; i += 4) {
                    float[] c0 = c[i], c1 = c[i + 1], c2 = c[i + 2], c3 = c[i + 3];
                    int a0 = aoff + i * lda;
                    for (int p = p0; p < p1; p++) {
                        float v0 = a[a0 + p], v1 = a[a0 + lda + p], v2 = a[a0 + 2 * lda + p], v3 = a[a0 + 3 * lda + p];
                        float[] br = b[p];
                        for (int j = j0; j < j1; j++) {
                            float bv = br[j];
                            c0[j] += v0 * bv;
                            c1[j] += v1 * bv;
                            c2[j] += v2 * bv;
                            c3[j] += v3 * bv;
                        }
                    }
                }
                for (; i < m; i++) {
                    float[] cr = c[i];
                    int ai = aoff + i * lda;
                    for (int p = p0; p < p1; p++) {
                        float v = a[ai + p];
                        float[] br = b[p];
                        for (int j = j0; j < j1; j++) {
                            cr[j] += v * br[j];
                        }
                    }
                }
            }
        }
    }

    /**
     * {@code C[m][0..n) = Aᵀ · B}, where A is k x (at least m) with row stride {@code lda} from
     * {@code aoff} (only its columns [0, m) are used) and B has k rows. C is overwritten.
     */
    public static void tn(int m, int n, int k, float[] a, int aoff, int lda, float[][] b, float[][] c) {
        for (int i = 0; i < m; i++) {
            java.util.Arrays.fill(c[i], 0, n, 0f);
        }
        for (int j0 = 0; j0 < n; j0 += COLUMN_BLOCK) {
            int j1 = Math.min(n, j0 + COLUMN_BLOCK);
            for (int p = 0; p < k; p++) {
                int ap = aoff + p * lda;
                float[] br = b[p];
                int i = 0;
                for (; i + 4 <= m; i += 4) {
                    float v0 = a[ap + i], v1 = a[ap + i + 1], v2 = a[ap + i + 2], v3 = a[ap + i + 3];
                    float[] c0 = c[i], c1 = c[i + 1], c2 = c[i + 2], c3 = c[i + 3];
                    for (int j = j0; j < j1; j++) {
                        float bv = br[j];
                        c0[j] += v0 * bv;
                        c1[j] += v1 * bv;
                        c2[j] += v2 * bv;
                        c3[j] += v3 * bv;
                    }
                }
                for (; i < m; i++) {
                    float v = a[ap + i];
                    float[] cr = c[i];
                    for (int j = j0; j < j1; j++) {
                        cr[j] += v * br[j];
                    }
                }
            }
        }
    }

    /** {@code dst[j][i] = src[i][j]} for i < m, j < n. */
    public static void transpose(int m, int n, float[][] src, float[][] dst) {
        final int t = 32;
        for (int i0 = 0; i0 < m; i0 += t) {
            int i1 = Math.min(m, i0 + t);
            for (int j0 = 0; j0 < n; j0 += t) {
                int j1 = Math.min(n, j0 + t);
                for (int i = i0; i < i1; i++) {
                    float[] s = src[i];
                    for (int j = j0; j < j1; j++) {
                        dst[j][i] = s[j];
                    }
                }
            }
        }
    }
}
