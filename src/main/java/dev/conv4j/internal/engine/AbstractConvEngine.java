package dev.conv4j.internal.engine;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import java.nio.FloatBuffer;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Arrays;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Validates every call in one place, then hands the engine resolved sizes. Engines implement
 * the three passes on a {@link ConvGeometry} and tensors whose shapes are known to match it.
 *
 * <p>Layouts and the fused forward pass: an engine's passes see only the layouts its
 * {@link #runsLayouts} hook takes (NCHW alone by default), and the forward pass's residual and
 * activation only where its {@link #fusesEpilogue} hook says it applies them itself (never by
 * default); {@link LayoutRunner} stages and finishes everything else, in staging tensors checked out
 * of a pool for the call (so repeated calls allocate nothing).
 *
 * <p>Every public entry acquires all of its tensors ({@link Tensor#acquire()}) before it looks at
 * them and releases them after the pass returns, so another thread cannot close one in between: its
 * {@code close()} throws instead of freeing memory that the pass still reads or writes. Validation
 * happens on the acquired tensors, before any element is read or written, so a rejected call leaves
 * every tensor as it was.
 *
 * <p>An engine keeps nothing per thread: a call checks out a context and its threads' workspaces from
 * pools, so its memory follows how many calls run at once. Platform threads are few (a server's pool);
 * virtual threads are not, and a call on one unmounts while it waits for the engine's helpers, so
 * thousands could be in flight: at most {@link #MAX_CALLS} calls of virtual threads run at once,
 * further ones wait (fairly, cheaply, holding nothing) before they acquire anything, and the forms that
 * return a new tensor allocate it only once their call may run.
 */
public abstract class AbstractConvEngine extends LayoutRunner implements ConvEngine {
    /**
     * The most calls of virtual threads one engine runs at once; further ones wait for one to finish.
     * Each call in flight holds a context and its threads' workspaces, so this bounds an engine's memory
     * however many virtual threads call it: twice the processors, at least 4, or
     * {@code -Dconv4j.maxConcurrentCalls}. Calls are CPU-bound, so more at once would not finish sooner.
     * Platform threads are not held back (blocking one per call costs a wake-up of the operating
     * system each time, which lowered the throughput of many platform callers); their number, which the
     * application bounds, bounds the memory.
     */
    static final int MAX_CALLS = maxCalls();

    private static int maxCalls() {
        String v = System.getProperty("conv4j.maxConcurrentCalls");
        int dflt = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
        if (v != null && !v.isBlank()) {
            try {
                int n = Integer.parseInt(v.trim());
                if (n >= 1 && n <= 1 << 16) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            System.getLogger("dev.conv4j").log(System.Logger.Level.WARNING, "conv4j: -Dconv4j.maxConcurrentCalls must be"
                    + " an integer from 1 to 65536, got '" + v + "'; using " + dflt);
        }
        return dflt;
    }

    /**
     * The staging of calls in layouts the engine does not run, as many as were in use at once (bounded
     * like the engines' workspaces), each as large as the largest call it served. One that holds
     * nothing (its allocation failed) is not kept.
     */
    private final Pool<Staging> stagings = new Pool<>(Staging::new, Staging::close, s -> s.bytes() > 0);

    @Override
    final Staging takeStaging() {
        return stagings.take();
    }

    @Override
    final void giveStaging(Staging s) {
        stagings.give(s);
    }

    /** Permits for calls of virtual threads in flight; waiting callers queue in arrival order. */
    private final Semaphore inFlight = new Semaphore(MAX_CALLS, true);

    /** {@code Thread.isVirtual()} where the JVM has it (21 and later), else null. */
    private static final MethodHandle IS_VIRTUAL = isVirtualHandle();

    private static MethodHandle isVirtualHandle() {
        try {
            return MethodHandles.publicLookup().findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }

    /** Waits for a permit when the caller is a virtual thread; returns whether it took one. */
    private boolean enter() {
        boolean virtual;
        try {
            virtual = IS_VIRTUAL != null && (boolean) IS_VIRTUAL.invokeExact(Thread.currentThread());
        } catch (Throwable t) {
            virtual = false;
        }
        if (virtual) {
            inFlight.acquireUninterruptibly();
        }
        return virtual;
    }

    private void leave(boolean entered) {
        if (entered) {
            inFlight.release();
        }
    }

    /**
     * {@link #enter} for the passes that do not come through this class's entries (the 3-D ones):
     * they wait for their turn under the same limit. Returns what {@link #leaveCall} takes.
     */
    public final boolean enterCall() {
        return enter();
    }

    /** Ends {@link #enterCall()}. */
    public final void leaveCall(boolean entered) {
        leave(entered);
    }

    @Override
    public final void forward(Conv2dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        forward(p, x, w, bias, null, Activation.NONE, y);
    }

    @Override
    public final void forward(Conv2dParams p, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        boolean entered = enter();
        try {
            forwardInto(p, x, w, bias, residual, act, y);
        } finally {
            leave(entered);
        }
    }

    @Override
    public final Tensor forward(Conv2dParams p, Tensor x, Tensor w, Tensor bias) {
        checkPresent(x, "x");
        checkPresent(w, "w");
        return allocating(x.layout(), ConvGeometry.of(p, x.shape(), w.shape()).outputShape(),
                y -> forwardInto(p, x, w, bias, null, Activation.NONE, y));
    }

    @Override
    public final void backwardData(Conv2dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        boolean entered = enter();
        try {
            backwardDataInto(p, gy, w, gx, accumulate);
        } finally {
            leave(entered);
        }
    }

    @Override
    public final Tensor backwardData(Conv2dParams p, Tensor gy, Tensor w, int[] inputShape) {
        checkPresent(gy, "gy");
        checkPresent(w, "w");
        ConvGeometry.of(p, inputShape, w.shape());
        return allocating(gy.layout(), inputShape, gx -> backwardDataInto(p, gy, w, gx, false));
    }

    @Override
    public final void backwardWeights(Conv2dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        boolean entered = enter();
        try {
            backwardWeightsInto(p, x, gy, gw, gbias, accumulate);
        } finally {
            leave(entered);
        }
    }

    @Override
    public final Tensor backwardWeights(Conv2dParams p, Tensor x, Tensor gy, int[] weightShape) {
        checkPresent(x, "x");
        ConvGeometry.of(p, x.shape(), weightShape);
        return allocating(Layout.NCHW, weightShape, gw -> backwardWeightsInto(p, x, gy, gw, null, false));
    }

    /**
     * A new tensor of {@code shape} in {@code layout} filled by {@code pass}: allocated only once the call
     * may run (see {@link #enter}), closed again if the pass fails.
     */
    private Tensor allocating(Layout layout, int[] shape, java.util.function.Consumer<Tensor> pass) {
        boolean entered = enter();
        try {
            Tensor out = Tensor.zeros(layout, shape);
            try {
                pass.accept(out);
                return out;
            } catch (RuntimeException | Error e) {
                out.close();
                throw e;
            }
        } finally {
            leave(entered);
        }
    }

    private void forwardInto(Conv2dParams p, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        checkPresent(p, x, "x", w, "w", y, "y");
        Holds.acquire(x, "x", w, "w", bias, "bias", residual, "residual", y, "y");
        try {
            ConvGeometry g = geometry(p, x, "x", w, "w");
            Checks.weights(w, "w", g);
            Checks.forwardAnyLayout(g, x, w, bias, residual, act, y);
            runForward(g, x, w, bias, residual, act, y, null);
        } finally {
            Holds.release(x, w, bias, residual, y);
        }
    }

    private void backwardDataInto(Conv2dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        checkPresent(p, gy, "gy", w, "w", gx, "gx");
        Holds.acquire(gy, "gy", w, "w", gx, "gx", null, null);
        try {
            ConvGeometry g = geometry(p, gx, "gx", w, "w");
            Checks.weights(w, "w", g);
            Checks.backwardDataAnyLayout(g, gy, w, gx);
            runBackwardData(g, gy, w, gx, accumulate, null);
        } finally {
            Holds.release(gy, w, gx, null);
        }
    }

    private void backwardWeightsInto(Conv2dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        checkPresent(p, x, "x", gy, "gy", gw, "gw");
        Holds.acquire(x, "x", gy, "gy", gw, "gw", gbias, "gbias");
        try {
            ConvGeometry g = geometry(p, x, "x", gw, "gw");
            Checks.weights(gw, "gw", g);
            Checks.backwardWeightsAnyLayout(g, x, gy, gw, gbias);
            runBackwardWeights(g, x, gy, gw, gbias, accumulate, null);
        } finally {
            Holds.release(x, gy, gw, gbias);
        }
    }

    /** The passes as a {@link GenericPlan} over this engine runs them: checked by the plan, within this engine's call limit. */
    final void plannedForward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        boolean entered = enter();
        try {
            if (residual == null && act == null) {
                forward(g, x, w, bias, y);
            } else {
                forward(g, x, w, bias, residual, act, y);
            }
        } finally {
            leave(entered);
        }
    }

    final void plannedBackwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        boolean entered = enter();
        try {
            backwardData(g, gy, w, gx, accumulate);
        } finally {
            leave(entered);
        }
    }

    final void plannedBackwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        boolean entered = enter();
        try {
            backwardWeights(g, x, gy, gw, gbias, accumulate);
        } finally {
            leave(entered);
        }
    }

    @Override
    final void rawForward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        forward(g, x, w, bias, y);
    }

    @Override
    final void rawForward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        forward(g, x, w, bias, residual, act, y);
    }

    @Override
    final void rawBackwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        backwardData(g, gy, w, gx, accumulate);
    }

    @Override
    final void rawBackwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        backwardWeights(g, x, gy, gw, gbias, accumulate);
    }

    /** As the interface's default, but holding {@code gy} for the duration and summing in a fixed order. */
    @Override
    public final Tensor backwardBias(Tensor gy) {
        if (gy == null) {
            throw new IllegalArgumentException("gy must not be null");
        }
        boolean entered = enter();
        try {
            Holds.acquire(gy, "gy", null, null, null, null, null, null);
            try {
                return biasSums(gy);
            } finally {
                Holds.release(gy, null, null, null);
            }
        } finally {
            leave(entered);
        }
    }

    private static Tensor biasSums(Tensor gy) {
        int[] s = gy.shape();
        if (s.length != 4) {
            throw new IllegalArgumentException("gy must have rank 4 (N, O, OH, OW) but has shape " + Arrays.toString(s));
        }
        checkBufferable(gy, "gy");
        if (gy.layout() != Layout.NCHW) {
            // summed in NCHW order, so that every layout gives the same bits
            try (Tensor nchw = Tensor.zeros(s)) {
                Reorder.copy(gy, nchw);
                return biasSums(nchw);
            }
        }
        int plane = s[2] * s[3];
        FloatBuffer b = TensorMemory.buffer(gy);
        float[] sums = new float[s[1]];
        for (int o = 0; o < s[1]; o++) {
            double acc = 0;
            for (int n = 0; n < s[0]; n++) {
                int base = (n * s[1] + o) * plane;
                for (int i = 0; i < plane; i++) {
                    acc += b.get(base + i);
                }
            }
            sums[o] = (float) acc;
        }
        return Tensor.of(sums, s[1]);
    }

    /**
     * y = conv(x, w) + bias, all shapes already checked, x and y in layouts {@link #runsLayouts} took for
     * {@link Pass#FORWARD} (NCHW unless the engine overrides it).
     */
    protected abstract void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y);

    /**
     * y = act((float) (conv(x, w) + bias) + residual), called only where {@link #fusesEpilogue} said
     * the engine applies the epilogue itself for these layouts; x and y as for the unfused form, the
     * residual (null: none) in the layout the hook was asked about. Engines that fuse override both;
     * the default throws.
     */
    protected void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        throw new UnsupportedOperationException(name() + " engine: fusesEpilogue is true but forward with an epilogue is not implemented");
    }

    /** gx (+)= conv-transpose(gy, w), all shapes already checked, gy and gx in layouts {@link #runsLayouts} took. */
    protected abstract void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate);

    /**
     * gw (+)= sum over the batch of gy ⊗ x, gbias (+)= sums of gy, all shapes already checked, x and gy
     * in layouts {@link #runsLayouts} took.
     */
    protected abstract void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
                                            boolean accumulate);

    /**
     * Rejects a tensor too large for a Java buffer, for engines that read tensors through
     * {@link Tensor#buffer()}: a silently shorter buffer would fail half-way through a pass.
     */
    static void checkBufferable(Tensor t, String name) {
        if (t != null && t.storageSize() > Tensor.MAX_BUFFER_ELEMENTS) {
            throw new IllegalArgumentException(name + " " + Arrays.toString(t.shape()) + " has " + t.storageSize()
                    + " floats, more than the " + Tensor.MAX_BUFFER_ELEMENTS + " (2 GiB) a Java buffer addresses;"
                    + " this pass reads tensors through Java buffers: use the blas engine for tensors this large");
        }
    }

    private static void checkPresent(Conv2dParams p, Tensor a, String an, Tensor b, String bn, Tensor c, String cn) {
        if (p == null) {
            throw new IllegalArgumentException("params must not be null");
        }
        checkPresent(a, an);
        checkPresent(b, bn);
        checkPresent(c, cn);
    }

    private static void checkPresent(Tensor t, String name) {
        Checks.present(t, name);
    }


    /**
     * Geometries validated recently, in a small table shared by all threads (not per thread: a server
     * may make a thread per request): a layer called again with the same shapes is not re-derived, and
     * the lookup allocates nothing. Entries are immutable; a collision just replaces one.
     */
    private static final AtomicReferenceArray<Known> KNOWN = new AtomicReferenceArray<>(64);

    private static final class Known {
        final Conv2dParams params;
        final int n, c, h, w, o, cg, kh, kw;
        final ConvGeometry geometry;

        Known(Conv2dParams params, ConvGeometry g) {
            this.params = params;
            n = g.n;
            c = g.c;
            h = g.h;
            w = g.w;
            o = g.o;
            cg = g.cg;
            kh = g.kh;
            kw = g.kw;
            geometry = g;
        }

        boolean matches(Conv2dParams p, int n, int c, int h, int w, int o, int cg, int kh, int kw) {
            return (p == params || p.equals(params)) && n == this.n && c == this.c && h == this.h && w == this.w
                    && o == this.o && cg == this.cg && kh == this.kh && kw == this.kw;
        }
    }

    private static ConvGeometry geometry(Conv2dParams p, Tensor in, String inName, Tensor wt, String wName) {
        if (in.rank() != 4 || wt.rank() != 4) {
            return derive(p, in, inName, wt, wName); // throws, naming the tensor
        }
        int n = in.dim(0), c = in.dim(1), h = in.dim(2), w = in.dim(3);
        int o = wt.dim(0), cg = wt.dim(1), kh = wt.dim(2), kw = wt.dim(3);
        int slot = ((((((p.hashCode() * 31 + n) * 31 + c) * 31 + h) * 31 + w) * 31 + o) * 31 + kh * 7 + kw) & (KNOWN.length() - 1);
        Known k = KNOWN.get(slot);
        if (k != null && k.matches(p, n, c, h, w, o, cg, kh, kw)) {
            return k.geometry;
        }
        ConvGeometry g = derive(p, in, inName, wt, wName);
        KNOWN.set(slot, new Known(p, g));
        return g;
    }

    private static ConvGeometry derive(Conv2dParams p, Tensor in, String inName, Tensor wt, String wName) {
        int[] is = in.shape(), ws = wt.shape();
        if (is.length != 4) {
            throw new IllegalArgumentException(inName + " must have rank 4 (N, C, H, W) but has shape " + Arrays.toString(is));
        }
        if (ws.length != 4) {
            throw new IllegalArgumentException(wName + " must have rank 4 (O, C/groups, KH, KW) but has shape " + Arrays.toString(ws));
        }
        ConvGeometry g;
        try {
            g = ConvGeometry.of(p, is, ws);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(inName + " " + Arrays.toString(is) + " and " + wName + " "
                    + Arrays.toString(ws) + ": " + e.getMessage(), e);
        }
        return g;
    }
}
