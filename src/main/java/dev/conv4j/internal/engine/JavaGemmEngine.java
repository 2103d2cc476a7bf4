package dev.conv4j.internal.engine;

import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.internal.volume.Conv3dKernels;
import dev.conv4j.internal.volume.JavaVolume;
import dev.conv4j.internal.volume.VolumeEngine;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * The pure-Java fallback: the same im2col + GEMM algorithm and the same units of work as
 * {@link BlasEngine}, with {@link Gemm} in place of OpenBLAS. Used where the native library cannot
 * load; it needs nothing but the JVM. Like the blas engine, a call checks out a context from a pool
 * and each thread running its units checks out a workspace, so its heap scratch follows the calls in
 * flight, and a call allocates nothing once the pools are warm.
 */
public final class JavaGemmEngine extends AbstractConvEngine implements VolumeEngine {
    private final WorkerPool pool;
    private final Pool<Call> calls;
    private final Pool<Workspace> workspaces;
    private final JavaVolume volumes;

    /** @param threads the most threads one call uses (the caller included) */
    public JavaGemmEngine(int threads) {
        pool = new WorkerPool("java", threads);
        calls = new Pool<>(Call::new, null, null);
        workspaces = new Pool<>(Workspace::new, null, null);
        volumes = new JavaVolume(pool, workspaces);
    }

    /** The 3-D passes, on this engine's threads and workspaces. */
    @Override
    public Conv3dKernels volumes() {
        return volumes;
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
        Call c = calls.take();
        try {
            c.start(g, TensorMemory.buffer(x), w, TensorMemory.buffer(bias), TensorMemory.buffer(y), false);
            c.rows = Partition.forwardRows(g);
            c.bands = Partition.bands(g.oh, c.rows);
            pool.run(c.job, g.n * g.groups * c.bands, c.forward, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    @Override
    protected void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        checkBufferable(gy, "gy");
        checkBufferable(w, "w");
        checkBufferable(gx, "gx");
        Call c = calls.take();
        try {
            c.start(g, TensorMemory.buffer(gy), w, null, TensorMemory.buffer(gx), accumulate);
            c.block = Partition.dataChannelBlock(g);
            c.blocks = Partition.bands(g.cg, c.block);
            pool.run(c.job, g.n * g.groups * c.blocks, c.backwardData, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    @Override
    protected void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        checkBufferable(x, "x");
        checkBufferable(gy, "gy");
        checkBufferable(gw, "gw");
        Call c = calls.take();
        try {
            c.start(g, TensorMemory.buffer(x), null, TensorMemory.buffer(gbias), TensorMemory.buffer(gw), accumulate);
            c.gy = TensorMemory.buffer(gy);
            c.block = Partition.weightChannelBlock(g);
            c.blocks = Partition.bands(g.cg, c.block);
            c.weightUnits = g.groups * c.blocks;
            pool.run(c.job, c.weightUnits + (gbias == null ? 0 : 1), c.backwardWeights, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    /**
     * One call in flight: its geometry, buffers and the weights copied to the heap, and its units,
     * made once so that a call allocates nothing.
     */
    private static final class Call {
        final WorkerPool.Job job = new WorkerPool.Job();
        ConvGeometry g;
        /** in: x (forward, weight gradient) or gy (input gradient); out: y, gx or gw; bias: bias or gbias. */
        FloatBuffer in, out, bias, gy;
        float[] weights = new float[0];
        boolean accumulate;
        int rows, bands, block, blocks, weightUnits;
        final WorkerPool.Unit<Workspace> forward = this::forwardUnit;
        final WorkerPool.Unit<Workspace> backwardData = this::backwardDataUnit;
        final WorkerPool.Unit<Workspace> backwardWeights = this::backwardWeightsUnit;

        void start(ConvGeometry geometry, FloatBuffer in, Tensor w, FloatBuffer bias, FloatBuffer out, boolean accumulate) {
            g = geometry;
            this.in = in;
            this.bias = bias;
            this.out = out;
            this.accumulate = accumulate;
            if (w != null) {
                int size = (int) w.size();
                if (weights.length < size) {
                    weights = new float[size];
                }
                TensorMemory.buffer(w).get(0, weights, 0, size);
            }
        }

        void end() {
            g = null;
            in = out = bias = gy = null;
        }

        private void forwardUnit(int u, Workspace ws) {
            int band = u % bands, grp = (u / bands) % g.groups, n = u / (bands * g.groups);
            int oh0 = band * rows, r = Math.min(rows, g.oh - oh0), cols = r * g.ow;
            int plane = g.outPlane();
            float[][] col = ws.rows(COLUMNS, g.k, cols), o = ws.rows(OUTPUT, g.og, cols);
            Im2col.im2col(g, in, (n * g.c + grp * g.cg) * g.inPlane(), g.cg, oh0, r, col);
            for (int i = 0; i < g.og; i++) {
                Arrays.fill(o[i], 0, cols, bias == null ? 0f : bias.get(grp * g.og + i));
            }
            Gemm.nn(g.og, cols, g.k, weights, grp * g.og * g.k, g.k, col, o);
            int yoff = (n * g.o + grp * g.og) * plane + oh0 * g.ow;
            for (int i = 0; i < g.og; i++) {
                out.put(yoff + i * plane, o[i], 0, cols);
            }
        }

        private void backwardDataUnit(int u, Workspace ws) {
            int blk = u % blocks, grp = (u / blocks) % g.groups, n = u / (blocks * g.groups);
            int khkw = g.kh * g.kw, c0 = blk * block, cn = Math.min(block, g.cg - c0), kb = cn * khkw;
            int rowsPerBand = Partition.backwardRows(g, kb);
            int gxoff = (n * g.c + grp * g.cg + c0) * g.inPlane(), size = cn * g.inPlane();
            float[] image = ws.image(size);
            if (accumulate) {
                out.get(gxoff, image, 0, size);
            } else {
                Arrays.fill(image, 0, size, 0f);
            }
            int gyoff = (n * g.o + grp * g.og) * g.outPlane();
            for (int oh0 = 0; oh0 < g.oh; oh0 += rowsPerBand) {
                int r = Math.min(rowsPerBand, g.oh - oh0), cols = r * g.ow;
                float[][] band = ws.rows(OUTPUT, g.og, cols), col = ws.rows(COLUMNS, kb, cols);
                readBand(in, gyoff, g.og, g.outPlane(), oh0 * g.ow, cols, band);
                Gemm.tn(kb, cols, g.og, weights, grp * g.og * g.k + c0 * khkw, g.k, band, col);
                Im2col.col2im(g, col, cn, oh0, r, image);
            }
            out.put(gxoff, image, 0, size);
        }

        private void backwardWeightsUnit(int u, Workspace ws) {
            if (u == weightUnits) {
                biasSums(g, gy, bias, accumulate);
                return;
            }
            int blk = u % blocks, grp = u / blocks;
            int khkw = g.kh * g.kw, c0 = blk * block, cn = Math.min(block, g.cg - c0), kb = cn * khkw;
            int rowsPerBand = Partition.backwardRows(g, kb);
            float[][] acc = ws.rows(ACCUMULATOR, g.og, kb);
            int gwoff = grp * g.og * g.k + c0 * khkw;
            for (int o = 0; o < g.og; o++) {
                if (accumulate) {
                    out.get(gwoff + o * g.k, acc[o], 0, kb);
                } else {
                    Arrays.fill(acc[o], 0, kb, 0f);
                }
            }
            for (int n = 0; n < g.n; n++) {
                int xoff = (n * g.c + grp * g.cg + c0) * g.inPlane();
                int gyoff = (n * g.o + grp * g.og) * g.outPlane();
                for (int oh0 = 0; oh0 < g.oh; oh0 += rowsPerBand) {
                    int r = Math.min(rowsPerBand, g.oh - oh0), cols = r * g.ow;
                    float[][] col = ws.rows(COLUMNS, kb, cols), colT = ws.rows(TRANSPOSED, cols, kb);
                    float[] band = ws.flat(g.og * cols);
                    Im2col.im2col(g, in, xoff, cn, oh0, r, col);
                    Gemm.transpose(kb, cols, col, colT);
                    for (int o = 0; o < g.og; o++) {
                        gy.get(gyoff + o * g.outPlane() + oh0 * g.ow, band, o * cols, cols);
                    }
                    Gemm.nn(g.og, kb, cols, band, 0, cols, colT, acc);
                }
            }
            for (int o = 0; o < g.og; o++) {
                out.put(gwoff + o * g.k, acc[o], 0, kb);
            }
        }
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

    /** The kinds of {@link Workspace#rows}: the column matrix, output rows, the transposed columns, weight-gradient sums. */
    public static final int COLUMNS = 0, OUTPUT = 1, TRANSPOSED = 2, ACCUMULATOR = 3;

    /**
     * One thread's scratch arrays for a run of units, grown on demand and kept for the next; the 3-D
     * passes ({@code JavaVolume}) take them from the same pool.
     */
    public static final class Workspace {
        private final float[][][] rows = {new float[0][], new float[0][], new float[0][], new float[0][]};
        private float[] image = new float[0], flat = new float[0];

        /**
         * At least {@code count} rows of at least {@code length} floats (rows may be longer). A shape that
         * does not fit gets rows of exactly its size: growing each dimension to the largest ever seen
         * could multiply a tall shape's row count by a wide shape's row length.
         */
        public float[][] rows(int kind, int count, int length) {
            float[][] r = rows[kind];
            if (r.length < count || (count > 0 && r[0].length < length)) {
                r = new float[count][length];
                rows[kind] = r;
            }
            return r;
        }

        public float[] image(int size) {
            return image.length >= size ? image : (image = new float[size]);
        }

        public float[] flat(int size) {
            return flat.length >= size ? flat : (flat = new float[size]);
        }
    }
}
