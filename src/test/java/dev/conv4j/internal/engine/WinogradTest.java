package dev.conv4j.internal.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Winograd F(2x2, 3x3) and F(4x4, 3x3) in the blas engine, each held to its tolerance (the golden
 * cases are in conv4j-golden's GoldenWinogradTest): randomized layers (odd sizes, asymmetric padding, batches, and enough
 * channels and tiles to split into several units) against the naive engine.
 */
class WinogradTest {
    private static final ConvEngine[] ENGINES = {ConvEngines.blas(1), ConvEngines.blas(2)};

    static double tolerance(ConvAlgorithm a) {
        return a == ConvAlgorithm.WINOGRAD_2X2 ? ConvAlgorithm.WINOGRAD_2X2_TOLERANCE : ConvAlgorithm.WINOGRAD_4X4_TOLERANCE;
    }

    @ParameterizedTest
    @EnumSource(names = {"WINOGRAD_2X2", "WINOGRAD_4X4"})
    void randomizedAgainstNaive(ConvAlgorithm a) {
        Random r = new Random(5);
        double worst = 0;
        for (int t = 0; t < 60; t++) {
            int n = 1 + r.nextInt(3), c = 1 + r.nextInt(40), o = 1 + r.nextInt(40);
            int h = 1 + r.nextInt(30), w = 1 + r.nextInt(30);
            Conv2dParams p = Conv2dParams.builder().padding(r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3))
                    .algorithm(a).build();
            int[] xs = {n, c, h + 2, w + 2}, ws = {o, c, 3, 3};
            ConvGeometry g = ConvGeometry.of(p, xs, ws);
            try (Tensor x = TestData.random(r, 1, xs); Tensor wt = TestData.random(r, 1, ws);
                 Tensor b = t % 2 == 0 ? TestData.random(r, 1, o) : null;
                 Tensor ref = ConvEngines.naive().forward(p, x, wt, b)) {
                for (ConvEngine e : ENGINES) {
                    try (Tensor y = TestData.garbage(g.outputShape())) {
                        e.forward(p, x, wt, b, y);
                        double err = TestData.relErr(y.toArray(), ref.toArray());
                        worst = Math.max(worst, err);
                        assertTrue(err <= tolerance(a), "error " + err + " for " + g);
                    }
                }
            }
        }
        System.out.printf("%s: worst scale-free error over random layers %.2e%n", a, worst);
    }

    /** The input gradient, a Winograd convolution of gy with the turned kernels, stored and accumulated. */
    @ParameterizedTest
    @EnumSource(names = {"WINOGRAD_2X2", "WINOGRAD_4X4"})
    void backwardDataAgainstNaive(ConvAlgorithm a) {
        Random r = new Random(8);
        double worst = 0;
        for (int t = 0; t < 40; t++) {
            int n = 1 + r.nextInt(2), c = 1 + r.nextInt(40), o = 1 + r.nextInt(40);
            int h = 1 + r.nextInt(25), w = 1 + r.nextInt(25);
            Conv2dParams p = Conv2dParams.builder().padding(r.nextInt(4), r.nextInt(4), r.nextInt(4), r.nextInt(4))
                    .algorithm(a).build();
            int[] xs = {n, c, h + 2, w + 2}, ws = {o, c, 3, 3};
            ConvGeometry g = ConvGeometry.of(p, xs, ws);
            boolean accumulate = t % 2 == 1;
            try (Tensor gy = TestData.random(r, 1, g.outputShape()); Tensor wt = TestData.random(r, 1, ws);
                 Tensor base = TestData.random(r, 1, xs); Tensor ref = Tensor.zeros(xs)) {
                ref.copyFrom(base.toArray());
                ConvEngines.naive().backwardData(p, gy, wt, ref, accumulate);
                for (ConvEngine e : ENGINES) {
                    try (Tensor gx = accumulate ? Tensor.of(base.toArray(), xs) : TestData.garbage(xs)) {
                        e.backwardData(p, gy, wt, gx, accumulate);
                        double err = TestData.relErr(gx.toArray(), ref.toArray());
                        worst = Math.max(worst, err);
                        assertTrue(err <= tolerance(a), a + " input gradient error " + err + " for " + g);
                    }
                    try (Conv2dPlan plan = e.plan(p, xs, ws); Tensor gx = accumulate ? Tensor.of(base.toArray(), xs)
                            : TestData.garbage(xs)) {
                        plan.backwardData(gy, wt, gx, accumulate);
                        assertTrue(TestData.relErr(gx.toArray(), ref.toArray()) <= tolerance(a), "plan, " + g);
                    }
                }
            }
        }
        System.out.printf("%s: worst scale-free input-gradient error over random layers %.2e%n", a, worst);
    }

    /** Wide layers, where the error grows with the channel count, and several units per call. */
    @ParameterizedTest
    @EnumSource(names = {"WINOGRAD_2X2", "WINOGRAD_4X4"})
    void wideLayersSplitIntoUnits(ConvAlgorithm a) {
        Random r = new Random(6);
        int[][] layers = {{2, 64, 45, 37, 48}, {1, 256, 14, 14, 256}, {1, 512, 9, 9, 64}};
        for (int[] l : layers) {
            Conv2dParams p = Conv2dParams.builder().padding(1).algorithm(a).build();
            int[] xs = {l[0], l[1], l[2], l[3]}, ws = {l[4], l[1], 3, 3};
            try (Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 0.1f, ws);
                 Tensor b = TestData.random(r, 1, l[4]); Tensor ref = ConvEngines.naive().forward(p, x, w, b)) {
                for (ConvEngine e : ENGINES) {
                    try (Tensor y = e.forward(p, x, w, b)) {
                        double err = TestData.relErr(y.toArray(), ref.toArray());
                        assertTrue(err <= tolerance(a), a + " error " + err + " on " + Arrays.toString(l));
                    }
                    try (Conv2dPlan plan = e.plan(p, xs, ws); Tensor y = TestData.garbage(ref.shape())) {
                        plan.prepackWeights(w, b);
                        plan.forward(x, y);
                        assertTrue(TestData.relErr(y.toArray(), ref.toArray()) <= tolerance(a), "plan " + a);
                    }
                    // the input gradient, split by input channels when there are few tiles
                    try (Tensor gxRef = ConvEngines.naive().backwardData(p, ref, w, xs);
                         Tensor gx = e.backwardData(p, ref, w, xs)) {
                        double err = TestData.relErr(gx.toArray(), gxRef.toArray());
                        assertTrue(err <= tolerance(a), a + " input gradient error " + err + " on " + Arrays.toString(l));
                    }
                }
            }
        }
    }

    /** Small integers keep every step of both transforms exact, so the result equals the definition. */
    @ParameterizedTest
    @EnumSource(names = {"WINOGRAD_2X2", "WINOGRAD_4X4"})
    void integerDataStayExact(ConvAlgorithm a) {
        Random r = new Random(7);
        int[] xs = {2, 24, 13, 11}, ws = {20, 24, 3, 3};
        try (Tensor x = Tensor.of(ints(r, 7, xs), xs); Tensor w = Tensor.of(ints(r, 5, ws), ws);
             Tensor b = Tensor.of(ints(r, 9, 20), 20)) {
            Conv2dParams p = Conv2dParams.builder().padding(1).algorithm(a).build();
            try (Tensor ref = ConvEngines.naive().forward(p, x, w, b)) {
                for (ConvEngine e : ENGINES) {
                    try (Tensor y = e.forward(p, x, w, b)) {
                        assertArrayEquals(ref.toArray(), y.toArray(), a.toString());
                    }
                    try (Tensor gxRef = ConvEngines.naive().backwardData(p, ref, w, xs);
                         Tensor gx = e.backwardData(p, ref, w, xs)) {
                        assertArrayEquals(gxRef.toArray(), gx.toArray(), a + " input gradient");
                    }
                }
            }
        }
    }

    private static float[] ints(Random r, int range, int... shape) {
        int n = 1;
        for (int s : shape) {
            n *= s;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextInt(range) - range / 2;
        }
        return v;
    }

    @ParameterizedTest
    @EnumSource(names = {"WINOGRAD_2X2", "WINOGRAD_4X4"})
    void refusedWhereItDoesNotApply(ConvAlgorithm a) {
        try (Tensor x = Tensor.zeros(1, 4, 8, 8); Tensor w5 = Tensor.zeros(4, 4, 5, 5); Tensor w3 = Tensor.zeros(4, 4, 3, 3);
             Tensor w3g = Tensor.zeros(4, 2, 3, 3)) {
            Conv2dParams wino = Conv2dParams.builder().algorithm(a).build();
            for (ConvEngine e : new ConvEngine[] {ConvEngines.naive(), ConvEngines.java(1), ConvEngines.blas(1)}) {
                IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> e.forward(wino, x, w5, null));
                assertTrue(ex.getMessage().contains(a.toString()) && ex.getMessage().contains("[4, 4, 5, 5]"), ex.getMessage());
                assertThrows(IllegalArgumentException.class,
                        () -> e.forward(wino.toBuilder().stride(2).build(), x, w3, null));
                assertThrows(IllegalArgumentException.class,
                        () -> e.forward(wino.toBuilder().groups(2).build(), x, w3g, null));
                try (Tensor y = e.forward(wino, x, w3, null)) {
                    assertEquals(4 * 6 * 6, y.size());
                }
            }
        }
    }

    /**
     * AUTO: F(4x4) on wide layers with many tiles, F(2x2) or im2col below, never on narrow layers; where
     * the channel-blocked direct kernel runs (32 output channels or more, AVX-512) it takes the layer.
     */
    @Test
    void autoPicksByShape() {
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        assertEquals(4, winogradTile(dev.conv4j.internal.blas.Algorithms.of(ConvGeometry.of(p, new int[] {1, 64, 56, 56}, new int[] {24, 64, 3, 3})).forward));
        assertEquals(dev.conv4j.internal.nativeblas.NativeKernels.blockedFast() ? 0 : 4,
                winogradTile(dev.conv4j.internal.blas.Algorithms.of(ConvGeometry.of(p, new int[] {1, 64, 56, 56}, new int[] {64, 64, 3, 3})).forward));
        assertEquals(0, winogradTile(dev.conv4j.internal.blas.Algorithms.of(ConvGeometry.of(p, new int[] {1, 8, 56, 56}, new int[] {64, 8, 3, 3})).forward));
        assertEquals(0, winogradTile(dev.conv4j.internal.blas.Algorithms.of(ConvGeometry.of(p.toBuilder().stride(2).build(),
                new int[] {1, 64, 56, 56}, new int[] {64, 64, 3, 3})).forwardPrepacked));
        assertEquals(0, winogradTile(dev.conv4j.internal.blas.Algorithms.of(ConvGeometry.of(p.toBuilder().algorithm(ConvAlgorithm.IM2COL).build(),
                new int[] {1, 64, 56, 56}, new int[] {64, 64, 3, 3})).forwardPrepacked));
    }

    /** The Winograd tile size of the algorithm chosen, 0 for any other. */
    static int winogradTile(dev.conv4j.internal.blas.Algorithm a) {
        return a.name().startsWith("winograd F(4") ? 4 : a.name().startsWith("winograd F(2") ? 2 : 0;
    }
}
