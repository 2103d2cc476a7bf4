package dev.conv4j.internal.engine;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.internal.nativeblas.NativeKernels;
import dev.conv4j.internal.nativeblas.NativeMemory;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The blas engine's plan. It owns one workspace per thread slot, allocated at creation to the most
 * any unit needs, and runs each call on its slots: the thread running slot {@code s} takes units one
 * at a time, as they come, on workspace {@code s} (fixed ranges per slot made a call wait for a
 * helper that woke late); so a call touches no thread-local state and allocates nothing. Prepacked
 * weights are kept as a copy, or as the Winograd transform when the plan's forward pass uses Winograd
 * and enough tiles make it pay (with a copy of the weights too under {@code AUTO}, to recompute tiles
 * that come out non-finite). All of its memory is conv4j's own (see {@link NativeMemory}), whatever
 * JavaCPP scope was open when it was made.
 */
final class BlasPlan implements Conv2dPlan {
    private static final int FORWARD = 0, BACKWARD_DATA = 1, BACKWARD_WEIGHTS = 2, TRANSFORM = 3;

    private final WorkerPool pool;
    private final ConvGeometry g;
    private final int[] xShape, wShape, yShape, bShape;
    /** Winograd tile sizes (0: im2col) of the forward with prepacked weights and with weights per call. */
    private final int winogradPacked, winogradPerCall, winogradData;
    private final NativeWorkspace[] slots;
    private final FloatPointer callTransform;
    private final BlasPasses.Args args = new BlasPasses.Args();
    private final WorkerPool.Job job = new WorkerPool.Job();
    private final WorkerPool.Unit<Object> slotTask = (s, ignored) -> runSlot(s);
    /** Prepacked weights (a copy, or U), the untransformed copy kept beside U under AUTO, and the bias. */
    private FloatPointer packedWeights, packedRaw, packedBias;
    /** {@link NativeKernels#maxBits} of {@link #packedRaw}. */
    private int packedRawTop;
    private int pass, units, slotsUsed;
    private final AtomicInteger nextUnit = new AtomicInteger();
    private boolean closed;

    BlasPlan(WorkerPool pool, Conv2dParams p, int[] inputShape, int[] weightShape) {
        this.pool = pool;
        g = ConvGeometry.of(p, inputShape, weightShape);
        xShape = g.inputShape();
        wShape = g.weightShape();
        yShape = g.outputShape();
        bShape = new int[] {g.o};
        winogradPacked = Partition.winogradTile(g, true);
        winogradPerCall = Partition.winogradTile(g, false);
        winogradData = Partition.dataWinogradTile(g);
        int most = Math.max(Math.max(BlasPasses.forwardUnits(g, winogradPacked), BlasPasses.forwardUnits(g, winogradPerCall)),
                Math.max(BlasPasses.backwardDataUnits(g, winogradData), BlasPasses.backwardWeightsUnits(g, true)));
        slots = new NativeWorkspace[Math.max(1, Math.min(pool.threads(), most))];
        long[] sizes = BlasPasses.scratchSizes(g, winogradPacked, winogradData);
        long[] perCall = BlasPasses.scratchSizes(g, winogradPerCall, winogradData);
        for (int k = 0; k < sizes.length; k++) {
            sizes[k] = Math.max(sizes[k], perCall[k]);
        }
        try {
            for (int s = 0; s < slots.length; s++) {
                slots[s] = new NativeWorkspace();
                slots[s].reserve(sizes);
            }
        } catch (RuntimeException | Error e) {
            release();
            throw e;
        }
        long transform = Math.max(winogradPerCall != 0 ? NativeKernels.winogradWeightSize(g, winogradPerCall) : 0,
                winogradData != 0 ? NativeKernels.winogradWeightSize(g, winogradData) : 0);
        try {
            callTransform = transform > 0 ? NativeMemory.allocate(transform) : null;
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
        long n = 0;
        for (NativeWorkspace s : slots) {
            n += s == null ? 0 : s.bytes();
        }
        for (FloatPointer p : new FloatPointer[] {callTransform, packedWeights, packedRaw, packedBias}) {
            n += p == null ? 0 : 4L * p.limit();
        }
        return n;
    }

    @Override
    public synchronized void prepackWeights(Tensor w, Tensor bias) {
        open();
        Holds.acquire(w, "w", bias, "bias", null, null, null, null);
        try {
            PlanChecks.require(w, "w", wShape);
            if (bias != null) {
                PlanChecks.require(bias, "bias", bShape);
            }
            // everything is allocated before anything is overwritten: a failed allocation changes nothing
            boolean raw = winogradPacked != 0 && BlasPasses.repairsNonFinite(g);
            FloatPointer weights = packedWeights != null ? packedWeights
                    : NativeMemory.allocate(winogradPacked != 0 ? NativeKernels.winogradWeightSize(g, winogradPacked) : w.size());
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
            if (winogradPacked != 0) {
                NativeKernels.winogradWeights(g, TensorMemory.pointer(w), packedWeights, winogradPacked, false);
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
            PlanChecks.require(x, "x", xShape);
            PlanChecks.require(y, "y", yShape);
            PlanChecks.disjoint(y, "y", x, "x");
            args.clear();
            args.x = TensorMemory.pointer(x);
            args.w = packedWeights;
            if (packedRaw != null) {
                BlasPasses.keepRaw(g, args, packedRaw, packedRawTop);
            }
            args.bias = packedBias;
            args.y = TensorMemory.pointer(y);
            args.winograd = winogradPacked;
            execute(FORWARD, BlasPasses.forwardUnits(g, winogradPacked));
        } finally {
            Holds.release(x, y, null, null);
        }
    }

    @Override
    public synchronized void forward(Tensor x, Tensor w, Tensor bias, Tensor y) {
        open();
        Holds.acquire(x, "x", w, "w", bias, "bias", y, "y");
        try {
            PlanChecks.require(x, "x", xShape);
            PlanChecks.require(w, "w", wShape);
            if (bias != null) {
                PlanChecks.require(bias, "bias", bShape);
            }
            PlanChecks.require(y, "y", yShape);
            PlanChecks.disjoint(y, "y", x, "x");
            PlanChecks.disjoint(y, "y", w, "w");
            PlanChecks.disjoint(y, "y", bias, "bias");
            args.clear();
            args.x = TensorMemory.pointer(x);
            args.w = TensorMemory.pointer(w);
            args.bias = TensorMemory.pointer(bias);
            args.y = TensorMemory.pointer(y);
            args.winograd = winogradPerCall;
            if (winogradPerCall != 0) {
                transformWeights(false);
            }
            execute(FORWARD, BlasPasses.forwardUnits(g, winogradPerCall));
        } finally {
            Holds.release(x, w, bias, y);
        }
    }

    @Override
    public synchronized void backwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        open();
        Holds.acquire(gy, "gy", w, "w", gx, "gx", null, null);
        try {
            PlanChecks.require(gy, "gy", yShape);
            PlanChecks.require(w, "w", wShape);
            PlanChecks.require(gx, "gx", xShape);
            PlanChecks.disjoint(gx, "gx", gy, "gy");
            PlanChecks.disjoint(gx, "gx", w, "w");
            args.clear();
            args.gy = TensorMemory.pointer(gy);
            args.w = TensorMemory.pointer(w);
            args.gx = TensorMemory.pointer(gx);
            args.accumulate = accumulate;
            args.winograd = winogradData;
            if (winogradData != 0) {
                transformWeights(true);
            }
            execute(BACKWARD_DATA, BlasPasses.backwardDataUnits(g, winogradData));
        } finally {
            Holds.release(gy, w, gx, null);
        }
    }

    @Override
    public synchronized void backwardWeights(Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        open();
        Holds.acquire(x, "x", gy, "gy", gw, "gw", gbias, "gbias");
        try {
            PlanChecks.require(x, "x", xShape);
            PlanChecks.require(gy, "gy", yShape);
            PlanChecks.require(gw, "gw", wShape);
            if (gbias != null) {
                PlanChecks.require(gbias, "gbias", bShape);
                PlanChecks.disjoint(gbias, "gbias", x, "x");
                PlanChecks.disjoint(gbias, "gbias", gy, "gy");
                PlanChecks.disjoint(gbias, "gbias", gw, "gw");
            }
            PlanChecks.disjoint(gw, "gw", x, "x");
            PlanChecks.disjoint(gw, "gw", gy, "gy");
            args.clear();
            args.x = TensorMemory.pointer(x);
            args.gy = TensorMemory.pointer(gy);
            args.gw = TensorMemory.pointer(gw);
            args.gbias = TensorMemory.pointer(gbias);
            args.accumulate = accumulate;
            execute(BACKWARD_WEIGHTS, BlasPasses.backwardWeightsUnits(g, gbias != null));
        } finally {
            Holds.release(x, gy, gw, gbias);
        }
    }

    /** The call's weights, transformed for Winograd into the plan's buffer on its threads, become U. */
    private void transformWeights(boolean flip) {
        args.wSource = args.w;
        BlasPasses.keepRaw(g, args, args.w, -1);
        args.transform = callTransform;
        args.flip = flip;
        execute(TRANSFORM, BlasPasses.transformUnits(g));
        args.w = callTransform;
    }

    private void execute(int which, int unitCount) {
        pass = which;
        units = unitCount;
        args.call++;
        nextUnit.set(0);
        slotsUsed = Math.min(slots.length, unitCount);
        try {
            pool.run(job, slotsUsed, slotTask, null);
        } finally {
            if (which != TRANSFORM) {
                args.clear(); // the plan keeps no reference to the call's tensors
            }
        }
    }

    /** Runs units as they come (each on the workspace of slot s), so slots that start late take fewer. */
    private void runSlot(int s) {
        NativeWorkspace ws = slots[s];
        for (int u; (u = nextUnit.getAndIncrement()) < units; ) {
            switch (pass) {
                case FORWARD:
                    BlasPasses.forwardUnit(g, u, args, ws);
                    break;
                case BACKWARD_DATA:
                    BlasPasses.backwardDataUnit(g, u, args, ws);
                    break;
                case TRANSFORM:
                    BlasPasses.transformUnit(g, u, args);
                    break;
                default:
                    BlasPasses.backwardWeightsUnit(g, u, args, ws);
                    break;
            }
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
        for (FloatPointer p : new FloatPointer[] {callTransform, packedWeights, packedRaw, packedBias}) {
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
