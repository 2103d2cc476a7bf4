package dev.conv4j.internal.engine;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.internal.nativeblas.NativeKernels;
import dev.conv4j.internal.nativeblas.NativeLibrary;
import dev.conv4j.internal.nativeblas.NativeMemory;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The fast engine: native im2col/col2im and OpenBLAS {@code sgemm}, straight on the tensors'
 * off-heap memory. Per image and group, forward computes {@code y = W · col}, backward-data
 * {@code dcol = Wᵀ · gy} followed by col2im, backward-weights {@code gw += gy · colᵀ}. 1x1 kernels
 * with stride 1 and no padding use the input as the column matrix; depthwise convolutions and small
 * stride-1 layers use direct kernels; the forward and input-gradient passes of 3x3 stride-1 layers
 * may use Winograd F(4x4, 3x3) or F(2x2, 3x3) (see {@link dev.conv4j.ConvAlgorithm}).
 *
 * <p>Work is split into units (see {@link Partition}) run on this engine's threads, each with
 * single-threaded sgemm. A call checks out a context (its arguments, its job for the helpers, its
 * Winograd weight buffer) from a pool, and each thread running its units checks out a workspace for
 * its run: memory follows how many calls run at once (see {@link AbstractConvEngine#MAX_CALLS}),
 * never how many threads ever called (a server on virtual threads makes one per request).
 */
public final class BlasEngine extends AbstractConvEngine {
    private final WorkerPool pool;
    private final Pool<Call> calls;
    private final Pool<NativeWorkspace> workspaces;

    /**
     * @param threads the most threads one call uses (the caller included)
     * @throws UnsupportedOperationException if the native library or OpenBLAS cannot be loaded
     */
    public BlasEngine(int threads) {
        NativeLibrary.require();
        pool = new WorkerPool("blas", threads);
        calls = new Pool<>(Call::new, Call::close, null);
        // a workspace that holds nothing (its first allocation failed) is not worth keeping
        workspaces = new Pool<>(NativeWorkspace::new, NativeWorkspace::close, w -> w.bytes() > 0);
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
    public Conv2dPlan plan(Conv2dParams p, int[] inputShape, int[] weightShape) {
        return new BlasPlan(pool, p, inputShape, weightShape);
    }

    @Override
    protected void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        Call c = calls.take();
        try {
            BlasPasses.Args a = c.start(g);
            a.x = TensorMemory.pointer(x);
            a.w = TensorMemory.pointer(w);
            a.bias = TensorMemory.pointer(bias);
            a.y = TensorMemory.pointer(y);
            a.winograd = Partition.winogradTile(g, false);
            if (a.winograd != 0) {
                c.transformWeights(false);
            }
            pool.run(c.job, BlasPasses.forwardUnits(g, a.winograd), c.forward, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    @Override
    protected void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        Call c = calls.take();
        try {
            BlasPasses.Args a = c.start(g);
            a.gy = TensorMemory.pointer(gy);
            a.w = TensorMemory.pointer(w);
            a.gx = TensorMemory.pointer(gx);
            a.accumulate = accumulate;
            a.winograd = Partition.dataWinogradTile(g);
            if (a.winograd != 0) {
                c.transformWeights(true);
            }
            pool.run(c.job, BlasPasses.backwardDataUnits(g, a.winograd), c.backwardData, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    @Override
    protected void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        Call c = calls.take();
        try {
            BlasPasses.Args a = c.start(g);
            a.x = TensorMemory.pointer(x);
            a.gy = TensorMemory.pointer(gy);
            a.gw = TensorMemory.pointer(gw);
            a.gbias = TensorMemory.pointer(gbias);
            a.accumulate = accumulate;
            pool.run(c.job, BlasPasses.backwardWeightsUnits(g, gbias != null), c.backwardWeights, workspaces);
        } finally {
            c.end();
            calls.give(c);
        }
    }

    /**
     * One call in flight: its arguments, the units that read them (made once, so that a call allocates
     * nothing), its job for the helpers and its Winograd weight buffer. The engine's helper threads read
     * the context while the call runs; it goes back to the pool only after the call returns.
     */
    private final class Call {
        final BlasPasses.Args args = new BlasPasses.Args();
        final WorkerPool.Job job = new WorkerPool.Job();
        ConvGeometry g;
        /** The Winograd weight transform U of the call, grown as needed and kept. */
        FloatPointer winogradWeights;
        final WorkerPool.Unit<NativeWorkspace> forward = (u, ws) -> BlasPasses.forwardUnit(g, u, args, ws);
        final WorkerPool.Unit<NativeWorkspace> backwardData = (u, ws) -> BlasPasses.backwardDataUnit(g, u, args, ws);
        final WorkerPool.Unit<NativeWorkspace> backwardWeights = (u, ws) -> BlasPasses.backwardWeightsUnit(g, u, args, ws);
        final WorkerPool.Unit<Object> transform = (u, ignored) -> BlasPasses.transformUnit(g, u, args);

        BlasPasses.Args start(ConvGeometry geometry) {
            g = geometry;
            args.call++;
            return args;
        }

        /** Drops the references to the call's memory. */
        void end() {
            args.clear();
            g = null;
        }

        /**
         * U = G w Gᵀ (of the turned kernels with flip) into the context's buffer on the engine's
         * threads; the call's weights become U. Under AUTO the untransformed weights stay at hand for
         * recomputing tiles that come out non-finite.
         */
        void transformWeights(boolean flip) {
            BlasPasses.Args a = args;
            long size = NativeKernels.winogradWeightSize(g, a.winograd);
            winogradWeights = NativeMemory.grow(winogradWeights, size, size);
            a.wSource = a.w;
            BlasPasses.keepRaw(g, a, a.w, -1);
            a.transform = winogradWeights;
            a.flip = flip;
            pool.run(job, BlasPasses.transformUnits(g), transform, null);
            a.w = winogradWeights;
        }

        void close() {
            NativeMemory.free(winogradWeights);
            winogradWeights = null;
        }
    }
}
