package dev.conv4j.internal.volume;

import static dev.conv4j.internal.engine.JavaGemmEngine.ACCUMULATOR;
import static dev.conv4j.internal.engine.JavaGemmEngine.COLUMNS;
import static dev.conv4j.internal.engine.JavaGemmEngine.OUTPUT;
import static dev.conv4j.internal.engine.JavaGemmEngine.TRANSPOSED;

import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.internal.engine.Gemm;
import dev.conv4j.internal.engine.JavaGemmEngine.Workspace;
import dev.conv4j.internal.engine.Partition;
import dev.conv4j.internal.engine.Pool;
import dev.conv4j.internal.engine.TensorMemory;
import dev.conv4j.internal.engine.WorkerPool;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * The java engine's 3-D passes: vol2col + {@link Gemm}, per image and group, the same structure as its
 * 2-D im2col passes. Forward, {@code y = W · col} band by band of output rows; the input gradient,
 * {@code dcol = Wᵀ · gy} then col2vol, per block of input channels; the weight gradient,
 * {@code gw += gy · colᵀ} per block of input channels, summed over the batch and the bands in order.
 * The units ({@link VolumePartition}) run on the engine's threads with workspaces from the engine's
 * pool, and a call's context (its units, its heap copy of the weights) comes from a pool of its own, so
 * a warm call allocates nothing.
 */
public final class JavaVolume implements Conv3dKernels {
    private final WorkerPool pool;
    private final Pool<Workspace> workspaces;
    private final Pool<Call> calls = new Pool<>(Call::new, null, null);

    /** The 3-D passes of the java engine whose threads and workspaces these are. */
    public JavaVolume(WorkerPool pool, Pool<Workspace> workspaces) {
        this.pool = pool;
        this.workspaces = workspaces;
    }

    @Override
    public void forward(Conv3dGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y, boolean accumulate) {
        bufferable(x, "x");
        bufferable(w, "w");
        bufferable(y, "y");
        Call c = calls.take();
        try {
            c.start(g, TensorMemory.buffer(x), w, TensorMemory.buffer(bias), TensorMemory.buffer(y), accumulate);
            c.rows = VolumePartition.forwardRows(g);
            c.bands = Partition.bands(g.outRows(), c.rows);
            pool.run(c.job, g.n * g.groups * c.bands, c.forward, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    @Override
    public void backwardData(Conv3dGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        bufferable(gy, "gy");
        bufferable(w, "w");
        bufferable(gx, "gx");
        Call c = calls.take();
        try {
            c.start(g, TensorMemory.buffer(gy), w, null, TensorMemory.buffer(gx), accumulate);
            c.block = VolumePartition.dataChannelBlock(g);
            c.blocks = Partition.bands(g.cg, c.block);
            pool.run(c.job, g.n * g.groups * c.blocks, c.backwardData, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    @Override
    public void backwardWeights(Conv3dGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        bufferable(x, "x");
        bufferable(gy, "gy");
        bufferable(gw, "gw");
        Call c = calls.take();
        try {
            c.start(g, TensorMemory.buffer(x), null, TensorMemory.buffer(gbias), TensorMemory.buffer(gw), accumulate);
            c.gy = TensorMemory.buffer(gy);
            c.block = VolumePartition.weightChannelBlock(g);
            c.blocks = Partition.bands(g.cg, c.block);
            c.weightUnits = g.groups * c.blocks;
            pool.run(c.job, c.weightUnits + (gbias == null ? 0 : 1), c.backwardWeights, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    /** Rejects a tensor too large for a Java buffer, through which this engine reads every tensor. */
    private static void bufferable(Tensor t, String name) {
        if (t.storageSize() > Tensor.MAX_BUFFER_ELEMENTS) {
            throw new IllegalArgumentException(name + " " + Arrays.toString(t.shape()) + " has " + t.storageSize()
                    + " floats, more than the " + Tensor.MAX_BUFFER_ELEMENTS + " (2 GiB) a Java buffer addresses;"
                    + " the java engine reads tensors through Java buffers: use the blas engine for tensors this large");
        }
    }

    /**
     * One call in flight: its geometry, buffers and the weights copied to the heap, and its units, made
     * once so that a call allocates nothing.
     */
    private static final class Call {
        final WorkerPool.Job job = new WorkerPool.Job();
        Conv3dGeometry g;
        /** in: x (forward, weight gradient) or gy (input gradient); out: y, gx or gw; bias: bias or gbias. */
        FloatBuffer in, out, bias, gy;
        float[] weights = new float[0];
        boolean accumulate;
        int rows, bands, block, blocks, weightUnits;
        final WorkerPool.Unit<Workspace> forward = this::forwardUnit;
        final WorkerPool.Unit<Workspace> backwardData = this::backwardDataUnit;
        final WorkerPool.Unit<Workspace> backwardWeights = this::backwardWeightsUnit;

        void start(Conv3dGeometry geometry, FloatBuffer in, Tensor w, FloatBuffer bias, FloatBuffer out, boolean accumulate) {
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

        /** Output rows [r0, r0+r) of every output channel of one group of one image. */
        private void forwardUnit(int u, Workspace ws) {
            int band = u % bands, grp = (u / bands) % g.groups, n = u / (bands * g.groups);
            int r0 = band * rows, r = Math.min(rows, g.outRows() - r0), cols = r * g.ow;
            int volume = g.outVolume();
            float[][] col = ws.rows(COLUMNS, g.k, cols), o = ws.rows(OUTPUT, g.og, cols);
            Vol2col.vol2col(g, in, (n * g.c + grp * g.cg) * g.inVolume(), g.cg, r0, r, col);
            int yoff = (n * g.o + grp * g.og) * volume + r0 * g.ow;
            for (int i = 0; i < g.og; i++) {
                float b = bias == null ? 0f : bias.get(grp * g.og + i);
                if (accumulate) {
                    // y + bias first, then the products added onto it: the order of the blas engine
                    out.get(yoff + i * volume, o[i], 0, cols);
                    if (bias != null) {
                        for (int j = 0; j < cols; j++) {
                            o[i][j] += b;
                        }
                    }
                } else {
                    Arrays.fill(o[i], 0, cols, b);
                }
            }
            Gemm.nn(g.og, cols, g.k, weights, grp * g.og * g.k, g.k, col, o);
            for (int i = 0; i < g.og; i++) {
                out.put(yoff + i * volume, o[i], 0, cols);
            }
        }

        /** The input gradient of one block of input channels of one group of one image, band by band of gy. */
        private void backwardDataUnit(int u, Workspace ws) {
            int blk = u % blocks, grp = (u / blocks) % g.groups, n = u / (blocks * g.groups);
            int taps = g.taps(), c0 = blk * block, cn = Math.min(block, g.cg - c0), kb = cn * taps;
            int rowsPerBand = VolumePartition.backwardRows(g, kb);
            int gxoff = (n * g.c + grp * g.cg + c0) * g.inVolume(), size = cn * g.inVolume();
            float[] image = ws.image(size);
            if (accumulate) {
                out.get(gxoff, image, 0, size);
            } else {
                Arrays.fill(image, 0, size, 0f);
            }
            int volume = g.outVolume(), gyoff = (n * g.o + grp * g.og) * volume;
            for (int r0 = 0; r0 < g.outRows(); r0 += rowsPerBand) {
                int r = Math.min(rowsPerBand, g.outRows() - r0), cols = r * g.ow;
                float[][] band = ws.rows(OUTPUT, g.og, cols), col = ws.rows(COLUMNS, kb, cols);
                for (int i = 0; i < g.og; i++) {
                    in.get(gyoff + i * volume + r0 * g.ow, band[i], 0, cols);
                }
                Gemm.tn(kb, cols, g.og, weights, grp * g.og * g.k + c0 * taps, g.k, band, col);
                Vol2col.col2vol(g, col, cn, r0, r, image);
            }
            out.put(gxoff, image, 0, size);
        }

        /** The weight gradient of one block of input channels of one group, summed over the batch and bands in order. */
        private void backwardWeightsUnit(int u, Workspace ws) {
            if (u == weightUnits) {
                biasSums(g, gy, bias, accumulate);
                return;
            }
            int blk = u % blocks, grp = u / blocks;
            int taps = g.taps(), c0 = blk * block, cn = Math.min(block, g.cg - c0), kb = cn * taps;
            int rowsPerBand = VolumePartition.backwardRows(g, kb);
            float[][] acc = ws.rows(ACCUMULATOR, g.og, kb);
            int gwoff = grp * g.og * g.k + c0 * taps;
            for (int o = 0; o < g.og; o++) {
                if (accumulate) {
                    out.get(gwoff + o * g.k, acc[o], 0, kb);
                } else {
                    Arrays.fill(acc[o], 0, kb, 0f);
                }
            }
            int volume = g.outVolume();
            for (int n = 0; n < g.n; n++) {
                int xoff = (n * g.c + grp * g.cg + c0) * g.inVolume();
                int gyoff = (n * g.o + grp * g.og) * volume;
                for (int r0 = 0; r0 < g.outRows(); r0 += rowsPerBand) {
                    int r = Math.min(rowsPerBand, g.outRows() - r0), cols = r * g.ow;
                    float[][] col = ws.rows(COLUMNS, kb, cols), colT = ws.rows(TRANSPOSED, cols, kb);
                    float[] band = ws.flat(g.og * cols);
                    Vol2col.vol2col(g, in, xoff, cn, r0, r, col);
                    Gemm.transpose(kb, cols, col, colT);
                    for (int o = 0; o < g.og; o++) {
                        gy.get(gyoff + o * volume + r0 * g.ow, band, o * cols, cols);
                    }
                    Gemm.nn(g.og, kb, cols, band, 0, cols, colT, acc);
                }
            }
            for (int o = 0; o < g.og; o++) {
                out.put(gwoff + o * g.k, acc[o], 0, kb);
            }
        }
    }

    /**
     * The bias gradient: per output channel, the values of gy image by image and position by position
     * added one at a time in double, the order of the naive passes and of the native sums.
     */
    static void biasSums(Conv3dGeometry g, FloatBuffer gy, FloatBuffer gb, boolean accumulate) {
        int volume = g.outVolume();
        for (int o = 0; o < g.o; o++) {
            double s = 0;
            for (int n = 0; n < g.n; n++) {
                int base = (n * g.o + o) * volume;
                for (int i = 0; i < volume; i++) {
                    s += gy.get(base + i);
                }
            }
            gb.put(o, (float) (accumulate ? gb.get(o) + s : s));
        }
    }
}
