package dev.conv4j.bench;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_full;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * The raw OpenBLAS {@code sgemm} calls an im2col convolution of a shape performs, without the
 * im2col: per image and group, {@code (O/G x K) · (K x OH·OW)} row-major. Its speed is the ceiling
 * that an im2col + GEMM engine can approach.
 */
final class SgemmCeiling implements AutoCloseable {
    private final BenchShape.Products g;
    private final Pass pass;
    private final FloatPointer a, b, c;

    /** The products of {@code pass} of a layer whose im2col lowering runs {@code products}. */
    SgemmCeiling(BenchShape.Products products, Pass pass) {
        this.g = products;
        this.pass = products.convolutionPass(pass);
        long wSize = (long) g.m() * g.k(), colSize = (long) g.k() * g.p(), ySize = (long) g.m() * g.p();
        switch (this.pass) {
            case FORWARD:          // y = W · col
                a = random(wSize); b = random(colSize); c = new FloatPointer(ySize); break;
            case BACKWARD_DATA:    // dcol = Wᵀ · gy
                a = random(wSize); b = random(ySize); c = new FloatPointer(colSize); break;
            default:               // gw += gy · colᵀ
                a = random(ySize); b = random(colSize); c = new FloatPointer(wSize); break;
        }
    }

    private static FloatPointer random(long n) {
        FloatPointer p = new FloatPointer(n);
        java.util.Random r = new java.util.Random(1);
        for (long i = 0; i < n; i++) {
            p.put(i, r.nextFloat() - 0.5f);
        }
        return p;
    }

    /** All the GEMMs of one pass. */
    void run() {
        int m = g.m(), p = g.p(), k = g.k();
        for (int i = 0; i < g.reps(); i++) {
            switch (pass) {
                case FORWARD:
                    openblas_nolapack.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, m, p, k, 1f, a, k, b, p, 0f, c, p);
                    break;
                case BACKWARD_DATA:
                    openblas_nolapack.cblas_sgemm(ROW_MAJOR, TRANS, NO_TRANS, k, p, m, 1f, a, k, b, p, 0f, c, p);
                    break;
                default:
                    openblas_nolapack.cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS, m, k, p, 1f, a, p, b, p, 1f, c, k);
                    break;
            }
        }
    }

    private static final int ROW_MAJOR = openblas_nolapack.CblasRowMajor;
    private static final int NO_TRANS = openblas_nolapack.CblasNoTrans;
    private static final int TRANS = openblas_nolapack.CblasTrans;

    /** Sets OpenBLAS's own threads for the ceiling measurement (conv4j's engines keep it at 1). */
    static void threads(int n) {
        openblas_full.openblas_set_num_threads(n);
    }

    @Override
    public void close() {
        a.close();
        b.close();
        c.close();
    }
}
