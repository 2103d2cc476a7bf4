package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * NaN and infinities propagate as IEEE arithmetic on the definition with explicit zero padding
 * (PyTorch's {@code xpad}): a padded position is a real 0 that is multiplied, so {@code 0 · Inf} and
 * {@code 0 · NaN} give NaN. Each engine, pass and injected value is compared with an independent
 * reference that materializes {@code xpad} and sums in double; an element must be NaN exactly where
 * the reference is NaN, the same infinity where it is infinite, and close to it elsewhere.
 */
public class NonFiniteTest {
    private static final float INF = Float.POSITIVE_INFINITY;

    /** Configurations with padding (so padded taps exist), each kind of engine path among them. */
    private static final Object[][] CONFIGS = {
        {"3x3 pad 1", Conv2dParams.builder().padding(1).build(), new int[] {2, 3, 5, 6}, new int[] {4, 3, 3, 3}},
        {"strided dilated asymmetric pad", Conv2dParams.builder().stride(2, 1).dilation(1, 2).padding(2, 0, 1, 3).build(),
            new int[] {1, 2, 7, 6}, new int[] {3, 2, 3, 2}},
        {"grouped pad 1", Conv2dParams.builder().groups(2).padding(1).build(), new int[] {2, 4, 5, 5}, new int[] {6, 2, 3, 3}},
        {"depthwise pad 1", Conv2dParams.builder().groups(4).padding(1).build(), new int[] {2, 4, 5, 5}, new int[] {4, 1, 3, 3}},
        {"depthwise x2 stride 2 pad 2", Conv2dParams.builder().groups(3).stride(2).padding(2, 1, 2, 1).build(),
            new int[] {1, 3, 6, 7}, new int[] {6, 1, 3, 3}},
        {"pointwise", Conv2dParams.DEFAULT, new int[] {2, 3, 4, 4}, new int[] {5, 3, 1, 1}},
        {"pointwise pad 1", Conv2dParams.builder().padding(1).build(), new int[] {1, 3, 4, 4}, new int[] {2, 3, 1, 1}},
    };

    /** Where a non-finite value goes: tensor, flat index (negative counts from the end), value. */
    private static final Object[][] INJECTIONS = {
        {"x", 0, Float.NaN}, {"x", -1, INF}, {"x", 7, -INF}, {"x+-", 0, INF},
        {"w", 0, INF}, {"w", -1, Float.NaN}, {"w", 4, -INF},
        {"b", 1, Float.NaN}, {"b", 0, -INF},
        {"gy", 0, INF}, {"gy", -1, Float.NaN}, {"gy", 5, -INF},
    };

    @TestFactory
    Stream<DynamicTest> nonFiniteValuesPropagateAsInIeeeArithmeticOnTheZeroPaddedInput() {
        List<DynamicTest> tests = new ArrayList<>();
        for (ConvEngine e : Engines.all()) {
            for (Object[] c : CONFIGS) {
                for (Object[] inj : INJECTIONS) {
                    for (String pass : new String[] {"forward", "backwardData", "backwardWeights"}) {
                        String name = Engines.label(e) + " " + c[0] + ": " + pass + ", " + inj[2] + " in " + inj[0] + "[" + inj[1] + "]";
                        tests.add(DynamicTest.dynamicTest(name, () -> check(e, (Conv2dParams) c[1], (int[]) c[2], (int[]) c[3],
                                (String) inj[0], (int) inj[1], (float) inj[2], pass, name)));
                    }
                }
            }
        }
        return tests.stream();
    }

    /** The reference itself: an infinite weight whose tap reaches the padding makes those outputs NaN, not infinite. */
    @Test
    void theReferenceMultipliesPaddingZeros() {
        ConvGeometry g = ConvGeometry.of(Conv2dParams.builder().padding(1).build(), new int[] {1, 1, 3, 3}, new int[] {1, 1, 3, 3});
        float[] x = {1, 1, 1, 1, 1, 1, 1, 1, 1}, w = new float[9];
        w[0] = INF; // the top-left tap: in the padding for the first output row and column
        double[] y = Reference.forward(g, x, w, null);
        assertTrue(Double.isNaN(y[0]) && Double.isNaN(y[1]) && Double.isNaN(y[3]), "0 * Inf must be NaN");
        assertTrue(y[4] == INF && y[8] == INF, "1 * Inf must be Inf");
    }

    /**
     * Random x, w, b and gy for a layer, seeded by {@code name}, with {@code value} put into one of them:
     * {@code where} is x, w, b or gy, or "x+-" for {@code value} and its negation side by side in x;
     * {@code index} counts from the end when negative.
     */
    public static float[][] inject(ConvGeometry g, String where, int index, float value, String name) {
        Random r = new Random(name.hashCode());
        float[] x = TestData.uniform(r, size(g.inputShape()), 1), w = TestData.uniform(r, size(g.weightShape()), 1);
        float[] b = TestData.uniform(r, g.o, 1), gy = TestData.uniform(r, size(g.outputShape()), 1);
        float[] target = where.startsWith("x") ? x : where.equals("w") ? w : where.equals("b") ? b : gy;
        int i = index >= 0 ? index % target.length : target.length + index;
        target[i] = value;
        if (where.equals("x+-")) {
            target[Math.min(i + 1, target.length - 1)] = -value; // +Inf and -Inf in one window: NaN
        }
        return new float[][] {x, w, b, gy};
    }

    private static void check(ConvEngine e, Conv2dParams p, int[] xs, int[] ws, String where, int index, float value,
                              String pass, String name) {
        ConvGeometry g = ConvGeometry.of(p, xs, ws);
        float[][] in = inject(g, where, index, value, name);
        float[] x = in[0], w = in[1], b = in[2], gy = in[3];
        try (Tensor tx = Tensor.of(x, xs); Tensor tw = Tensor.of(w, ws); Tensor tb = Tensor.of(b, g.o);
             Tensor tgy = Tensor.of(gy, g.outputShape())) {
            switch (pass) {
                case "forward":
                    try (Tensor y = e.forward(p, tx, tw, tb)) {
                        compare("y", y.toArray(), Reference.forward(g, x, w, b), name);
                    }
                    break;
                case "backwardData":
                    try (Tensor gx = e.backwardData(p, tgy, tw, xs)) {
                        compare("gx", gx.toArray(), Reference.backwardData(g, gy, w), name);
                    }
                    break;
                default:
                    try (Tensor gw = TestData.garbage(ws); Tensor gb = TestData.garbage(g.o)) {
                        e.backwardWeights(p, tx, tgy, gw, gb);
                        compare("gw", gw.toArray(), Reference.backwardWeights(g, x, gy), name);
                        compare("gb", gb.toArray(), Reference.biasGradient(g, gy), name);
                    }
            }
        }
    }

    private static void compare(String what, float[] got, double[] ref, String name) {
        compare(what, got, ref, name, 1e-4);
    }

    /**
     * Fails unless {@code got} is NaN exactly where {@code ref} is, the same infinity where it is
     * infinite, and within {@code tolerance} times the largest finite magnitude elsewhere.
     */
    public static void compare(String what, float[] got, double[] ref, String name, double tolerance) {
        double scale = 0;
        for (double v : ref) {
            if (Double.isFinite(v)) {
                scale = Math.max(scale, Math.abs(v));
            }
        }
        for (int i = 0; i < ref.length; i++) {
            double v = ref[i];
            float a = got[i];
            boolean ok = Double.isNaN(v) ? Float.isNaN(a)
                    : Double.isInfinite(v) ? a == (float) v
                    : Float.isFinite(a) && Math.abs(a - v) <= tolerance * Math.max(1, scale);
            if (!ok) {
                fail(name + ": " + what + "[" + i + "] is " + a + " but IEEE arithmetic on the zero-padded input gives " + v
                        + (Double.isNaN(v) && Float.isInfinite(a) ? " (a padded position was skipped instead of multiplied: 0 * Inf = NaN)" : ""));
            }
        }
    }

    private static int size(int[] s) {
        int n = 1;
        for (int d : s) {
            n *= d;
        }
        return n;
    }

    /** The definition on an explicitly zero-padded input, in double, independent of the engines' index maps. */
    public static final class Reference {
        private Reference() {
        }

        private static int ph(ConvGeometry g) {
            return g.h + g.padTop + g.padBottom;
        }

        private static int pw(ConvGeometry g) {
            return g.w + g.padLeft + g.padRight;
        }

        /** x surrounded by its padding as real zeros. */
        static double[] pad(ConvGeometry g, float[] x) {
            int hp = ph(g), wp = pw(g);
            double[] xp = new double[g.n * g.c * hp * wp];
            for (int n = 0; n < g.n; n++) {
                for (int c = 0; c < g.c; c++) {
                    for (int i = 0; i < g.h; i++) {
                        for (int j = 0; j < g.w; j++) {
                            xp[((n * g.c + c) * hp + i + g.padTop) * wp + j + g.padLeft] = x[((n * g.c + c) * g.h + i) * g.w + j];
                        }
                    }
                }
            }
            return xp;
        }

        public static double[] forward(ConvGeometry g, float[] x, float[] w, float[] b) {
            double[] xp = pad(g, x);
            int hp = ph(g), wp = pw(g);
            double[] y = new double[g.n * g.o * g.oh * g.ow];
            for (int n = 0; n < g.n; n++) {
                for (int o = 0; o < g.o; o++) {
                    int c0 = o / g.og * g.cg;
                    for (int i = 0; i < g.oh; i++) {
                        for (int j = 0; j < g.ow; j++) {
                            double s = b == null ? 0 : b[o];
                            for (int c = 0; c < g.cg; c++) {
                                for (int p = 0; p < g.kh; p++) {
                                    for (int q = 0; q < g.kw; q++) {
                                        s += xp[((n * g.c + c0 + c) * hp + i * g.strideH + p * g.dilationH) * wp + j * g.strideW + q * g.dilationW]
                                                * w[((o * g.cg + c) * g.kh + p) * g.kw + q];
                                    }
                                }
                            }
                            y[((n * g.o + o) * g.oh + i) * g.ow + j] = s;
                        }
                    }
                }
            }
            return y;
        }

        /** The gradient of the padded input, then cropped: gradients of padding positions are dropped. */
        public static double[] backwardData(ConvGeometry g, float[] gy, float[] w) {
            int hp = ph(g), wp = pw(g);
            double[] gxp = new double[g.n * g.c * hp * wp];
            for (int n = 0; n < g.n; n++) {
                for (int o = 0; o < g.o; o++) {
                    int c0 = o / g.og * g.cg;
                    for (int i = 0; i < g.oh; i++) {
                        for (int j = 0; j < g.ow; j++) {
                            double d = gy[((n * g.o + o) * g.oh + i) * g.ow + j];
                            for (int c = 0; c < g.cg; c++) {
                                for (int p = 0; p < g.kh; p++) {
                                    for (int q = 0; q < g.kw; q++) {
                                        gxp[((n * g.c + c0 + c) * hp + i * g.strideH + p * g.dilationH) * wp + j * g.strideW + q * g.dilationW]
                                                += d * w[((o * g.cg + c) * g.kh + p) * g.kw + q];
                                    }
                                }
                            }
                        }
                    }
                }
            }
            double[] gx = new double[g.n * g.c * g.h * g.w];
            for (int n = 0; n < g.n; n++) {
                for (int c = 0; c < g.c; c++) {
                    for (int i = 0; i < g.h; i++) {
                        for (int j = 0; j < g.w; j++) {
                            gx[((n * g.c + c) * g.h + i) * g.w + j] = gxp[((n * g.c + c) * hp + i + g.padTop) * wp + j + g.padLeft];
                        }
                    }
                }
            }
            return gx;
        }

        public static double[] backwardWeights(ConvGeometry g, float[] x, float[] gy) {
            double[] xp = pad(g, x);
            int hp = ph(g), wp = pw(g);
            double[] gw = new double[g.o * g.cg * g.kh * g.kw];
            for (int n = 0; n < g.n; n++) {
                for (int o = 0; o < g.o; o++) {
                    int c0 = o / g.og * g.cg;
                    for (int i = 0; i < g.oh; i++) {
                        for (int j = 0; j < g.ow; j++) {
                            double d = gy[((n * g.o + o) * g.oh + i) * g.ow + j];
                            for (int c = 0; c < g.cg; c++) {
                                for (int p = 0; p < g.kh; p++) {
                                    for (int q = 0; q < g.kw; q++) {
                                        gw[((o * g.cg + c) * g.kh + p) * g.kw + q] += d
                                                * xp[((n * g.c + c0 + c) * hp + i * g.strideH + p * g.dilationH) * wp + j * g.strideW + q * g.dilationW];
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return gw;
        }

        public static double[] biasGradient(ConvGeometry g, float[] gy) {
            double[] gb = new double[g.o];
            int plane = g.oh * g.ow;
            for (int n = 0; n < g.n; n++) {
                for (int o = 0; o < g.o; o++) {
                    for (int i = 0; i < plane; i++) {
                        gb[o] += gy[(n * g.o + o) * plane + i];
                    }
                }
            }
            return gb;
        }
    }
}
