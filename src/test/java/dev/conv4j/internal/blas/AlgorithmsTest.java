package dev.conv4j.internal.blas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import dev.conv4j.internal.engine.Pool;
import dev.conv4j.internal.engine.TensorMemory;
import dev.conv4j.internal.engine.WorkerPool;
import dev.conv4j.internal.nativeblas.NativeKernels;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each algorithm of the blas engine alone, forced on random layers it applies to (whether or not it is
 * the one {@link Algorithms} would choose for them), run by the executor on two threads, with its output
 * filled with NaN beforehand so that anything it leaves unwritten fails, against the naive engine.
 */
class AlgorithmsTest {
    private static final WorkerPool WORKERS = new WorkerPool("algorithms-test", 2);
    private static final Pool<NativeWorkspace> WORKSPACES = new Pool<>(NativeWorkspace::new, NativeWorkspace::close, null);
    private static final BlasCall CALL = new BlasCall(WORKERS);
    private static final ConvEngine NAIVE = ConvEngines.naive();

    @AfterAll
    static void release() {
        CALL.close();
    }

    static Stream<Arguments> algorithms() {
        List<Arguments> all = new ArrayList<>();
        for (Algorithm[] list : new Algorithm[][] {Algorithms.FORWARD, Algorithms.BACKWARD_DATA, Algorithms.BACKWARD_WEIGHTS}) {
            for (Algorithm a : list) {
                boolean runs = a instanceof BlockedWeights ? NativeKernels.blockedAvx512()
                        : !(a instanceof BlockedDirect) || NativeKernels.blockedFast();
                if (!runs) {
                    continue; // the channel-blocked kernels apply only where their vector variants run
                }
                all.add(Arguments.of(a.pass() + " " + a.name(), a));
            }
        }
        return all.stream();
    }

    private record Layer(Conv2dParams p, ConvGeometry g) {
    }

    /** A random layer, drawn so that each algorithm finds enough it applies to. */
    private static Layer randomLayer(Random r, Algorithm a) {
        String name = a.name();
        boolean winograd = name.startsWith("winograd"), depthwise = name.startsWith("depthwise"), small = name.startsWith("small");
        boolean blocked = name.startsWith("blocked");
        int n = 1 + r.nextInt(2);
        int groups = depthwise ? 2 + r.nextInt(6) : r.nextInt(3) == 0 && !winograd && !blocked ? 2 : 1;
        int cg = depthwise ? 1 : 1 + r.nextInt(winograd || blocked ? 40 : 12);
        int og = depthwise ? 1 + r.nextInt(3) : 1 + r.nextInt(small ? 16 : blocked ? 140 : 24);
        int kh = winograd ? 3 : 1 + r.nextInt(4), kw = winograd ? 3 : 1 + r.nextInt(4);
        int stride = winograd || small || r.nextBoolean() ? 1 : 2;
        int dilation = winograd || r.nextInt(3) > 0 ? 1 : 2;
        int h = kh * dilation + r.nextInt(14), w = kw * dilation + r.nextInt(blocked ? 40 : 14);
        if (blocked && r.nextBoolean()) {
            stride = 1 + r.nextInt(3); // stride width 1 or 2 apply; any stride height
        }
        if (name.contains("inline")) {
            // one small image whose weights outweigh it and take the reduction (over C forward, O backward) in chunks
            boolean data = a.pass() == Algorithm.Pass.BACKWARD_DATA;
            n = 1;
            cg = 240 + r.nextInt(100);
            og = data ? 240 + r.nextInt(100) : 1 + r.nextInt(100);
            stride = data ? 1 : stride;
            kh = 3 + r.nextInt(2);
            kw = 3 + r.nextInt(2);
            h = data ? 14 + r.nextInt(4) : kh * dilation + r.nextInt(5); // the input gradient takes planes of 196 pixels and more
            w = data ? 14 + r.nextInt(4) : kw * dilation + r.nextInt(8);
        }
        ConvAlgorithm algorithm = blocked ? ConvAlgorithm.DIRECT : !winograd ? ConvAlgorithm.AUTO
                : name.contains("4x4") ? ConvAlgorithm.WINOGRAD_4X4 : ConvAlgorithm.WINOGRAD_2X2;
        Conv2dParams p = Conv2dParams.builder().stride(stride, blocked ? Math.min(stride, 2) : stride).dilation(dilation).groups(groups)
                .padding(r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3)).algorithm(algorithm).build();
        return new Layer(p, ConvGeometry.of(p, new int[] {n, cg * groups, h, w}, new int[] {og * groups, cg, kh, kw}));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("algorithms")
    void eachAlgorithmAloneMatchesTheDefinition(String label, Algorithm a) {
        Random r = new Random(label.hashCode());
        int ran = 0;
        for (int i = 0; i < 2000 && ran < 12; i++) {
            Layer l;
            try {
                l = randomLayer(r, a);
            } catch (IllegalArgumentException e) {
                continue; // no output for this draw
            }
            if (!a.applies(l.g, false)) {
                continue;
            }
            ran++;
            check(a, l.p, l.g, r.nextBoolean(), label);
        }
        assertTrue(ran >= 8, label + ": only " + ran + " random layers it applies to");
    }

    private static void check(Algorithm a, Conv2dParams p, ConvGeometry g, boolean bias, String label) {
        double tolerance = a.name().startsWith("winograd") ? ConvAlgorithm.WINOGRAD_4X4_TOLERANCE : 1e-5;
        Random r = new Random(g.hashCode());
        try (Tensor x = TestData.random(r, 1f, g.inputShape()); Tensor w = TestData.random(r, 1f, g.weightShape());
             Tensor b = bias ? TestData.random(r, 1f, g.o) : null; Tensor gy = TestData.random(r, 1f, g.outputShape())) {
            CallArgs args = CALL.args;
            switch (a.pass()) {
                case FORWARD:
                    try (Tensor y = TestData.garbage(g.outputShape()); Tensor ref = NAIVE.forward(p, x, w, b)) {
                        args.x = TensorMemory.pointer(x);
                        args.w = TensorMemory.pointer(w);
                        args.bias = TensorMemory.pointer(b);
                        args.y = TensorMemory.pointer(y);
                        CALL.run(g, a, false, WORKSPACES);
                        compare(y, ref, tolerance, label + " forward " + g);
                    }
                    break;
                case BACKWARD_DATA:
                    try (Tensor gx = TestData.garbage(g.inputShape()); Tensor ref = NAIVE.backwardData(p, gy, w, g.inputShape())) {
                        args.gy = TensorMemory.pointer(gy);
                        args.w = TensorMemory.pointer(w);
                        args.gx = TensorMemory.pointer(gx);
                        CALL.run(g, a, false, WORKSPACES);
                        compare(gx, ref, tolerance, label + " input gradient " + g);
                    }
                    break;
                default:
                    try (Tensor gw = TestData.garbage(g.weightShape()); Tensor gb = TestData.garbage(g.o);
                         Tensor ref = NAIVE.backwardWeights(p, x, gy, g.weightShape()); Tensor refBias = NAIVE.backwardBias(gy)) {
                        args.x = TensorMemory.pointer(x);
                        args.gy = TensorMemory.pointer(gy);
                        args.gw = TensorMemory.pointer(gw);
                        args.gbias = bias ? TensorMemory.pointer(gb) : null;
                        CALL.run(g, a, bias, WORKSPACES);
                        compare(gw, ref, tolerance, label + " weight gradient " + g);
                        if (bias) {
                            compare(gb, refBias, tolerance, label + " bias gradient " + g);
                        }
                    }
                    break;
            }
        }
    }

    private static void compare(Tensor got, Tensor ref, double tolerance, String what) {
        double err = TestData.relErr(got.toArray(), ref.toArray());
        assertTrue(err <= tolerance, what + ": scale-free error " + err);
    }

    @Test
    void packingInlineGivesTheBitsOfPackingBeforehand() {
        assumeTrue(NativeKernels.blockedFast(), "the channel-blocked kernel runs on AVX-512 and AVX2 only");
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        ConvGeometry g = ConvGeometry.of(p, new int[] {1, 272, 14, 14}, new int[] {256, 272, 3, 3});
        Algorithms.Choice c = Algorithms.of(g);
        assertSame(BlockedDirect.FORWARD_INLINE, c.forward, "a per-call layer whose weights outweigh its input");
        assertSame(BlockedDirect.BACKWARD_DATA_INLINE, c.backwardData, "its input gradient");
        Random r = new Random(7);
        ConvEngine blas = ConvEngines.blas(2);
        try (Tensor x = TestData.random(r, 1f, g.inputShape()); Tensor w = TestData.random(r, 1f, g.weightShape());
             Tensor b = TestData.random(r, 1f, g.o); Tensor gy = TestData.random(r, 1f, g.outputShape());
             Tensor y = blas.forward(p, x, w, b); Tensor ref = NAIVE.forward(p, x, w, b);
             Tensor gx = blas.backwardData(p, gy, w, g.inputShape()); Tensor gxRef = NAIVE.backwardData(p, gy, w, g.inputShape());
             Tensor yp = TestData.garbage(g.outputShape()); Tensor gxp = TestData.garbage(g.inputShape());
             Conv2dPlan plan = blas.plan(p, g.inputShape(), g.weightShape())) {
            plan.prepackWeights(w, b);
            plan.forward(x, yp);
            assertArrayEquals(yp.toArray(), y.toArray(), "forward per call, packing inline, and a plan's prepacked weights");
            compare(y, ref, 1e-5, "forward packing inline");
            CallArgs args = CALL.args;
            args.gy = TensorMemory.pointer(gy);
            args.w = TensorMemory.pointer(w);
            args.gx = TensorMemory.pointer(gxp);
            CALL.run(g, BlockedDirect.BACKWARD_DATA, false, WORKSPACES);
            assertArrayEquals(gxp.toArray(), gx.toArray(), "input gradient packing inline and packing first");
            compare(gx, gxRef, 1e-5, "input gradient packing inline");
        }
    }

    @Test
    void theFirstThatAppliesIsChosenOncePerGeometry() {
        ConvGeometry g = ConvGeometry.of(Conv2dParams.builder().padding(1).build(), new int[] {1, 64, 56, 56}, new int[] {64, 64, 3, 3});
        Algorithms.Choice c = Algorithms.of(g);
        assertSame(c, Algorithms.of(g), "the choice is made once for a geometry");
        assertEquals(NativeKernels.blockedFast() ? "blocked direct" : "winograd F(4x4,3x3)", c.forward.name());
        assertEquals(NativeKernels.blockedAvx512() ? "blocked direct" : "im2col+gemm", c.backwardWeights.name());
        ConvGeometry depthwise = ConvGeometry.of(Conv2dParams.builder().groups(32).padding(1).build(),
                new int[] {1, 32, 28, 28}, new int[] {32, 1, 3, 3});
        assertEquals(NativeKernels.blockedFast() ? "depthwise direct, any layout" : "depthwise direct", Algorithms.of(depthwise).forward.name());
        assertEquals("depthwise direct", Algorithms.of(depthwise).backwardWeights.name());
    }
}
