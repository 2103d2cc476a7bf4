package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv1dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvTranspose1dParams;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose2dPlan;
import dev.conv4j.Engines;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * {@link MemoryTest} for the transposed convolution's plan and the new operations' engine calls: a
 * {@link ConvTranspose2dPlan} allocates nothing on the heap per call once warm (measured as
 * {@code PlanTest} measures a {@code Conv2dPlan}), and off-heap memory ({@link Pointer#totalBytes()})
 * comes back to where it was once plans and the tensors of calls are closed, in the direct and the
 * staged case, with calls refused for bad shapes among them.
 */
class TransposedMemoryTest {
    /** The common case: output padding below the stride, explicit padding, NCHW, a bias. */
    private static final ConvTranspose2dParams DIRECT = ConvTranspose2dParams.builder().stride(2).padding(1).build();
    private static final int[] DIRECT_X = {1, 8, 6, 6}, DIRECT_W = {8, 4, 4, 4};
    /** Output padding past the stride with dilation 2: the convolution runs on a staged NCHW window. */
    private static final ConvTranspose2dParams STAGED = ConvTranspose2dParams.builder().dilation(2).outputPadding(1).build();
    private static final int[] STAGED_X = {1, 8, 8, 8}, STAGED_W = {8, 6, 3, 3};
    /** Off-heap bytes an engine's pool may add after warm-up: a workspace or two, when two of its calls first overlap. */
    private static final long POOL_SLACK = 1 << 20;

    /** The java engine, and the blas engine where the native library loaded, each with one thread and with two. */
    private static List<ConvEngine> javaAndBlas() {
        List<ConvEngine> engines = new ArrayList<>(List.of(ConvEngines.java(1), ConvEngines.java(2)));
        if (Engines.all().size() > 3) {
            engines.add(ConvEngines.blas(1));
            engines.add(ConvEngines.blas(2));
        }
        return engines;
    }

    /** Heap bytes allocated per call of each of a plan's calls in the direct (common) case, on all threads. */
    static Map<String, Long> planHeapBytesPerCall(ConvEngine engine) {
        return heapBytesPerCall(engine, true);
    }

    /** The same for a plan's calls, or for the engine's own per-call passes of the same layer. */
    static Map<String, Long> heapBytesPerCall(ConvEngine engine, boolean planned) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random r = new Random(41);
        int[] ys = DIRECT.outputShape(DIRECT_X, DIRECT_W);
        Map<String, Long> perCall = new LinkedHashMap<>();
        try (ConvTranspose2dPlan plan = engine.plan(DIRECT, DIRECT_X, DIRECT_W); Tensor x = TestData.random(r, 1, DIRECT_X);
             Tensor w = TestData.random(r, 1, DIRECT_W); Tensor b = TestData.random(r, 1, ys[1]); Tensor y = Tensor.zeros(ys);
             Tensor gy = TestData.random(r, 1, ys); Tensor gx = Tensor.zeros(DIRECT_X); Tensor gw = Tensor.zeros(DIRECT_W);
             Tensor gb = Tensor.zeros(ys[1])) {
            plan.prepackWeights(w, b);
            Map<String, Runnable> calls = new LinkedHashMap<>();
            if (!planned) {
                calls.put("engine forward", () -> engine.forward(DIRECT, x, w, b, y));
                calls.put("engine backwardData", () -> engine.backwardData(DIRECT, gy, w, gx, false));
                calls.put("engine backwardWeights", () -> engine.backwardWeights(DIRECT, x, gy, gw, gb, false));
            } else {
                calls.put("forward(x, y)", () -> plan.forward(x, y));
                calls.put("forward(x, w, b, y)", () -> plan.forward(x, w, b, y));
                calls.put("backwardData", () -> plan.backwardData(gy, w, gx, false));
                calls.put("backwardData accumulating", () -> plan.backwardData(gy, w, gx, true));
                calls.put("backwardWeights", () -> plan.backwardWeights(x, gy, gw, gb, false));
                calls.put("backwardWeights without gbias", () -> plan.backwardWeights(x, gy, gw, null, false));
            }
            for (int i = 0; i < 5_000; i++) { // let the JIT settle, so that escape analysis has run
                calls.values().forEach(Runnable::run);
            }
            long offHeap = Pointer.totalBytes(), workspace = plan.workspaceBytes();
            for (Map.Entry<String, Runnable> c : calls.entrySet()) {
                long least = Long.MAX_VALUE;
                for (int round = 0; round < 3; round++) {
                    long[] ids = mx.getAllThreadIds();
                    long before = sum(mx.getThreadAllocatedBytes(ids));
                    for (int i = 0; i < 500; i++) {
                        c.getValue().run();
                    }
                    least = Math.min(least, (sum(mx.getThreadAllocatedBytes(ids)) - before) / 500);
                }
                perCall.put(c.getKey(), least);
            }
            assertEquals(offHeap, Pointer.totalBytes(), Engines.label(engine) + ": warm plan calls changed off-heap memory");
            assertEquals(workspace, plan.workspaceBytes(), Engines.label(engine) + ": the plan's workspace grew after warm-up");
        }
        return perCall;
    }

    /**
     * Once warm, each call of a {@link ConvTranspose2dPlan} in the common, direct case allocates nothing
     * on the heap (fewer than 16 bytes per call, on every thread), like a {@code Conv2dPlan}'s.
     */
    @Test
    void aWarmPlanAllocatesNothingOnTheHeapPerCall() {
        StringBuilder report = new StringBuilder();
        boolean ok = true;
        List<ConvEngine> engines = new ArrayList<>(List.of(ConvEngines.java(1)));
        if (Engines.all().size() > 3) {
            engines.add(ConvEngines.blas(1));
            engines.add(ConvEngines.blas(2));
        }
        for (ConvEngine e : engines) {
            Map<String, Long> perCall = planHeapBytesPerCall(e);
            System.out.printf("transposed plan on %s, direct case: heap bytes per call %s%n", Engines.label(e), perCall);
            report.append(Engines.label(e)).append(' ').append(perCall).append("; ");
            ok &= perCall.values().stream().allMatch(v -> v < 16);
        }
        assertTrue(ok, "a warm transposed plan allocated on the heap per call: " + report);
    }

    /** A warm per-call transposed pass on the engine allocates nothing on the heap either, as a 2-D one. */
    @Test
    void warmPerCallPassesAllocateNothingOnTheHeap() {
        StringBuilder report = new StringBuilder();
        boolean ok = true;
        for (ConvEngine e : javaAndBlas()) {
            Map<String, Long> perCall = heapBytesPerCall(e, false);
            report.append(Engines.label(e)).append(' ').append(perCall).append("; ");
            ok &= perCall.values().stream().allMatch(v -> v < 16);
        }
        assertTrue(ok, "warm per-call transposed passes allocated on the heap: " + report);
    }

    /**
     * Plans of the direct and the staged case and per-call engine passes of the 2-D and 1-D transposed and
     * the 1-D convolutions, with calls refused for bad shapes among them (one of them after its output was
     * allocated), on every engine: closing a plan frees exactly what it allocated (its workspace, staging
     * window and weight copies), and the memory in use between rounds, without any garbage collection,
     * stays where it was (an engine's pool of workspaces may add one when two of its calls first overlap,
     * once; a leak grows every round), and after collection it is back at its baseline.
     */
    @Test
    void offHeapMemoryReturnsToItsBaselineAfterPlansAndCallsAreClosed() {
        List<ConvEngine> engines = Engines.all();
        Random r = new Random(42);
        for (int i = 0; i < 2; i++) {
            for (ConvEngine e : engines) {
                round(e, r, false); // pools, JIT and this thread's workspaces settle before the baseline
            }
        }
        long baseline = MemoryTest.settle(Pointer::totalBytes), heap = MemoryTest.settle(MemoryTest::heapUsed);
        long highest = 0, last = baseline;
        int rounds = 20, grew = 0;
        for (int i = 0; i < rounds; i++) {
            for (ConvEngine e : engines) {
                round(e, r, true);
            }
            long now = Pointer.totalBytes();
            grew += now > last ? 1 : 0;
            last = now;
            highest = Math.max(highest, now - baseline);
        }
        long after = MemoryTest.settle(Pointer::totalBytes), heapAfter = MemoryTest.settle(MemoryTest::heapUsed);
        System.out.printf("transposed memory: %d rounds of plans and calls on %d engines; off-heap between rounds at most +%d"
                + " bytes (no GC; it grew in %d rounds), after GC %+d bytes; heap after GC %+.2f MB%n", rounds, engines.size(),
                highest, grew, after - baseline, (heapAfter - heap) / 1048576.0);
        assertTrue(grew <= 2, "off-heap memory grew in " + grew + " of " + rounds + " rounds whose tensors and plans were"
                + " all closed (to +" + highest + " bytes): close() did not free");
        assertTrue(highest <= POOL_SLACK, "off-heap memory climbed by " + highest + " bytes between rounds whose"
                + " tensors and plans were all closed");
        assertTrue(after <= baseline + POOL_SLACK, "off-heap memory grew from " + baseline + " to " + after + " bytes");
        assertTrue(heapAfter <= heap + (8 << 20), "heap after GC grew from " + MemoryTest.mb(heap) + " to " + MemoryTest.mb(heapAfter));
    }

    /** One round on one engine: a direct and a staged plan, then per-call passes of every new operation; everything closed. */
    private static void round(ConvEngine e, Random r, boolean check) {
        String where = Engines.label(e);
        for (boolean staged : new boolean[] {false, true}) {
            ConvTranspose2dParams p = staged ? STAGED : DIRECT;
            int[] xs = staged ? STAGED_X : DIRECT_X, ws = staged ? STAGED_W : DIRECT_W, ys = p.outputShape(xs, ws);
            Layout lx = staged ? Layout.NHWC : Layout.NCHW, ly = staged ? Layout.NCHW16C : Layout.NCHW;
            long before = Pointer.totalBytes();
            try (Tensor x = TestData.random(r, 1, lx, xs); Tensor w = TestData.random(r, 1, ws); Tensor b = TestData.random(r, 1, ys[1]);
                 Tensor gy = TestData.random(r, 1, ly, ys); Tensor y = Tensor.zeros(ly, ys); Tensor gx = Tensor.zeros(lx, xs);
                 Tensor gw = Tensor.zeros(ws); Tensor gb = Tensor.zeros(ys[1]); Tensor wrongX = Tensor.zeros(xs[0], xs[1], xs[2] + 1, xs[3]);
                 Tensor wrongB = Tensor.zeros(ys[1] + 1)) {
                long withTensors = Pointer.totalBytes();
                try (ConvTranspose2dPlan plan = e.plan(p, xs, ws)) {
                    plan.prepackWeights(w, b);
                    plan.forward(x, y);
                    assertThrows(IllegalArgumentException.class, () -> plan.forward(wrongX, y), where);
                    assertThrows(IllegalArgumentException.class, () -> plan.prepackWeights(w, wrongB), where);
                    plan.forward(x, w, b, y);
                    plan.backwardData(gy, w, gx, false);
                    assertThrows(IllegalArgumentException.class, () -> plan.backwardData(gy, w, wrongX, true), where);
                    plan.backwardData(gy, w, gx, true);
                    plan.backwardWeights(x, gy, gw, gb, false);
                    assertTrue(plan.workspaceBytes() >= 4L * (w.size() + b.size()), where + ": the plan holds copies of the weights");
                }
                if (check) {
                    assertEquals(withTensors, Pointer.totalBytes(), where + ": closing the " + (staged ? "staged" : "direct")
                            + " plan did not free all it allocated");
                }
                // per-call passes, staged through a window of their own in the staged case
                e.forward(p, x, w, b, y);
                try (Tensor yNew = e.forward(p, x, w, null)) {
                    assertEquals(lx, yNew.layout());
                }
                assertThrows(IllegalArgumentException.class, () -> e.forward(p, x, w, wrongB), where); // y allocated, then closed
                e.backwardData(p, gy, w, gx, true);
                assertThrows(IllegalArgumentException.class, () -> e.backwardWeights(p, wrongX, gy, gw, gb, false), where);
                e.backwardWeights(p, x, gy, gw, gb, true);
            }
            if (check) {
                assertTrue(Pointer.totalBytes() - before <= POOL_SLACK, where + ": off-heap memory grew by "
                        + (Pointer.totalBytes() - before) + " bytes in a " + (staged ? "staged" : "direct") + " round");
            }
        }
        ConvTranspose1dParams t1 = ConvTranspose1dParams.builder().stride(2).padding(1).outputPadding(3).build(); // staged
        Conv1dParams c1 = Conv1dParams.builder().stride(2).padding(1).build();
        try (Tensor x = TestData.random(r, 1, 2, 6, 20); Tensor wt = TestData.random(r, 1, 6, 4, 3); Tensor wc = TestData.random(r, 1, 4, 6, 3);
             Tensor yt = Tensor.zeros(t1.outputShape(x.shape(), wt.shape())); Tensor yc = Tensor.zeros(c1.outputShape(x.shape(), wc.shape()));
             Tensor gx = Tensor.zeros(x.shape()); Tensor gwt = Tensor.zeros(wt.shape()); Tensor gwc = Tensor.zeros(wc.shape());
             Tensor gb = Tensor.zeros(4); Tensor wrong = Tensor.zeros(2, 6, 21)) {
            e.forward(t1, x, wt, gb, yt);
            try (Tensor y = e.forward(t1, x, wt, null)) {
                assertEquals(yt.size(), y.size());
            }
            assertThrows(IllegalArgumentException.class, () -> e.forward(t1, x, wt, x), where);
            e.backwardData(t1, yt, wt, gx, false);
            assertThrows(IllegalArgumentException.class, () -> e.backwardData(t1, yt, wt, wrong, false), where);
            e.backwardWeights(t1, x, yt, gwt, gb, false);
            e.forward(c1, x, wc, null, yc);
            try (Tensor y = e.forward(c1, x, wc, gb)) {
                assertEquals(yc.size(), y.size());
            }
            assertThrows(IllegalArgumentException.class, () -> e.forward(c1, wrong, wc, null, yc), where);
            e.backwardData(c1, yc, wc, gx, true);
            e.backwardWeights(c1, x, yc, gwc, gb, false);
        }
    }

    private static long sum(long[] bytes) {
        long s = 0;
        for (long b : bytes) {
            s += Math.max(0, b);
        }
        return s;
    }
}
