package dev.conv4j.engine;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.nativeblas.NativeKernels;
import dev.conv4j.nativeblas.NativeLibrary;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The fast engine: native im2col/col2im and OpenBLAS {@code sgemm}, straight on the tensors'
 * off-heap memory. Per image and group, forward computes {@code y = W · col}, backward-data
 * {@code dcol = Wᵀ · gy} followed by col2im, backward-weights {@code gw += gy · colᵀ}. 1x1 kernels
 * with stride 1 and no padding use the input as the column matrix; depthwise convolutions and small
 * stride-1 layers use direct kernels; the forward and input-gradient passes of 3x3 stride-1 layers
 * may use Winograd F(4x4, 3x3) or F(2x2, 3x3) (see {@link dev.conv4j.ConvAlgorithm}).
 * Work is split into units (see {@link Partition}) run on this engine's threads, each with
 * single-threaded sgemm and its own scratch buffers, reused across calls.
 */
public final class BlasEngine extends AbstractConvEngine {
    private final WorkerPool pool;
    private final ThreadLocal<NativeWorkspace> workspace = ThreadLocal.withInitial(NativeWorkspace::new);
    /** Holds the Winograd weight transform of the calling thread, which its helpers read. */
    private final ThreadLocal<FloatPointer[]> winogradWeights = ThreadLocal.withInitial(() -> new FloatPointer[1]);
    private final ThreadLocal<Call> calls = ThreadLocal.withInitial(Call::new);

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
    public Conv2dPlan plan(Conv2dParams p, int[] inputShape, int[] weightShape) {
        return new BlasPlan(pool, p, inputShape, weightShape);
    }

    @Override
    protected void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        Call c = calls.get().start(g);
        BlasPasses.Args a = c.args;
        a.x = TensorPointers.of(x);
        a.w = TensorPointers.of(w);
        a.bias = TensorPointers.of(bias);
        a.y = TensorPointers.of(y);
        a.winograd = Partition.winogradTile(g, false);
        try {
            if (a.winograd != 0) {
                transformWeights(c, g, false);
            }
            pool.run(BlasPasses.forwardUnits(g, a.winograd), c.forward);
        } finally {
            c.end();
        }
    }

    @Override
    protected void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        Call c = calls.get().start(g);
        BlasPasses.Args a = c.args;
        a.gy = TensorPointers.of(gy);
        a.w = TensorPointers.of(w);
        a.gx = TensorPointers.of(gx);
        a.accumulate = accumulate;
        a.winograd = Partition.dataWinogradTile(g);
        try {
            if (a.winograd != 0) {
                transformWeights(c, g, true);
            }
            pool.run(BlasPasses.backwardDataUnits(g, a.winograd), c.backwardData);
        } finally {
            c.end();
        }
    }

    @Override
    protected void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        Call c = calls.get().start(g);
        BlasPasses.Args a = c.args;
        a.x = TensorPointers.of(x);
        a.gy = TensorPointers.of(gy);
        a.gw = TensorPointers.of(gw);
        a.gbias = TensorPointers.of(gbias);
        a.accumulate = accumulate;
        try {
            pool.run(BlasPasses.backwardWeightsUnits(g, gbias != null), c.backwardWeights);
        } finally {
            c.end();
        }
    }

    /**
     * The arguments of the calling thread's current call and the units that read them, made once per
     * thread so that a call allocates nothing. The engine's helper threads read the caller's object
     * while the call runs; the caller does not reuse it before the call returns.
     */
    private final class Call {
        final BlasPasses.Args args = new BlasPasses.Args();
        ConvGeometry g;
        final WorkerPool.Unit forward = u -> BlasPasses.forwardUnit(g, u, args, workspace.get());
        final WorkerPool.Unit backwardData = u -> BlasPasses.backwardDataUnit(g, u, args, workspace.get());
        final WorkerPool.Unit backwardWeights = u -> BlasPasses.backwardWeightsUnit(g, u, args, workspace.get());
        final WorkerPool.Unit transform = u -> BlasPasses.transformUnit(g, u, args);

        Call start(ConvGeometry geometry) {
            g = geometry;
            args.call++;
            return this;
        }

        /** Drops the references to the call's memory. */
        void end() {
            BlasPasses.Args a = args;
            a.x = a.w = a.bias = a.y = a.gy = a.gx = a.gw = a.gbias = a.wSource = a.transform = null;
            a.accumulate = false;
            a.winograd = 0;
            g = null;
        }
    }

    /**
     * U = G w Gᵀ (of the turned kernels with flip) into the calling thread's buffer, grown as needed
     * and kept, on the engine's threads; the call's weights become U.
     */
    private void transformWeights(Call c, ConvGeometry g, boolean flip) {
        BlasPasses.Args a = c.args;
        FloatPointer[] holder = winogradWeights.get();
        long size = NativeKernels.winogradWeightSize(g, a.winograd);
        if (holder[0] == null || holder[0].limit() < size) {
            if (holder[0] != null) {
                holder[0].close();
            }
            holder[0] = new FloatPointer(size);
        }
        a.wSource = a.w;
        a.transform = holder[0];
        a.flip = flip;
        pool.run(BlasPasses.transformUnits(g), c.transform);
        a.w = holder[0];
    }
}
