package dev.conv4j.internal.blas;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.internal.engine.AbstractPlan;
import dev.conv4j.internal.engine.Pass;
import dev.conv4j.internal.engine.Pool;
import dev.conv4j.internal.engine.TensorMemory;
import dev.conv4j.internal.engine.WorkerPool;
import dev.conv4j.internal.nativeblas.NativeKernels;
import dev.conv4j.internal.nativeblas.NativeMemory;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The blas engine's plan: the algorithms chosen once for its geometry, run by the same executor
 * ({@link BlasCall}) as the per-call engine, behind the shared plan front ({@link AbstractPlan}: checks,
 * holds, layouts and epilogues). Where its algorithms are channel-blocked kernels it runs every layout
 * and the fused forward pass on them ({@link Layouts}). It owns everything a
 * call needs, allocated at creation: one workspace per thread that can take part, reserved to the most
 * any unit of its algorithms takes, and the transformed-weight buffer; so a call allocates nothing.
 * Prepacked weights live in buffers of their own: a copy, or the Winograd transform when the forward pass
 * with prepacked weights uses Winograd (with a copy of the weights beside it under {@code AUTO}, to
 * recompute tiles that come out non-finite). All of its memory is conv4j's own (see {@link NativeMemory}),
 * whatever JavaCPP scope was open when it was made.
 */
final class BlasPlan extends AbstractPlan {
    private final ConvGeometry g;
    private final Algorithms.Choice choice;
    private final BlasCall call;
    private final NativeWorkspace[] slots;
    private final Pool<NativeWorkspace> workspaces;
    /** Prepacked weights (a copy, or U), the untransformed copy kept beside U under AUTO, and the bias. */
    private FloatPointer packedWeights, packedRaw, packedBias;
    /** {@link NativeKernels#maxBits} of {@link #packedRaw}. */
    private int packedRawTop;

    BlasPlan(WorkerPool workers, Conv2dParams p, int[] inputShape, int[] weightShape) {
        super(ConvGeometry.of(p, inputShape, weightShape));
        g = geometry;
        choice = Algorithms.of(g);
        call = new BlasCall(workers);
        Algorithm[] passes = {forwardGiven(), choice.forwardPrepacked, choice.backwardData, choice.backwardWeights};
        int most = 1;
        long transform = 0;
        long[] sizes = choice.scratch();
        for (Algorithm a : passes) {
            most = Math.max(most, a.units(g, true));
            a.scratch(g, sizes);
            if (a != choice.forwardPrepacked || a == passes[0]) {
                transform = Math.max(transform, a.transformSize(g)); // per-call weights transform into the call's buffer
            }
        }
        // at most this many threads take part in a call, each holding one workspace for its run
        slots = new NativeWorkspace[Math.min(workers.threads(), most)];
        workspaces = new Pool<>(NativeWorkspace::new, NativeWorkspace::close, null);
        try {
            for (int s = 0; s < slots.length; s++) {
                slots[s] = new NativeWorkspace();
                slots[s].reserve(sizes);
                workspaces.give(slots[s]);
            }
            call.reserveTransform(transform);
        } catch (RuntimeException | Error e) {
            free();
            throw e;
        }
    }

    /**
     * The forward pass with weights given per call: the prepacked pass's algorithm where that is the
     * channel-blocked kernel, so that both forms give the same bits and take the same layouts.
     */
    private Algorithm forwardGiven() {
        return Layouts.blocked(choice.forwardPrepacked) ? choice.forwardPrepacked : choice.forward;
    }

    @Override
    protected boolean runsLayouts(ConvGeometry geometry, Pass pass, Layout in, Layout out) {
        return Layouts.runs(pass == Pass.FORWARD ? choice.forwardPrepacked : Layouts.chosen(choice, pass), in, out);
    }

    @Override
    protected void reorder(Tensor src, Tensor dst) {
        Layouts.reorder(src, dst);
    }

    @Override
    protected boolean fusesEpilogue(ConvGeometry geometry, Layout y, Layout residual, boolean inPlace, Activation act) {
        return Layouts.blocked(choice.forwardPrepacked);
    }

    @Override
    protected long ownBytes() {
        long n = call.bytes();
        for (NativeWorkspace s : slots) {
            n += s == null ? 0 : s.bytes();
        }
        for (FloatPointer p : new FloatPointer[] {packedWeights, packedRaw, packedBias}) {
            n += p == null ? 0 : 4L * p.limit();
        }
        return n;
    }

    @Override
    protected boolean prepacked() {
        return packedWeights != null;
    }

    @Override
    protected void prepack(Tensor w, Tensor bias) {
        try {
            Algorithm a = choice.forwardPrepacked;
            long transformed = a.transformSize(g);
            boolean raw = a instanceof Winograd && g.algorithm == dev.conv4j.ConvAlgorithm.AUTO;
            // everything is allocated before anything is overwritten: a failed allocation changes nothing
            FloatPointer weights = packedWeights != null ? packedWeights : NativeMemory.allocate(transformed > 0 ? transformed : w.size());
            FloatPointer rawWeights = packedRaw, bs = packedBias;
            try {
                if (raw && rawWeights == null) {
                    rawWeights = NativeMemory.allocate(w.size());
                }
                if (bias != null && bs == null) {
                    bs = NativeMemory.allocate(g.o);
                }
            } catch (RuntimeException | Error e) {
                for (FloatPointer[] pair : new FloatPointer[][] {{weights, packedWeights}, {rawWeights, packedRaw}, {bs, packedBias}}) {
                    if (pair[0] != pair[1]) {
                        NativeMemory.free(pair[0]);
                    }
                }
                throw e;
            }
            packedWeights = weights;
            packedRaw = rawWeights;
            if (transformed > 0) {
                call.args.w = TensorMemory.pointer(w);
                call.transform(g, a, packedWeights);
            } else {
                packedWeights.put(TensorMemory.pointer(w));
            }
            if (raw) {
                packedRaw.put(TensorMemory.pointer(w));
                packedRawTop = NativeKernels.maxBits(packedRaw, 0, w.size());
            }
            if (bias == null) {
                NativeMemory.free(bs);
                packedBias = null;
            } else {
                packedBias = bs;
                packedBias.put(TensorMemory.pointer(bias));
            }
        } finally {
            call.args.clear();
        }
    }

    @Override
    protected void runForward(Tensor x, Tensor w, Tensor bias, Tensor y) {
        runForward(x, w, bias, null, Activation.NONE, y);
    }

    @Override
    protected void runForward(Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        try {
            CallArgs a = call.args;
            a.x = TensorMemory.pointer(x);
            a.y = TensorMemory.pointer(y);
            Layouts.epilogue(a, x, residual, act, y);
            Algorithm chosen;
            if (w == null) {
                chosen = choice.forwardPrepacked;
                if (chosen.transformSize(g) > 0) {
                    a.u = packedWeights;
                    a.w = a.raw = packedRaw;
                    a.rawTop = packedRawTop;
                } else {
                    a.w = packedWeights;
                }
                a.bias = packedBias;
            } else {
                chosen = forwardGiven();
                a.w = TensorMemory.pointer(w);
                a.bias = TensorMemory.pointer(bias);
            }
            call.run(g, chosen, false, workspaces);
        } finally {
            call.args.clear();
        }
    }

    @Override
    protected void runBackwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        try {
            CallArgs a = call.args;
            a.gy = TensorMemory.pointer(gy);
            a.w = TensorMemory.pointer(w);
            a.gx = TensorMemory.pointer(gx);
            a.accumulate = accumulate;
            Layouts.pass(a, gy, gx);
            call.run(g, choice.backwardData, false, workspaces);
        } finally {
            call.args.clear();
        }
    }

    @Override
    protected void runBackwardWeights(Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        try {
            CallArgs a = call.args;
            a.x = TensorMemory.pointer(x);
            a.gy = TensorMemory.pointer(gy);
            a.gw = TensorMemory.pointer(gw);
            a.gbias = TensorMemory.pointer(gbias);
            a.accumulate = accumulate;
            Layouts.pass(a, x, gy);
            call.run(g, choice.backwardWeights, gbias != null, workspaces);
        } finally {
            call.args.clear();
        }
    }

    @Override
    protected void free() {
        for (int s = 0; s < slots.length; s++) {
            if (slots[s] != null) {
                slots[s].close();
            }
        }
        call.close();
        for (FloatPointer p : new FloatPointer[] {packedWeights, packedRaw, packedBias}) {
            NativeMemory.free(p);
        }
        packedWeights = packedRaw = packedBias = null;
    }
}
