package dev.conv4j.internal.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Engines;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Plans compute what their engine computes, check their shapes, own and release their memory, and do not allocate per call. */
class PlanTest {
    private static final List<Object[]> LAYERS = List.of(
            new Object[] {Conv2dParams.builder().padding(1).build(), new int[] {2, 32, 20, 18}, new int[] {24, 32, 3, 3}},
            new Object[] {Conv2dParams.builder().stride(2).padding(1, 0, 2, 1).dilation(1, 2).groups(2).build(),
                new int[] {3, 8, 17, 19}, new int[] {6, 4, 3, 2}},
            new Object[] {Conv2dParams.DEFAULT, new int[] {2, 16, 9, 9}, new int[] {32, 16, 1, 1}},
            new Object[] {Conv2dParams.builder().groups(12).padding(1).build(), new int[] {1, 12, 30, 40}, new int[] {24, 1, 3, 3}});

    static Stream<ConvEngine> engines() {
        return Engines.allStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void planMatchesItsEngine(ConvEngine engine) {
        Random r = new Random(9);
        for (Object[] layer : LAYERS) {
            Conv2dParams p = (Conv2dParams) layer[0];
            int[] xs = (int[]) layer[1], ws = (int[]) layer[2];
            ConvGeometry g = ConvGeometry.of(p, xs, ws);
            try (Conv2dPlan plan = engine.plan(p, xs, ws);
                 Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws); Tensor b = TestData.random(r, 1, g.o);
                 Tensor gy = TestData.random(r, 1, g.outputShape());
                 Tensor y = TestData.garbage(g.outputShape()); Tensor y2 = TestData.garbage(g.outputShape());
                 Tensor gx = TestData.garbage(xs); Tensor gw = TestData.garbage(ws); Tensor gb = TestData.garbage(g.o);
                 Tensor yRef = engine.forward(p, x, w, b); Tensor gxRef = engine.backwardData(p, gy, w, xs);
                 Tensor gwRef = Tensor.zeros(ws); Tensor gbRef = Tensor.zeros(g.o)) {
                engine.backwardWeights(p, x, gy, gwRef, gbRef);
                plan.prepackWeights(w, b);
                plan.forward(x, y);
                plan.forward(x, w, b, y2);
                plan.backwardData(gy, w, gx, false);
                plan.backwardWeights(x, gy, gw, gb, false);
                // the prepacked forward may use Winograd where the per-call path does not
                assertTrue(TestData.relErr(y.toArray(), yRef.toArray()) <= ConvAlgorithm.WINOGRAD_4X4_TOLERANCE, "prepacked forward " + g);
                assertArrayEquals(yRef.toArray(), y2.toArray(), "forward " + g);
                assertArrayEquals(gxRef.toArray(), gx.toArray(), "backwardData " + g);
                assertArrayEquals(gwRef.toArray(), gw.toArray(), "backwardWeights " + g);
                assertArrayEquals(gbRef.toArray(), gb.toArray(), "bias gradient " + g);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void planRejectsOtherShapesAndUseAfterClose(ConvEngine engine) {
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        Conv2dPlan plan = engine.plan(p, new int[] {1, 4, 8, 8}, new int[] {6, 4, 3, 3});
        try (Tensor x = Tensor.zeros(1, 4, 8, 8); Tensor x2 = Tensor.zeros(1, 4, 9, 8); Tensor w = Tensor.zeros(6, 4, 3, 3);
             Tensor y = Tensor.zeros(1, 6, 8, 8)) {
            IllegalStateException none = assertThrows(IllegalStateException.class, () -> plan.forward(x, y));
            assertTrue(none.getMessage().contains("prepack"), none.getMessage());
            plan.prepackWeights(w, null);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> plan.forward(x2, y));
            assertTrue(e.getMessage().contains("[1, 4, 9, 8]") && e.getMessage().contains("[1, 4, 8, 8]"), e.getMessage());
            plan.forward(x, y);
            plan.close();
            plan.close();
            assertThrows(IllegalStateException.class, () -> plan.forward(x, y));
        }
        assertThrows(IllegalArgumentException.class, () -> engine.plan(p, new int[] {1, 4, 8, 8}, new int[] {6, 3, 3, 3}));
    }

    @Test
    void blasPlanOwnsItsWorkspaceAndDoesNotAllocatePerCall() {
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random r = new Random(3);
        try (Conv2dPlan plan = ConvEngines.blas(1).plan(p, new int[] {1, 16, 12, 12}, new int[] {16, 16, 3, 3});
             Tensor x = TestData.random(r, 1, 1, 16, 12, 12); Tensor w = TestData.random(r, 1, 16, 16, 3, 3);
             Tensor y = Tensor.zeros(1, 16, 12, 12); Tensor gy = TestData.random(r, 1, 1, 16, 12, 12);
             Tensor gx = Tensor.zeros(1, 16, 12, 12); Tensor gw = Tensor.zeros(16, 16, 3, 3)) {
            assertTrue(plan.workspaceBytes() > 0);
            plan.prepackWeights(w, null);
            for (int i = 0; i < 20_000; i++) { // let the JIT settle, so escape analysis has run
                plan.forward(x, y);
                plan.backwardData(gy, w, gx, false);
                plan.backwardWeights(x, gy, gw, null, false);
            }
            long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
            for (int i = 0; i < 1000; i++) {
                plan.forward(x, y);
                plan.backwardData(gy, w, gx, false);
                plan.backwardWeights(x, gy, gw, null, false);
            }
            long perCall = (mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before) / 3000;
            assertTrue(perCall < 16, "a planned call allocated " + perCall + " bytes on the heap");
        }
    }
    /** With helper threads too, a call of the engine or of a plan allocates nothing, on any thread. */
    @Test
    void twoThreadCallsDoNotAllocate() {
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random r = new Random(4);
        ConvEngine engine = ConvEngines.blas(2);
        int[] xs = {2, 16, 24, 24}, ws = {16, 16, 3, 3};
        try (Conv2dPlan plan = engine.plan(p, xs, ws); Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws);
             Tensor y = Tensor.zeros(xs); Tensor gy = TestData.random(r, 1, xs); Tensor gx = Tensor.zeros(xs);
             Tensor gw = Tensor.zeros(ws)) {
            plan.prepackWeights(w, null);
            Runnable calls = () -> {
                engine.forward(p, x, w, null, y);
                engine.backwardData(p, gy, w, gx, false);
                engine.backwardWeights(p, x, gy, gw, null, false);
                plan.forward(x, y);
            };
            for (int i = 0; i < 10_000; i++) {
                calls.run();
            }
            long[] ids = mx.getAllThreadIds();
            long before = sum(mx.getThreadAllocatedBytes(ids));
            for (int i = 0; i < 1000; i++) {
                calls.run();
            }
            long perCall = (sum(mx.getThreadAllocatedBytes(ids)) - before) / 4000;
            System.out.printf("two-thread calls: %d bytes allocated per call on all threads%n", perCall);
            assertTrue(perCall < 16, "a two-thread call allocated " + perCall + " bytes on the heap");
        }
    }

    /**
     * A plan keeps its staging tensors: with every activation in a layout the engine does not run, a
     * residual (y itself too) and an activation, its calls allocate nothing once warm (and no new tensors:
     * its workspace stops growing). The blas plan's fused forward pass over NCHW tensors with a residual
     * of its own allocates nothing either.
     */
    @Test
    void stagedLayoutsAndFusionDoNotAllocateInAPlan() {
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random r = new Random(5);
        int[] xs = STAGED_X, ws = STAGED_W;
        ConvGeometry g = ConvGeometry.of(p, xs, ws);
        for (ConvEngine engine : javaAndBlas()) {
            boolean staged = !(engine instanceof dev.conv4j.internal.blas.BlasEngine);
            Layout lx = staged ? Layout.NHWC : Layout.NCHW, ly = staged ? Layout.NCHW16C : Layout.NCHW;
            try (Conv2dPlan plan = engine.plan(p, xs, ws); Tensor x = TestData.random(r, 1, lx, xs); Tensor w = TestData.random(r, 1, ws);
                 Tensor b = TestData.random(r, 1, g.o); Tensor res = TestData.random(r, 1, lx, g.outputShape());
                 Tensor y = Tensor.zeros(ly, g.outputShape()); Tensor gy = TestData.random(r, 1, ly, g.outputShape());
                 Tensor gx = Tensor.zeros(lx, xs); Tensor gw = Tensor.zeros(ws)) {
                plan.prepackWeights(w, b);
                Runnable calls = () -> {
                    plan.forward(x, res, Activation.RELU, y);
                    plan.forward(x, w, b, staged ? y : res, Activation.RELU6, y); // in place where the plan stages
                    if (staged) {
                        plan.backwardData(gy, w, gx, true);
                        plan.backwardWeights(x, gy, gw, null, false);
                    }
                };
                for (int i = 0; i < 20_000; i++) {
                    calls.run();
                }
                long bytes = plan.workspaceBytes();
                long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
                for (int i = 0; i < 1000; i++) {
                    calls.run();
                }
                long perCall = (mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before) / 4000;
                System.out.printf("%s plan, staged layouts and fusion: %d bytes allocated per call%n", Engines.label(engine), perCall);
                assertTrue(perCall < 16, Engines.label(engine) + ": a planned call allocated " + perCall + " bytes on the heap");
                assertEquals(bytes, plan.workspaceBytes(), "the plan's staging grew after warm-up");
                if (staged) {
                    assertTrue(bytes >= 4L * (Layout.NHWC.storageSize(xs) + Layout.NCHW16C.storageSize(g.outputShape())),
                            "the staging tensors count in the workspace: " + bytes);
                }
            }
        }
    }

    /**
     * The per-call engine stages through a pool: with activations in layouts its passes do not run
     * (the java engine runs only NCHW; the blas engine's weight gradient of a small plane is im2col +
     * GEMM on every CPU), repeated calls allocate nothing once warm, neither on the heap nor new
     * off-heap staging tensors.
     */
    @Test
    void stagedLayoutsDoNotAllocateInEngineCalls() {
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random r = new Random(6);
        int[] xs = STAGED_X, ws = STAGED_W;
        ConvGeometry g = ConvGeometry.of(p, xs, ws);
        for (ConvEngine engine : javaAndBlas()) {
            boolean java = !(engine instanceof dev.conv4j.internal.blas.BlasEngine);
            try (Tensor x = TestData.random(r, 1, Layout.NHWC, xs); Tensor w = TestData.random(r, 1, ws); Tensor b = TestData.random(r, 1, g.o);
                 Tensor y = Tensor.zeros(Layout.NCHW16C, g.outputShape()); Tensor gy = TestData.random(r, 1, Layout.NCHW16C, g.outputShape());
                 Tensor gx = Tensor.zeros(Layout.NHWC, xs); Tensor gw = Tensor.zeros(ws)) {
                Runnable calls = () -> {
                    if (java) {
                        engine.forward(p, x, w, b, y);
                        engine.backwardData(p, gy, w, gx, true);
                    }
                    engine.backwardWeights(p, x, gy, gw, null, false);
                };
                for (int i = 0; i < 20_000; i++) {
                    calls.run();
                }
                long offHeap = org.bytedeco.javacpp.Pointer.totalBytes();
                long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
                for (int i = 0; i < 1000; i++) {
                    calls.run();
                }
                long perCall = (mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before) / (java ? 3000 : 1000);
                System.out.printf("%s engine, staged layouts: %d bytes allocated per call%n", Engines.label(engine), perCall);
                assertTrue(perCall < 16, Engines.label(engine) + ": a staged call allocated " + perCall + " bytes on the heap");
                assertEquals(offHeap, org.bytedeco.javacpp.Pointer.totalBytes(), Engines.label(engine) + ": off-heap memory changed");
            }
        }
    }

    /** The layer of the staging tests: 17 channels, so NCHW16C has padding lanes. */
    private static final int[] STAGED_X = {1, 17, 8, 8}, STAGED_W = {18, 17, 3, 3};

    /** The java engine, and the blas engine where the native library loaded. */
    private static List<ConvEngine> javaAndBlas() {
        List<ConvEngine> engines = new java.util.ArrayList<>(List.of(ConvEngines.java(1)));
        if (Engines.all().size() > 3) {
            engines.add(ConvEngines.blas(1));
        }
        return engines;
    }

    private static long sum(long[] bytes) {
        long s = 0;
        for (long b : bytes) {
            s += Math.max(0, b);
        }
        return s;
    }
}
