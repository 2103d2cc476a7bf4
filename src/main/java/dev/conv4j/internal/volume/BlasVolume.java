package dev.conv4j.internal.volume;

import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.internal.blas.Scratch;
import dev.conv4j.internal.engine.Partition;
import dev.conv4j.internal.engine.Pool;
import dev.conv4j.internal.engine.TensorMemory;
import dev.conv4j.internal.engine.WorkerPool;
import dev.conv4j.internal.nativeblas.NativeKernels;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The blas engine's 3-D passes: vol2col/col2vol in C ({@code native/volume/}) and the products of the
 * 2-D im2col passes (conv4j's own AVX-512 or AVX2 GEMM where it is faster, else OpenBLAS sgemm), with the
 * units of the java engine's 3-D passes ({@link VolumePartition}) on the blas engine's threads, each with a
 * workspace from the engine's pool. Per image and group, forward computes {@code y = W · col} band by band
 * of output rows; the input gradient {@code dcol = Wᵀ · gy} then col2vol, per block of input channels; the
 * weight gradient {@code gw += gy · colᵀ}, per block of input channels, summed over the batch and the bands
 * in order. A 1x1x1 stride-1 unpadded layer reads its input in place as the column matrix (and its input
 * gradient is written straight into gx, band by band). Every offset and extent is checked by
 * {@link NativeKernels} before native code runs.
 *
 * @param <S> the engine's workspace type
 */
public final class BlasVolume<S extends Scratch> implements Conv3dKernels {
    private final WorkerPool workers;
    private final Pool<S> workspaces;
    private final Pool<Call> calls = new Pool<>(Call::new, null, null);

    /** The 3-D passes of the blas engine whose threads and workspaces these are. */
    public BlasVolume(WorkerPool workers, Pool<S> workspaces) {
        this.workers = workers;
        this.workspaces = workspaces;
    }

    @Override
    public void forward(Conv3dGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y, boolean accumulate) {
        Call c = calls.take();
        try {
            c.start(g, accumulate);
            c.x = TensorMemory.pointer(x);
            c.w = TensorMemory.pointer(w);
            c.bias = TensorMemory.pointer(bias);
            c.y = TensorMemory.pointer(y);
            c.rows = VolumePartition.forwardRows(g);
            c.bands = Partition.bands(g.outRows(), c.rows);
            workers.run(c.job, g.n * g.groups * c.bands, c.forward, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    @Override
    public void backwardData(Conv3dGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        Call c = calls.take();
        try {
            c.start(g, accumulate);
            c.gy = TensorMemory.pointer(gy);
            c.w = TensorMemory.pointer(w);
            c.x = TensorMemory.pointer(gx);
            if (g.isPointwise()) {
                // gx = Wᵀ gy band by band of pixels, every channel in one product: no column matrix
                c.rows = VolumePartition.forwardRows(g);
                c.bands = Partition.bands(g.outRows(), c.rows);
                workers.run(c.job, g.n * g.groups * c.bands, c.pointwiseData, workspaces);
            } else {
                c.block = VolumePartition.dataChannelBlock(g);
                c.blocks = Partition.bands(g.cg, c.block);
                workers.run(c.job, g.n * g.groups * c.blocks, c.backwardData, workspaces);
            }
        } finally {
            c.end();
            calls.give(c);
        }
    }

    @Override
    public void backwardWeights(Conv3dGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        Call c = calls.take();
        try {
            c.start(g, accumulate);
            c.x = TensorMemory.pointer(x);
            c.gy = TensorMemory.pointer(gy);
            c.w = TensorMemory.pointer(gw);
            c.bias = TensorMemory.pointer(gbias);
            c.block = VolumePartition.weightChannelBlock(g);
            c.blocks = Partition.bands(g.cg, c.block);
            c.weightUnits = g.groups * c.blocks;
            workers.run(c.job, c.weightUnits + (gbias == null ? 0 : 1), c.backwardWeights, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    /** The packing buffer of conv4j's GEMM for a product of this shape, or null when it goes to OpenBLAS. */
    private static FloatPointer pack(Scratch s, long rows, long columns, boolean transposedA) {
        return s.get(Scratch.GEMM_PACK, NativeKernels.gemmPackSize(rows, columns, transposedA));
    }

    /** The column buffer for {@code floats} floats; the 2-D passes' record of what it holds is dropped, as this overwrites it. */
    private static FloatPointer columns(Scratch s, long floats) {
        s.heldColumns(0, -1);
        return s.get(Scratch.COLUMNS, floats);
    }

    /** One call in flight: its geometry, its tensors' memory, and its units, made once so that a call allocates nothing. */
    private final class Call {
        final WorkerPool.Job job = new WorkerPool.Job();
        Conv3dGeometry g;
        /** x: x, or gx for the input gradient; w: w, or gw for the weight gradient; bias: bias or gbias. */
        FloatPointer x, w, bias, y, gy;
        boolean accumulate;
        int rows, bands, block, blocks, weightUnits;
        final WorkerPool.Unit<S> forward = this::forwardUnit;
        final WorkerPool.Unit<S> pointwiseData = this::pointwiseDataUnit;
        final WorkerPool.Unit<S> backwardData = this::backwardDataUnit;
        final WorkerPool.Unit<S> backwardWeights = this::backwardWeightsUnit;

        void start(Conv3dGeometry geometry, boolean accumulate) {
            g = geometry;
            this.accumulate = accumulate;
        }

        void end() {
            g = null;
            x = w = bias = y = gy = null;
        }

        /** Output rows [r0, r0+r) of every output channel of one group of one image. */
        private void forwardUnit(int u, S s) {
            int band = u % bands, grp = (u / bands) % g.groups, n = u / (bands * g.groups);
            int r0 = band * rows, r = Math.min(rows, g.outRows() - r0);
            FloatPointer col = g.isPointwise() ? null : columns(s, NativeKernels.volumeColumns(g, g.cg, r));
            NativeKernels.volumeForwardBand(g, x, w, bias, y, col, pack(s, 0, (long) r * g.ow, false), n, grp, r0, r,
                    accumulate);
        }

        /** A pointwise layer's input gradient over output rows [r0, r0+r) of every channel of one group of one image. */
        private void pointwiseDataUnit(int u, S s) {
            int band = u % bands, grp = (u / bands) % g.groups, n = u / (bands * g.groups);
            int r0 = band * rows, r = Math.min(rows, g.outRows() - r0);
            NativeKernels.volumeBackwardDataBand(g, gy, w, x, null, pack(s, g.cg, (long) r * g.ow, true), n, grp, 0, g.cg, r0,
                    r, accumulate);
        }

        /** The input gradient of one block of input channels of one group of one image, band by band of gy. */
        private void backwardDataUnit(int u, S s) {
            int blk = u % blocks, grp = (u / blocks) % g.groups, n = u / (blocks * g.groups);
            int c0 = blk * block, cn = Math.min(block, g.cg - c0), kb = cn * g.taps();
            if (!accumulate) {
                NativeKernels.fill(x, ((long) n * g.c + (long) grp * g.cg + c0) * g.inVolume(), (long) cn * g.inVolume(), 0f);
            }
            int per = VolumePartition.backwardRows(g, kb);
            FloatPointer col = columns(s, NativeKernels.volumeColumns(g, cn, per));
            FloatPointer pack = pack(s, kb, (long) per * g.ow, true);
            for (int r0 = 0; r0 < g.outRows(); r0 += per) {
                NativeKernels.volumeBackwardDataBand(g, gy, w, x, col, pack, n, grp, c0, cn, r0, Math.min(per, g.outRows() - r0),
                        true);
            }
        }

        /** The weight gradient of one block of input channels of one group, summed over the batch and bands in order. */
        private void backwardWeightsUnit(int u, S s) {
            if (u == weightUnits) {
                NativeKernels.volumeChannelSums(g, gy, bias, 0, g.o, accumulate);
                return;
            }
            int blk = u % blocks, grp = u / blocks;
            int c0 = blk * block, cn = Math.min(block, g.cg - c0), kb = cn * g.taps();
            int per = VolumePartition.backwardRows(g, kb);
            FloatPointer col = g.isPointwise() ? null : columns(s, NativeKernels.volumeColumns(g, cn, per));
            FloatPointer pack = pack(s, 0, kb, false);
            boolean add = accumulate;
            for (int n = 0; n < g.n; n++) {
                for (int r0 = 0; r0 < g.outRows(); r0 += per) {
                    NativeKernels.volumeBackwardWeightsBand(g, x, gy, w, col, pack, n, grp, c0, cn, r0,
                            Math.min(per, g.outRows() - r0), add);
                    add = true;
                }
            }
        }
    }
}
