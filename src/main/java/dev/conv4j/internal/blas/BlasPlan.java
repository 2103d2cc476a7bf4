package dev.conv4j.internal.blas;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.internal.engine.Checks;
import dev.conv4j.internal.engine.Holds;
import dev.conv4j.internal.engine.Pool;
import dev.conv4j.internal.engine.TensorMemory;
import dev.conv4j.internal.engine.WorkerPool;
import dev.conv4j.internal.nativeblas.NativeKernels;
import dev.conv4j.internal.nativeblas.NativeMemory;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The blas engine's plan: the algorithms chosen once for its geometry, run by the same executor
 * ({@link BlasCall}) and checked by the same {@link Checks} as the per-call engine. It owns everything a
 * call needs, allocated at creation: one workspace per thread that can take part, reserved to the most
 * any unit of its algorithms takes, and the transformed-weight buffer; so a call allocates nothing.
 * Prepacked weights live in buffers of their own: a copy, or the Winograd transform when the forward pass
 * with prepacked weights uses Winograd (with a copy of the weights beside it under {@code AUTO}, to
 * recompute tiles that come out non-finite). All of its memory is conv4j's own (see {@link NativeMemory}),
 * whatever JavaCPP scope was open when it was made.
 */
final class BlasPlan implements Conv2dPlan {
    private final ConvGeometry g;
    private final Algorithms.Choice choice;
    private final BlasCall call;
    private final NativeWorkspace[] slots;
    private final Pool<NativeWorkspace> workspaces;
    /** Prepacked weights (a copy, or U), the untransformed copy kept beside U under AUTO, and the bias. */
    private FloatPointer packedWeights, packedRaw, packedBias;
    /** {@link NativeKernels#maxBits} of {@link #packedRaw}. */
    private int packedRawTop;
    private boolean closed;

    BlasPlan(WorkerPool workers, Conv2dParams p, int[] inputShape, int[] weightShape) {
        g = ConvGeometry.of(p, inputShape, weightShape);
        choice = Algorithms.of(g);
        call = new BlasCall(workers);
        Algorithm[] passes = {choice.forward, choice.forwardPrepacked, choice.backwardData, choice.backwardWeights};
        int most = 1;
        long transform = 0;
        for (Algorithm a : passes) {
            most = Math.max(most, a.units(g, true));
            if (a != choice.forwardPrepacked) {
                transform = Math.max(transform, a.transformSize(g));
            }
        }
        // at most this many threads take part in a call, each holding one workspace for its run
        slots = new NativeWorkspace[Math.min(workers.threads(), most)];
        workspaces = new Pool<>(NativeWorkspace::new, NativeWorkspace::close, null);
        long[] sizes = choice.scratch();
        try {
            for (int s = 0; s < slots.length; s++) {
                slots[s] = new NativeWorkspace();
                slots[s].reserve(sizes);
                workspaces.give(slots[s]);
            }
            call.reserveTransform(transform);
        } catch (RuntimeException | Error e) {
            release();
            throw e;
        }
    }

    @Override
    public ConvGeometry geometry() {
        return g;
    }

    @Override
    public synchronized long workspaceBytes() {
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
    public synchronized void prepackWeights(Tensor w, Tensor bias) {
        open();
        Holds.acquire(w, "w", bias, "bias", null, null, null, null);
        try {
            Checks.weights(w, "w", g);
            Checks.bias(bias, "bias", g);
            Algorithm a = choice.forwardPrepacked;
            long transformed = a.transformSize(g);
            boolean raw = transformed > 0 && g.algorithm == dev.conv4j.ConvAlgorithm.AUTO;
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
                if (weights != packedWeights) {
                    NativeMemory.free(weights);
                }
                if (rawWeights != packedRaw) {
                    NativeMemory.free(rawWeights);
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
            Holds.release(w, bias, null, null);
        }
    }

    @Override
    public synchronized void forward(Tensor x, Tensor y) {
        open();
        Holds.acquire(x, "x", y, "y", null, null, null, null);
        try {
            if (packedWeights == null) {
                throw new IllegalStateException("no weights prepacked: call prepackWeights(w, bias) first");
            }
            Checks.input(x, "x", g);
            Checks.forward(g, x, null, null, y);
            CallArgs a = call.args;
            a.x = TensorMemory.pointer(x);
            if (choice.forwardPrepacked.transformSize(g) > 0) {
                a.u = packedWeights;
                a.w = a.raw = packedRaw;
                a.rawTop = packedRawTop;
            } else {
                a.w = packedWeights;
            }
            a.bias = packedBias;
            a.y = TensorMemory.pointer(y);
            call.run(g, choice.forwardPrepacked, false, workspaces);
        } finally {
            call.args.clear();
            Holds.release(x, y, null, null);
        }
    }

    @Override
    public synchronized void forward(Tensor x, Tensor w, Tensor bias, Tensor y) {
        open();
        Holds.acquire(x, "x", w, "w", bias, "bias", y, "y");
        try {
            Checks.input(x, "x", g);
            Checks.weights(w, "w", g);
            Checks.forward(g, x, w, bias, y);
            CallArgs a = call.args;
            a.x = TensorMemory.pointer(x);
            a.w = TensorMemory.pointer(w);
            a.bias = TensorMemory.pointer(bias);
            a.y = TensorMemory.pointer(y);
            call.run(g, choice.forward, false, workspaces);
        } finally {
            call.args.clear();
            Holds.release(x, w, bias, y);
        }
    }

    @Override
    public synchronized void backwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        open();
        Holds.acquire(gy, "gy", w, "w", gx, "gx", null, null);
        try {
            Checks.input(gx, "gx", g);
            Checks.weights(w, "w", g);
            Checks.backwardData(g, gy, w, gx);
            CallArgs a = call.args;
            a.gy = TensorMemory.pointer(gy);
            a.w = TensorMemory.pointer(w);
            a.gx = TensorMemory.pointer(gx);
            a.accumulate = accumulate;
            call.run(g, choice.backwardData, false, workspaces);
        } finally {
            call.args.clear();
            Holds.release(gy, w, gx, null);
        }
    }

    @Override
    public synchronized void backwardWeights(Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        open();
        Holds.acquire(x, "x", gy, "gy", gw, "gw", gbias, "gbias");
        try {
            Checks.input(x, "x", g);
            Checks.weights(gw, "gw", g);
            Checks.backwardWeights(g, x, gy, gw, gbias);
            CallArgs a = call.args;
            a.x = TensorMemory.pointer(x);
            a.gy = TensorMemory.pointer(gy);
            a.gw = TensorMemory.pointer(gw);
            a.gbias = TensorMemory.pointer(gbias);
            a.accumulate = accumulate;
            call.run(g, choice.backwardWeights, gbias != null, workspaces);
        } finally {
            call.args.clear();
            Holds.release(x, gy, gw, gbias);
        }
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("plan is closed");
        }
    }

    private void release() {
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

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            release();
        }
    }
}
