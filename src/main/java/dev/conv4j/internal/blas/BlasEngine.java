package dev.conv4j.internal.blas;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.Activation;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.internal.engine.AbstractConvEngine;
import dev.conv4j.internal.engine.Pass;
import dev.conv4j.internal.engine.Pool;
import dev.conv4j.internal.engine.TensorMemory;
import dev.conv4j.internal.engine.WorkerPool;
import dev.conv4j.internal.nativeblas.NativeLibrary;
import dev.conv4j.internal.volume.BlasVolume;
import dev.conv4j.internal.volume.Conv3dKernels;
import dev.conv4j.internal.volume.VolumeEngine;

/**
 * The fast engine: each pass by the first of its {@link Algorithms} that applies (direct depthwise,
 * small-layer direct, Winograd F(4x4, 3x3) or F(2x2, 3x3), im2col + GEMM), on native kernels straight
 * over the tensors' off-heap memory, its units run on this engine's threads with single-threaded GEMMs.
 *
 * <p>A call checks out a context ({@link BlasCall}: its arguments, its job for the helpers, its
 * transformed-weight buffer) from a pool, and each thread running its units checks out a workspace
 * for its run: memory follows how many calls run at once, never how many threads ever called (a server
 * on virtual threads makes one per request).
 */
public final class BlasEngine extends AbstractConvEngine implements VolumeEngine {
    private final WorkerPool workers;
    private final Pool<BlasCall> calls;
    private final Pool<NativeWorkspace> workspaces;
    private final BlasVolume<NativeWorkspace> volumes;

    /**
     * @param threads the most threads one call uses (the caller included)
     * @throws UnsupportedOperationException if the native library or OpenBLAS cannot be loaded
     */
    public BlasEngine(int threads) {
        NativeLibrary.require();
        workers = new WorkerPool("blas", threads);
        calls = new Pool<>(() -> new BlasCall(workers), BlasCall::close, null);
        // a workspace that holds nothing (its first allocation failed) is not worth keeping
        workspaces = new Pool<>(NativeWorkspace::new, NativeWorkspace::close, w -> w.bytes() > 0);
        volumes = new BlasVolume<>(workers, workspaces);
    }

    /** The 3-D passes, on this engine's threads and workspaces. */
    @Override
    public Conv3dKernels volumes() {
        return volumes;
    }

    @Override
    public String name() {
        return "blas";
    }

    /** The most threads one call uses. */
    public int threads() {
        return workers.threads();
    }

    @Override
    public Conv2dPlan plan(Conv2dParams p, int[] inputShape, int[] weightShape) {
        return new BlasPlan(workers, p, inputShape, weightShape);
    }

    /** Layouts other than NCHW run where the pass's algorithm is a channel-blocked kernel ({@link Layouts}). */
    @Override
    protected boolean runsLayouts(ConvGeometry g, Pass pass, Layout in, Layout out) {
        return Layouts.runs(Layouts.chosen(Algorithms.of(g), pass), in, out);
    }

    @Override
    protected void reorder(Tensor src, Tensor dst) {
        Layouts.reorder(src, dst);
    }

    /** The channel-blocked forward kernel applies residual and activation on its registers, in place too. */
    @Override
    protected boolean fusesEpilogue(ConvGeometry g, Layout y, Layout residual, boolean inPlace, Activation act) {
        return Layouts.blocked(Algorithms.of(g).forward);
    }

    @Override
    protected void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        forward(g, x, w, bias, null, Activation.NONE, y);
    }

    @Override
    protected void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        BlasCall c = calls.take();
        try {
            CallArgs a = c.args;
            a.x = TensorMemory.pointer(x);
            a.w = TensorMemory.pointer(w);
            a.bias = TensorMemory.pointer(bias);
            a.y = TensorMemory.pointer(y);
            Layouts.epilogue(a, x, residual, act, y);
            c.run(g, Algorithms.of(g).forward, false, workspaces);
        } finally {
            c.args.clear(); // also when a tensor was refused before the call ran
            calls.give(c);
        }
    }

    @Override
    protected void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        BlasCall c = calls.take();
        try {
            CallArgs a = c.args;
            a.gy = TensorMemory.pointer(gy);
            a.w = TensorMemory.pointer(w);
            a.gx = TensorMemory.pointer(gx);
            a.accumulate = accumulate;
            Layouts.pass(a, gy, gx);
            c.run(g, Algorithms.of(g).backwardData, false, workspaces);
        } finally {
            c.args.clear(); // also when a tensor was refused before the call ran
            calls.give(c);
        }
    }

    @Override
    protected void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        BlasCall c = calls.take();
        try {
            CallArgs a = c.args;
            a.x = TensorMemory.pointer(x);
            a.gy = TensorMemory.pointer(gy);
            a.gw = TensorMemory.pointer(gw);
            a.gbias = TensorMemory.pointer(gbias);
            a.accumulate = accumulate;
            Layouts.pass(a, x, gy);
            c.run(g, Algorithms.of(g).backwardWeights, gbias != null, workspaces);
        } finally {
            c.args.clear(); // also when a tensor was refused before the call ran
            calls.give(c);
        }
    }
}
