package dev.conv4j.engine;

import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.nativeblas.NativeKernels;
import dev.conv4j.nativeblas.NativeLibrary;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The fast engine: native im2col/col2im and OpenBLAS {@code sgemm}, straight on the tensors'
 * off-heap memory. Per image and group, forward computes {@code y = W · col}, backward-data
 * {@code dcol = Wᵀ · gy} followed by col2im, backward-weights {@code gw += gy · colᵀ}. 1x1 kernels
 * with stride 1 and no padding use the input as the column matrix; depthwise convolutions use a
 * direct kernel. Work is split into units (see {@link Partition}) run on this engine's threads,
 * each with single-threaded sgemm and its own column buffer, reused across calls.
 */
public final class BlasEngine extends AbstractConvEngine {
    private final WorkerPool pool;
    private final ThreadLocal<NativeWorkspace> workspace = ThreadLocal.withInitial(NativeWorkspace::new);

    /**
     * @param threads the most threads one call uses (the caller included)
     * @throws UnsupportedOperationException if the native library or OpenBLAS cannot be loaded
     */
    public BlasEngine(int threads) {
        NativeLibrary.require();
        pool = new WorkerPool("blas", threads);
    }

    @Override
    public String name() {
        return "blas";
    }

    /** The most threads one call uses. */
    public int threads() {
        return pool.threads();
    }

    @Override
    protected void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        FloatPointer xp = x.pointer(), wp = w.pointer(), bp = bias == null ? null : bias.pointer(), yp = y.pointer();
        if (g.isDepthwise()) {
            int blocks = Partition.bands(g.o, Partition.DEPTHWISE_BLOCK);
            pool.run(g.n * blocks, u -> {
                int o0 = (u % blocks) * Partition.DEPTHWISE_BLOCK;
                NativeKernels.depthwiseForward(g, xp, wp, bp, yp, u / blocks, o0,
                        Math.min(Partition.DEPTHWISE_BLOCK, g.o - o0));
            });
            return;
        }
        if (Partition.useWinograd(g, false)) {
            winogradForward(g, xp, wp, bp, yp);
            return;
        }
        int rows = Partition.forwardRows(g);
        int bands = Partition.bands(g.oh, rows);
        long colSize = g.isPointwise() ? 0 : (long) g.k * rows * g.ow;
        pool.run(g.n * g.groups * bands, u -> {
            int band = u % bands, grp = (u / bands) % g.groups, n = u / (bands * g.groups);
            int oh0 = band * rows;
            NativeKernels.forwardBand(g, xp, wp, bp, yp, workspace.get().get(COLUMNS, colSize), n, grp, oh0,
                    Math.min(rows, g.oh - oh0));
        });
    }

    /** Winograd F(2x2, 3x3): the weight transform once per call, then chunks of tiles as units. */
    private void winogradForward(ConvGeometry g, FloatPointer xp, FloatPointer wp, FloatPointer bp, FloatPointer yp) {
        FloatPointer u = workspace.get().get(WINOGRAD_WEIGHTS, NativeKernels.winogradWeightSize(g));
        NativeKernels.winogradWeights(g, wp, u);
        int tiles = NativeKernels.winogradTiles(g);
        int chunk = Partition.winogradChunk(g, tiles);
        int chunks = Partition.bands(tiles, chunk);
        pool.run(chunks, c -> {
            int t0 = c * chunk, tc = Math.min(chunk, tiles - t0);
            NativeWorkspace ws = workspace.get();
            NativeKernels.winogradForwardTiles(g, xp, u, bp, yp, ws.get(WINOGRAD_INPUT, NativeKernels.winogradInputSize(g, tc)),
                    ws.get(WINOGRAD_PRODUCT, NativeKernels.winogradProductSize(g, tc)), ws.get(WINOGRAD_SCRATCH, NativeKernels.winogradScratchSize(g)),
                    t0, tc);
        });
    }

    @Override
    protected void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        FloatPointer gyp = gy.pointer(), wp = w.pointer(), gxp = gx.pointer();
        if (g.isDepthwise()) {
            int blocks = Partition.bands(g.c, Partition.DEPTHWISE_BLOCK);
            pool.run(g.n * blocks, u -> {
                int c0 = (u % blocks) * Partition.DEPTHWISE_BLOCK;
                NativeKernels.depthwiseBackwardData(g, gyp, wp, gxp, u / blocks, c0,
                        Math.min(Partition.DEPTHWISE_BLOCK, g.c - c0), accumulate);
            });
            return;
        }
        int cb = Partition.channelBlock(g);
        int blocks = Partition.bands(g.cg, cb);
        int khkw = g.kh * g.kw;
        pool.run(g.n * g.groups * blocks, u -> {
            int blk = u % blocks, grp = (u / blocks) % g.groups, n = u / (blocks * g.groups);
            int c0 = blk * cb, cn = Math.min(cb, g.cg - c0);
            if (!accumulate) {
                long gxoff = ((long) n * g.c + (long) grp * g.cg + c0) * g.inPlane();
                NativeKernels.fill(gxp, gxoff, (long) cn * g.inPlane(), 0f);
            }
            int rows = Partition.backwardRows(g, cn * khkw);
            FloatPointer col = g.isPointwise() ? null : workspace.get().get(COLUMNS, (long) cn * khkw * rows * g.ow);
            for (int oh0 = 0; oh0 < g.oh; oh0 += rows) {
                NativeKernels.backwardDataBand(g, gyp, wp, gxp, col, n, grp, c0, cn, oh0, Math.min(rows, g.oh - oh0));
            }
        });
    }

    @Override
    protected void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        FloatPointer xp = x.pointer(), gyp = gy.pointer(), gwp = gw.pointer();
        FloatPointer gbp = gbias == null ? null : gbias.pointer();
        if (g.isDepthwise()) {
            int blocks = Partition.bands(g.o, Partition.DEPTHWISE_BLOCK);
            pool.run(blocks, u -> {
                int o0 = u * Partition.DEPTHWISE_BLOCK, on = Math.min(Partition.DEPTHWISE_BLOCK, g.o - o0);
                NativeKernels.depthwiseBackwardWeights(g, xp, gyp, gwp, o0, on, accumulate);
                if (gbp != null) {
                    NativeKernels.channelSums(g, gyp, gbp, o0, on, accumulate);
                }
            });
            return;
        }
        int cb = Partition.channelBlock(g);
        int blocks = Partition.bands(g.cg, cb);
        int khkw = g.kh * g.kw;
        int weightUnits = g.groups * blocks;
        int biasUnits = gbp == null ? 0 : 1;
        pool.run(weightUnits + biasUnits, u -> {
            if (u == weightUnits) {
                NativeKernels.channelSums(g, gyp, gbp, 0, g.o, accumulate);
                return;
            }
            int blk = u % blocks, grp = u / blocks;
            int c0 = blk * cb, cn = Math.min(cb, g.cg - c0);
            int rows = Partition.backwardRows(g, cn * khkw);
            FloatPointer col = g.isPointwise() ? null : workspace.get().get(COLUMNS, (long) cn * khkw * rows * g.ow);
            boolean add = accumulate;
            for (int n = 0; n < g.n; n++) {
                for (int oh0 = 0; oh0 < g.oh; oh0 += rows) {
                    NativeKernels.backwardWeightsBand(g, xp, gyp, gwp, col, n, grp, c0, cn, oh0,
                            Math.min(rows, g.oh - oh0), add);
                    add = true;
                }
            }
        });
    }

    private static final int COLUMNS = 0, WINOGRAD_WEIGHTS = 1, WINOGRAD_INPUT = 2, WINOGRAD_PRODUCT = 3,
            WINOGRAD_SCRATCH = 4;

    /** One thread's scratch buffers (column matrix, Winograd transforms), grown on demand and kept for the next call. */
    private static final class NativeWorkspace {
        private final FloatPointer[] buffers = new FloatPointer[5];

        FloatPointer get(int which, long floats) {
            if (floats == 0) {
                return null;
            }
            FloatPointer b = buffers[which];
            if (b == null || b.limit() < floats) {
                long size = b == null ? floats : Math.max(floats, b.limit() * 3 / 2);
                if (b != null) {
                    b.close();
                }
                b = new FloatPointer(size);
                buffers[which] = b;
            }
            return b;
        }
    }
}
