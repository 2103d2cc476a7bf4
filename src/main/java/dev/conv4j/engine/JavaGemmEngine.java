package dev.conv4j.engine;

import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import java.nio.FloatBuffer;

/**
 * The pure-Java fallback: the same im2col + GEMM algorithm and the same units of work as
 * {@link BlasEngine}, with {@link Gemm} in place of OpenBLAS. Used where the native library cannot
 * load; it needs nothing but the JVM.
 */
public final class JavaGemmEngine extends AbstractConvEngine {
    private final WorkerPool pool;
    private final ThreadLocal<Workspace> workspace = ThreadLocal.withInitial(Workspace::new);

    /** @param threads the most threads one call uses (the caller included) */
    public JavaGemmEngine(int threads) {
        pool = new WorkerPool("java", threads);
    }

    @Override
    public String name() {
        return "java";
    }

    /** The most threads one call uses. */
    public int threads() {
        return pool.threads();
    }

    @Override
    protected void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        checkBufferable(x, "x");
        checkBufferable(w, "w");
        checkBufferable(y, "y");
        FloatBuffer xb = x.buffer(), yb = y.buffer(), bb = bias == null ? null : bias.buffer();
        float[] wa = copyOf(w);
        int rows = Partition.forwardRows(g);
        int bands = Partition.bands(g.oh, rows);
        int plane = g.outPlane();
        pool.run(g.n * g.groups * bands, u -> {
            int band = u % bands, grp = (u / bands) % g.groups, n = u / (bands * g.groups);
            int oh0 = band * rows, r = Math.min(rows, g.oh - oh0), cols = r * g.ow;
            Workspace ws = workspace.get();
            float[][] col = ws.rows(COLUMNS, g.k, cols), out = ws.rows(OUTPUT, g.og, cols);
            Im2col.im2col(g, xb, (n * g.c + grp * g.cg) * g.inPlane(), g.cg, oh0, r, col);
            for (int o = 0; o < g.og; o++) {
                java.util.Arrays.fill(out[o], 0, cols, bb == null ? 0f : bb.get(grp * g.og + o));
            }
            Gemm.nn(g.og, cols, g.k, wa, grp * g.og * g.k, g.k, col, out);
            int yoff = (n * g.o + grp * g.og) * plane + oh0 * g.ow;
            for (int o = 0; o < g.og; o++) {
                yb.put(yoff + o * plane, out[o], 0, cols);
            }
        });
    }

    @Override
    protected void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        checkBufferable(gy, "gy");
        checkBufferable(w, "w");
        checkBufferable(gx, "gx");
        FloatBuffer gyb = gy.buffer(), gxb = gx.buffer();
        float[] wa = copyOf(w);
        int cb = Partition.dataChannelBlock(g);
        int blocks = Partition.bands(g.cg, cb);
        int khkw = g.kh * g.kw;
        pool.run(g.n * g.groups * blocks, u -> {
            int blk = u % blocks, grp = (u / blocks) % g.groups, n = u / (blocks * g.groups);
            int c0 = blk * cb, cn = Math.min(cb, g.cg - c0), kb = cn * khkw;
            int rows = Partition.backwardRows(g, kb);
            Workspace ws = workspace.get();
            int gxoff = (n * g.c + grp * g.cg + c0) * g.inPlane(), size = cn * g.inPlane();
            float[] image = ws.image(size);
            if (accumulate) {
                gxb.get(gxoff, image, 0, size);
            } else {
                java.util.Arrays.fill(image, 0, size, 0f);
            }
            int gyoff = (n * g.o + grp * g.og) * g.outPlane();
            for (int oh0 = 0; oh0 < g.oh; oh0 += rows) {
                int r = Math.min(rows, g.oh - oh0), cols = r * g.ow;
                float[][] band = ws.rows(OUTPUT, g.og, cols), col = ws.rows(COLUMNS, kb, cols);
                readBand(gyb, gyoff, g.og, g.outPlane(), oh0 * g.ow, cols, band);
                Gemm.tn(kb, cols, g.og, wa, grp * g.og * g.k + c0 * khkw, g.k, band, col);
                Im2col.col2im(g, col, cn, oh0, r, image);
            }
            gxb.put(gxoff, image, 0, size);
        });
    }

    @Override
    protected void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        checkBufferable(x, "x");
        checkBufferable(gy, "gy");
        checkBufferable(gw, "gw");
        FloatBuffer xb = x.buffer(), gyb = gy.buffer(), gwb = gw.buffer(), gbb = gbias == null ? null : gbias.buffer();
        int cb = Partition.weightChannelBlock(g);
        int blocks = Partition.bands(g.cg, cb);
        int khkw = g.kh * g.kw;
        int weightUnits = g.groups * blocks;
        pool.run(weightUnits + (gbb == null ? 0 : 1), u -> {
            if (u == weightUnits) {
                biasSums(g, gyb, gbb, accumulate);
                return;
            }
            int blk = u % blocks, grp = u / blocks;
            int c0 = blk * cb, cn = Math.min(cb, g.cg - c0), kb = cn * khkw;
            int rows = Partition.backwardRows(g, kb);
            Workspace ws = workspace.get();
            float[][] acc = ws.rows(ACCUMULATOR, g.og, kb);
            int gwoff = grp * g.og * g.k + c0 * khkw;
            for (int o = 0; o < g.og; o++) {
                if (accumulate) {
                    gwb.get(gwoff + o * g.k, acc[o], 0, kb);
                } else {
                    java.util.Arrays.fill(acc[o], 0, kb, 0f);
                }
            }
            for (int n = 0; n < g.n; n++) {
                int xoff = (n * g.c + grp * g.cg + c0) * g.inPlane();
                int gyoff = (n * g.o + grp * g.og) * g.outPlane();
                for (int oh0 = 0; oh0 < g.oh; oh0 += rows) {
                    int r = Math.min(rows, g.oh - oh0), cols = r * g.ow;
                    float[][] col = ws.rows(COLUMNS, kb, cols), colT = ws.rows(TRANSPOSED, cols, kb);
                    float[] band = ws.flat(g.og * cols);
                    Im2col.im2col(g, xb, xoff, cn, oh0, r, col);
                    Gemm.transpose(kb, cols, col, colT);
                    for (int o = 0; o < g.og; o++) {
                        gyb.get(gyoff + o * g.outPlane() + oh0 * g.ow, band, o * cols, cols);
                    }
                    Gemm.nn(g.og, kb, cols, band, 0, cols, colT, acc);
                }
            }
            for (int o = 0; o < g.og; o++) {
                gwb.put(gwoff + o * g.k, acc[o], 0, kb);
            }
        });
    }

    private static void biasSums(ConvGeometry g, FloatBuffer gy, FloatBuffer gb, boolean accumulate) {
        int plane = g.outPlane();
        for (int o = 0; o < g.o; o++) {
            double s = 0;
            for (int n = 0; n < g.n; n++) {
                int base = (n * g.o + o) * plane;
                for (int i = 0; i < plane; i++) {
                    s += gy.get(base + i);
                }
            }
            gb.put(o, (float) (accumulate ? gb.get(o) + s : s));
        }
    }

    /** Copies columns [col0, col0+cols) of {@code rows} planes of size {@code plane} into rows of dst. */
    private static void readBand(FloatBuffer src, int off, int rows, int plane, int col0, int cols, float[][] dst) {
        for (int i = 0; i < rows; i++) {
            src.get(off + i * plane + col0, dst[i], 0, cols);
        }
    }

    private float[] copyOf(Tensor t) {
        int size = (int) t.size();
        float[] a = workspace.get().weights(size);
        t.buffer().get(0, a, 0, size);
        return a;
    }

    private static final int COLUMNS = 0, OUTPUT = 1, TRANSPOSED = 2, ACCUMULATOR = 3;

    /** One thread's scratch arrays, grown on demand and kept for the next call. */
    private static final class Workspace {
        private final float[][][] rows = {new float[0][], new float[0][], new float[0][], new float[0][]};
        private float[] image = new float[0], weights = new float[0], flat = new float[0];

        /**
         * At least {@code count} rows of at least {@code length} floats (rows may be longer). A shape that
         * does not fit gets rows of exactly its size: growing each dimension to the largest ever seen
         * could multiply a tall shape's row count by a wide shape's row length.
         */
        float[][] rows(int kind, int count, int length) {
            float[][] r = rows[kind];
            if (r.length < count || (count > 0 && r[0].length < length)) {
                r = new float[count][length];
                rows[kind] = r;
            }
            return r;
        }

        float[] image(int size) {
            return image.length >= size ? image : (image = new float[size]);
        }

        float[] weights(int size) {
            return weights.length >= size ? weights : (weights = new float[size]);
        }

        float[] flat(int size) {
            return flat.length >= size ? flat : (flat = new float[size]);
        }
    }
}
