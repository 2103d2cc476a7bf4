package dev.conv4j.internal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import dev.conv4j.reliability.NonFiniteTest;
import dev.conv4j.reliability.NonFiniteTest.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The default algorithm keeps the definition's semantics for NaN and infinities where it picks
 * Winograd: a non-finite input, weight, bias or output gradient makes exactly the outputs non-finite
 * that IEEE arithmetic on the zero-padded input does (Winograd's transforms alone would spread one NaN
 * pixel to whole tiles and turn infinities into NaN). Each case is checked on layers where
 * {@code AUTO} does pick Winograd, through the engine and through plans.
 */
class WinogradNonFiniteTest {
    private static final float INF = Float.POSITIVE_INFINITY;
    private static final Conv2dParams PAD1 = Conv2dParams.builder().padding(1).build();
    private static final Conv2dParams PAD02 = Conv2dParams.builder().padding(0, 2, 1, 0).build();

    /** Where: x, w, b or gy; index (negative counts from the end); value; "+-" puts -value beside it. */
    private static final Object[][] INJECTIONS = {
        {"x", 0, Float.NaN}, {"x", 777, Float.NaN}, {"x", -1, INF}, {"x", 300, -INF}, {"x+-", 1000, INF},
        {"w", 0, INF}, {"w", 2000, Float.NaN}, {"w", -1, -INF},
        {"b", 3, Float.NaN}, {"b", 5, INF},
        {"gy", 0, INF}, {"gy", 1234, Float.NaN}, {"gy", -1, -INF},
    };

    @Test
    void theLayersHereAreOnesWhereAutoPicksWinograd() {
        for (Conv2dParams p : new Conv2dParams[] {PAD1, PAD02}) {
            ConvGeometry g = ConvGeometry.of(p, new int[] {2, 16, 16, 16}, new int[] {24, 16, 3, 3});
            assertEquals(4, winogradTile(dev.conv4j.internal.blas.Algorithms.of(g).forward), "forward");
            assertEquals(4, winogradTile(dev.conv4j.internal.blas.Algorithms.of(g).backwardData), "input gradient");
        }
        ConvGeometry small = ConvGeometry.of(PAD1, new int[] {1, 16, 11, 11}, new int[] {24, 16, 3, 3});
        assertEquals(2, winogradTile(dev.conv4j.internal.blas.Algorithms.of(small).forwardPrepacked), "a plan with prepacked weights on an 11x11 image");
    }

    @TestFactory
    Stream<DynamicTest> nonFiniteValuesPropagateAsOnTheDefinition() {
        List<DynamicTest> tests = new ArrayList<>();
        if (!ConvEngines.isNativeAvailable()) {
            return tests.stream();
        }
        Object[][] layers = {
            {PAD1, new int[] {2, 16, 16, 16}, new int[] {24, 16, 3, 3}},
            {PAD02, new int[] {2, 16, 16, 16}, new int[] {24, 16, 3, 3}},
            {PAD1, new int[] {1, 16, 11, 11}, new int[] {24, 16, 3, 3}},
        };
        for (ConvEngine e : List.of(ConvEngines.blas(1), ConvEngines.blas(2))) {
            for (Object[] l : layers) {
                for (Object[] inj : INJECTIONS) {
                    for (String pass : new String[] {"forward", "plan", "planPerCall", "backwardData", "backwardDataAdd", "planData"}) {
                        String name = Engines.label(e) + " " + l[0] + " " + java.util.Arrays.toString((int[]) l[1]) + " " + pass
                                + ": " + inj[2] + " in " + inj[0] + "[" + inj[1] + "]";
                        tests.add(DynamicTest.dynamicTest(name, () -> check(e, (Conv2dParams) l[0], (int[]) l[1], (int[]) l[2],
                                (String) inj[0], (int) inj[1], (float) inj[2], pass, name)));
                    }
                }
            }
        }
        return tests.stream();
    }

    /** An explicitly requested Winograd algorithm keeps its raw behaviour, as documented: it spreads a NaN. */
    @Test
    void anExplicitWinogradKeepsItsRawBehaviour() {
        if (!ConvEngines.isNativeAvailable()) {
            return;
        }
        Conv2dParams raw = Conv2dParams.builder().padding(1).algorithm(ConvAlgorithm.WINOGRAD_4X4).build();
        int[] xs = {1, 16, 16, 16}, ws = {16, 16, 3, 3};
        Random r = new Random(9);
        float[] x = TestData.uniform(r, 16 * 256, 1);
        x[16 * 5 + 6] = Float.NaN;
        try (Tensor tx = Tensor.of(x, xs); Tensor tw = TestData.random(r, 1, ws);
             Tensor explicit = ConvEngines.blas(1).forward(raw, tx, tw, null); Tensor auto = ConvEngines.blas(1).forward(PAD1, tx, tw, null)) {
            int spread = nans(explicit.toArray()), definition = nans(auto.toArray());
            assertEquals(16 * 9, definition, "one NaN pixel makes a 3x3 block of every output channel NaN");
            assertTrue(spread > definition, "WINOGRAD_4X4 spreads a NaN to whole tiles: " + spread);
        }
    }

    /**
     * Finite inputs large enough that sums overflow: the definition (the naive engine, summing in
     * double) gives infinities where they do; Winograd's transforms would overflow earlier and turn
     * some into NaN, or make finite outputs infinite. Under AUTO the result matches the definition's
     * non-finite pattern exactly.
     */
    @Test
    void sumsThatOverflowDoSoAsInTheDefinition() {
        if (!ConvEngines.isNativeAvailable()) {
            return;
        }
        int[] xs = {2, 16, 16, 16}, ws = {24, 16, 3, 3};
        Random r = new Random(11);
        float[] x = TestData.uniform(r, size(xs), 1), w = TestData.uniform(r, size(ws), 1);
        for (int i = 0; i < x.length; i += 7) {
            x[i] = (r.nextBoolean() ? 1 : -1) * 3e38f;
        }
        try (Tensor tx = Tensor.of(x, xs); Tensor tw = Tensor.of(w, ws); Tensor ref = ConvEngines.naive().forward(PAD1, tx, tw, null)) {
            float[] want = ref.toArray();
            int inf = 0;
            for (float v : want) {
                inf += Float.isInfinite(v) ? 1 : 0;
            }
            assertTrue(inf > 0, "the case must overflow somewhere");
            for (ConvEngine e : List.of(ConvEngines.blas(1), ConvEngines.blas(2))) {
                try (Tensor y = e.forward(PAD1, tx, tw, null)) {
                    float[] got = y.toArray();
                    for (int i = 0; i < want.length; i++) {
                        boolean same = Float.isNaN(want[i]) ? Float.isNaN(got[i]) : Float.isInfinite(want[i]) ? got[i] == want[i]
                                : Float.isFinite(got[i]) && Math.abs(got[i] - want[i]) <= 1e-3 * 3e38;
                        if (!same) {
                            fail(Engines.label(e) + ": y[" + i + "] is " + got[i] + " where the definition gives " + want[i]);
                        }
                    }
                }
            }
        }
    }

    private static int nans(float[] a) {
        int n = 0;
        for (float v : a) {
            n += Float.isNaN(v) ? 1 : 0;
        }
        return n;
    }

    /**
     * One operand near float's limit with the other zero: the definition gives 0, but the input (or weight)
     * transform alone overflows and Inf·0 is NaN; the repair must see it although the product looks harmless.
     */
    @Test
    void aHugeOperandTimesZeroGivesZero() {
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        int[] xs = {2, 23, 16, 16}, ws = {23, 23, 3, 3};
        assertEquals(4, WinogradTest.winogradTile(dev.conv4j.internal.blas.Algorithms.of(ConvGeometry.of(p, xs, ws)).forward));
        for (ConvEngine e : new ConvEngine[] {ConvEngines.blas(1), ConvEngines.blas(2)}) {
            try (Tensor x = Tensor.zeros(xs); Tensor w = Tensor.zeros(ws); Tensor gy = Tensor.zeros(2, 23, 16, 16)) {
                x.fill(0f);
                float[] big = new float[2 * 23 * 16 * 16];
                big[5 * 256 + 7 * 16 + 9] = -3.4e38f;
                try (Tensor hx = Tensor.of(big, xs); Tensor y = e.forward(p, hx, w, null)) {
                    assertEquals(0, TestData.relErr(y.toArray(), new float[(int) y.size()]), "forward, huge input, zero weights");
                }
                try (Tensor hgy = Tensor.of(big, 2, 23, 16, 16); Tensor gx = e.backwardData(p, hgy, w, xs)) {
                    assertEquals(0, TestData.relErr(gx.toArray(), new float[(int) gx.size()]), "input gradient, huge gradient, zero weights");
                }
                float[] wv = new float[23 * 23 * 9];
                wv[100] = 3.4e38f;
                try (Tensor hw = Tensor.of(wv, ws); Tensor y = e.forward(p, x, hw, null)) {
                    assertEquals(0, TestData.relErr(y.toArray(), new float[(int) y.size()]), "forward, zero input, huge weight");
                }
            }
        }
    }

    private static void check(ConvEngine e, Conv2dParams p, int[] xs, int[] ws, String where, int index, float value,
                              String pass, String name) {
        ConvGeometry g = ConvGeometry.of(p, xs, ws);
        float[][] in = NonFiniteTest.inject(g, where, index, value, name);
        float[] x = in[0], w = in[1], b = in[2], gy = in[3];
        Random r = new Random(name.hashCode() + 1);
        try (Tensor tx = Tensor.of(x, xs); Tensor tw = Tensor.of(w, ws); Tensor tb = Tensor.of(b, g.o);
             Tensor tgy = Tensor.of(gy, g.outputShape()); Tensor y = Tensor.zeros(g.outputShape());
             Tensor gx = TestData.random(r, 1, xs)) {
            switch (pass) {
                case "forward":
                    e.forward(p, tx, tw, tb, y);
                    compare("y", y.toArray(), Reference.forward(g, x, w, b), name);
                    return;
                case "plan":
                case "planPerCall":
                    try (Conv2dPlan plan = e.plan(p, xs, ws)) {
                        if (pass.equals("plan")) {
                            plan.prepackWeights(tw, tb);
                            plan.forward(tx, y);
                        } else {
                            plan.forward(tx, tw, tb, y);
                        }
                    }
                    compare("y", y.toArray(), Reference.forward(g, x, w, b), name);
                    return;
                case "backwardData":
                    e.backwardData(p, tgy, tw, gx);
                    compare("gx", gx.toArray(), Reference.backwardData(g, gy, w), name);
                    return;
                case "backwardDataAdd": {
                    float[] before = gx.toArray();
                    e.backwardData(p, tgy, tw, gx, true);
                    double[] ref = Reference.backwardData(g, gy, w);
                    for (int k = 0; k < ref.length; k++) {
                        ref[k] += before[k];
                    }
                    compare("gx", gx.toArray(), ref, name);
                    return;
                }
                default:
                    try (Conv2dPlan plan = e.plan(p, xs, ws)) {
                        plan.backwardData(tgy, tw, gx, false);
                    }
                    compare("gx", gx.toArray(), Reference.backwardData(g, gy, w), name);
            }
        }
    }

    private static void compare(String what, float[] got, double[] ref, String name) {
        NonFiniteTest.compare(what, got, ref, name, ConvAlgorithm.WINOGRAD_4X4_TOLERANCE);
    }

    private static int size(int[] s) {
        int n = 1;
        for (int d : s) {
            n *= d;
        }
        return n;
    }

    /** The Winograd tile size of the algorithm chosen, 0 for any other. */
    static int winogradTile(dev.conv4j.internal.blas.Algorithm a) {
        return a.name().startsWith("winograd F(4") ? 4 : a.name().startsWith("winograd F(2") ? 2 : 0;
    }
}
