package dev.conv4j.internal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every engine, every pass, with x, y, gx and gy each in a random layout (mixed within a call), against
 * the naive engine in NCHW: the naive engine bit for bit in every layout, the others within the
 * randomized tests' tolerance (Winograd's where it may run). Outputs are wrapped memory full of NaN,
 * padding channels included, so an element left unwritten or a padding channel left as it was fails.
 */
class LayoutsAgainstNaiveTest {
    private static final double TOL = 1e-5;
    private static final Layout[] LAYOUTS = Layout.values();
    private static final List<RandomConfigs.Config> CASES = cases();

    /** Random small layers, and some wide enough for several channel blocks, tiles and the blas engine's Winograd. */
    private static List<RandomConfigs.Config> cases() {
        List<RandomConfigs.Config> c = new ArrayList<>(RandomConfigs.generate(20261203L, 150));
        c.add(new RandomConfigs.Config(Conv2dParams.builder().padding(1).build(), new int[] {2, 33, 9, 7}, new int[] {20, 33, 3, 3}, true, 1));
        c.add(new RandomConfigs.Config(Conv2dParams.builder().padding(1).build(), new int[] {1, 16, 12, 12}, new int[] {32, 16, 3, 3}, false, 2));
        c.add(new RandomConfigs.Config(Conv2dParams.builder().stride(2).padding(1).groups(34).build(), new int[] {1, 34, 11, 13},
                new int[] {68, 1, 3, 3}, true, 3));
        c.add(new RandomConfigs.Config(Conv2dParams.DEFAULT, new int[] {2, 70, 5, 6}, new int[] {17, 70, 1, 1}, true, 4));
        return c;
    }

    static Stream<ConvEngine> engines() {
        return Engines.allStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void everyPassInEveryLayoutMatchesNaiveInNchw(ConvEngine engine) {
        ConvEngine naive = ConvEngines.naive();
        boolean exact = engine == naive;
        int mixed = 0;
        for (RandomConfigs.Config c : CASES) {
            ConvGeometry g = c.geometry();
            Random r = new Random(c.seed);
            Layout lx = pick(r), ly = pick(r), lgy = pick(r), lgx = pick(r);
            mixed += lx != ly || lgy != lgx ? 1 : 0;
            double tol = ConvAlgorithm.winogradApplies(g) ? ConvAlgorithm.WINOGRAD_4X4_TOLERANCE : TOL;
            try (Tensor x = TestData.random(r, 1, c.x); Tensor w = TestData.random(r, 1, c.w);
                 Tensor b = c.bias ? TestData.random(r, 1, g.o) : null; Tensor gy = TestData.random(r, 1, g.outputShape());
                 Tensor gx0 = TestData.random(r, 1, c.x);
                 Tensor yRef = naive.forward(c.params, x, w, b); Tensor gxRef = naive.backwardData(c.params, gy, w, c.x);
                 Tensor gwRef = Tensor.zeros(c.w); Tensor gbRef = Tensor.zeros(g.o);
                 Tensor xl = x.toLayout(lx); Tensor gyl = gy.toLayout(lgy);
                 Tensor y = TestData.garbage(ly, g.outputShape()); Tensor gx = TestData.garbage(lgx, c.x);
                 Tensor gxAcc = gx0.toLayout(lgx); Tensor gw = TestData.garbage(c.w); Tensor gb = TestData.garbage(g.o)) {
                naive.backwardWeights(c.params, x, gy, gwRef, gbRef);
                engine.forward(c.params, xl, w, b, y);
                engine.backwardData(c.params, gyl, w, gx);
                engine.backwardData(c.params, gyl, w, gxAcc, true);
                engine.backwardWeights(c.params, xl, gyl, gw, gb);
                String what = c + " x " + lx + " y " + ly + " gy " + lgy + " gx " + lgx;
                check("y", y, yRef.toArray(), exact, tol, what);
                check("gx", gx, gxRef.toArray(), exact, tol, what);
                check("gw", gw, gwRef.toArray(), exact, tol, what);
                check("gb", gb, gbRef.toArray(), exact, tol, what);
                float[] sum = gx0.toArray(), d = gxRef.toArray();
                for (int i = 0; i < sum.length; i++) {
                    sum[i] += d[i];
                }
                check("accumulated gx", gxAcc, sum, false, tol, what);
                try (Tensor gbl = engine.backwardBias(gyl); Tensor gbn = engine.backwardBias(gy)) {
                    check("backwardBias", gbl, gbn.toArray(), true, 0, what);
                }
                try (Tensor yNew = engine.forward(c.params, xl, w, b)) {
                    assertEquals(lx, yNew.layout(), "a new output takes x's layout");
                    check("new y", yNew, yRef.toArray(), exact, tol, what);
                }
            }
        }
        assertTrue(mixed > 50, "too few calls mixed layouts: " + mixed);
    }

    /** The pure-Java engine stages what it does not run through bit-exact reorders: any layout gives its NCHW bits. */
    @Test
    void theJavaEngineGivesItsNchwBitsInEveryLayout() {
        ConvEngine e = ConvEngines.java(2);
        for (RandomConfigs.Config c : CASES.subList(0, 40)) {
            ConvGeometry g = c.geometry();
            Random r = new Random(c.seed);
            Layout lx = pick(r), ly = pick(r);
            try (Tensor x = TestData.random(r, 1, c.x); Tensor w = TestData.random(r, 1, c.w);
                 Tensor ref = e.forward(c.params, x, w, null); Tensor xl = x.toLayout(lx); Tensor y = Tensor.zeros(ly, g.outputShape())) {
                e.forward(c.params, xl, w, null, y);
                check("y", y, ref.toArray(), true, 0, c + " x " + lx + " y " + ly);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void plansTakeEveryLayout(ConvEngine engine) {
        Random r = new Random(11);
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        int[] xs = {2, 17, 6, 5}, ws = {18, 17, 3, 3};
        ConvGeometry g = ConvGeometry.of(p, xs, ws);
        try (Conv2dPlan plan = engine.plan(p, xs, ws);
             Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws); Tensor b = TestData.random(r, 1, g.o);
             Tensor gy = TestData.random(r, 1, g.outputShape());
             Tensor yRef = engine.forward(p, x, w, b); Tensor gxRef = engine.backwardData(p, gy, w, xs);
             Tensor gwRef = Tensor.zeros(ws); Tensor gbRef = Tensor.zeros(g.o)) {
            engine.backwardWeights(p, x, gy, gwRef, gbRef);
            plan.prepackWeights(w, b);
            for (Layout lx : LAYOUTS) {
                for (Layout ly : LAYOUTS) {
                    String what = "x " + lx + " y " + ly;
                    try (Tensor xl = x.toLayout(lx); Tensor gyl = gy.toLayout(ly); Tensor y = TestData.garbage(ly, g.outputShape());
                         Tensor y2 = TestData.garbage(ly, g.outputShape()); Tensor gx = TestData.garbage(lx, xs);
                         Tensor gw = TestData.garbage(ws); Tensor gb = TestData.garbage(g.o)) {
                        plan.forward(xl, null, Activation.NONE, y);
                        plan.forward(xl, w, b, null, Activation.NONE, y2);
                        check("prepacked y", y, yRef.toArray(), false, ConvAlgorithm.WINOGRAD_4X4_TOLERANCE, what);
                        check("y", y2, yRef.toArray(), true, 0, what);
                        if (plan instanceof AbstractPlan) {
                            plan.forward(xl, y);
                            plan.backwardData(gyl, w, gx, false);
                            plan.backwardWeights(xl, gyl, gw, gb, false);
                            check("plan y", y, TestData.logical(y2), false, ConvAlgorithm.WINOGRAD_4X4_TOLERANCE, what);
                            check("gx", gx, gxRef.toArray(), true, 0, what);
                            check("gw", gw, gwRef.toArray(), true, 0, what);
                            check("gb", gb, gbRef.toArray(), true, 0, what);
                        } else if (lx != Layout.NCHW) {
                            // a plan whose kernels read NCHW and that does not stage yet says so
                            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> plan.forward(xl, y));
                            assertTrue(e.getMessage().contains("x") && e.getMessage().contains(lx.toString())
                                    && e.getMessage().contains("NCHW"), e.getMessage());
                        }
                    }
                }
            }
        }
    }

    /** Tensors beyond a Java buffer's reach are read through pointers of their own: the same reorders, on small tensors. */
    @Test
    void reordersThroughPointersMatchThoseThroughBuffers() {
        try (Tensor probe = Tensor.zeros(1)) {
            probe.pointer();
        } catch (UnsupportedOperationException noJavaCpp) {
            assumeTrue(false, "tensors live in direct buffers here: there are no pointers to read through");
        }
        Random r = new Random(12);
        int[] s = {2, 21, 7, 9};
        long reach = Reorder.bufferReach;
        try (Tensor x = TestData.random(r, 1, s); Tensor res = TestData.random(r, 1, Layout.NHWC, s)) {
            for (Layout a : LAYOUTS) {
                for (Layout b : LAYOUTS) {
                    try (Tensor viaBuffers = Tensor.zeros(b, s); Tensor viaPointers = TestData.garbage(b, s);
                         Tensor xa = x.toLayout(a)) {
                        Epilogues.apply(xa, res, Activation.RELU6, viaBuffers);
                        Reorder.bufferReach = 0;
                        try {
                            Epilogues.apply(xa, res, Activation.RELU6, viaPointers);
                        } finally {
                            Reorder.bufferReach = reach;
                        }
                        check("epilogue " + a + " -> " + b, viaPointers, TestData.logical(viaBuffers), true, 0, "");
                        assertTrue(java.util.Arrays.equals(viaBuffers.toArray(), viaPointers.toArray()), "padding " + a + " -> " + b);
                    }
                }
            }
        } finally {
            Reorder.bufferReach = reach;
        }
    }

    private static Layout pick(Random r) {
        return LAYOUTS[r.nextInt(LAYOUTS.length)];
    }

    /** The logical elements of {@code got} against {@code ref}: bit for bit (NaN equal to NaN) or within {@code tol}. */
    static void check(String name, Tensor got, float[] ref, boolean exact, double tol, String what) {
        float[] g = TestData.logical(got);
        if (exact) {
            for (int i = 0; i < ref.length; i++) {
                if (Float.floatToIntBits(g[i]) != Float.floatToIntBits(ref[i])) {
                    throw new AssertionError(name + "[" + i + "] is " + g[i] + " but must be " + ref[i] + " bit for bit: " + what);
                }
            }
        } else {
            double err = TestData.relErr(g, ref);
            assertTrue(err <= tol, name + " error " + err + ": " + what);
        }
        if (got.layout() == Layout.NCHW16C) {
            int[] s = got.shape();
            float[] mem = got.toArray();
            int blocks = (s[1] + 15) / 16, p = s[2] * s[3];
            for (int n = 0; n < s[0]; n++) {
                for (int c = s[1]; c < blocks * 16; c++) {
                    for (int q = 0; q < p; q++) {
                        float v = mem[((n * blocks + c / 16) * p + q) * 16 + c % 16];
                        assertEquals(0, Float.floatToRawIntBits(v), name + ": padding channel " + c + " holds " + v + ": " + what);
                    }
                }
            }
        }
    }
}
