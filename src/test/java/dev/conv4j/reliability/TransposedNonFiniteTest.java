package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv1dParams;
import dev.conv4j.Conv2dParams.AutoPad;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.ConvTranspose1dParams;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose2dPlan;
import dev.conv4j.Engines;
import dev.conv4j.Layout;
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
 * {@link NonFiniteTest}'s rules for the transposed (2-D and 1-D) and the 1-D convolutions: NaN and
 * infinities propagate as IEEE arithmetic on the definition. A transposed convolution's output is the
 * scatter of every product {@code x[i]·w[p]} into the full output, cropped by the padding and extended
 * by the output padding (positions no product reaches hold the bias alone); its input and weight
 * gradients read the output gradient placed in the full output with real zeros around it (the
 * convolution of the zero-padded output gradient, PyTorch's), so that {@code 0 · Inf} there gives NaN.
 * The 1-D convolution is NonFiniteTest's reference at height 1. Each engine, pass (per call, and through a
 * plan) and injected value is compared with that reference in double: NaN exactly where it is NaN, the
 * same infinity where it is infinite, and close elsewhere.
 */
class TransposedNonFiniteTest {
    private static final float INF = Float.POSITIVE_INFINITY;

    /** Layers whose outputs have crops, gaps no product reaches, staged windows, groups and derived padding. */
    private static final Object[][] CONFIGS = {
        {"DCGAN stride 2 pad 1", ConvTranspose2dParams.builder().stride(2).padding(1).build(), new int[] {1, 3, 4, 5},
            new int[] {3, 2, 4, 4}, Layout.NCHW, Layout.NCHW},
        {"staged: dilation 2, output padding 1, NHWC -> NCHW16C", ConvTranspose2dParams.builder().dilation(2).outputPadding(1).build(),
            new int[] {2, 2, 4, 4}, new int[] {2, 3, 3, 3}, Layout.NHWC, Layout.NCHW16C},
        {"grouped strided dilated asymmetric crop", ConvTranspose2dParams.builder().groups(2).stride(2, 1).dilation(1, 2)
            .padding(1, 0, 2, 1).outputPadding(1, 0).build(), new int[] {1, 4, 5, 4}, new int[] {4, 2, 3, 2}, Layout.NCHW, Layout.NHWC},
        {"depthwise stride 2", ConvTranspose2dParams.builder().groups(3).stride(2).padding(1).outputPadding(1).build(),
            new int[] {1, 3, 4, 4}, new int[] {3, 1, 3, 3}, Layout.NCHW16C, Layout.NCHW},
        {"output size past the full output", ConvTranspose2dParams.builder().stride(2).outputSize(9, 8).build(),
            new int[] {1, 2, 3, 3}, new int[] {2, 2, 3, 3}, Layout.NCHW, Layout.NCHW},
        {"padding cropping past the overlap", ConvTranspose2dParams.builder().stride(2).padding(2).build(),
            new int[] {1, 2, 4, 3}, new int[] {2, 2, 2, 2}, Layout.NCHW, Layout.NCHW},
        {"1x1 stride 2: gaps no product reaches", ConvTranspose2dParams.builder().stride(2).build(),
            new int[] {1, 3, 3, 3}, new int[] {3, 2, 1, 1}, Layout.NCHW, Layout.NCHW},
        {"1-D transposed stride 3 output padding 1 dilation 2 groups 2", ConvTranspose1dParams.builder().stride(3).padding(2, 0)
            .outputPadding(1).dilation(2).groups(2).build(), new int[] {2, 4, 5}, new int[] {4, 3, 3}, Layout.NCHW, Layout.NCHW},
        {"1-D transposed output padding past the stride", ConvTranspose1dParams.builder().stride(2).padding(1).outputPadding(3).build(),
            new int[] {1, 3, 4}, new int[] {3, 2, 3}, Layout.NCHW, Layout.NCHW},
        {"1-D stride 2 pad dilation 2 groups 2", Conv1dParams.builder().stride(2).padding(1, 2).dilation(2).groups(2).build(),
            new int[] {2, 4, 9}, new int[] {6, 2, 3}, Layout.NCHW, Layout.NCHW},
        {"1-D SAME_UPPER kernel 4", Conv1dParams.builder().autoPad(AutoPad.SAME_UPPER).build(),
            new int[] {1, 3, 7}, new int[] {2, 3, 4}, Layout.NCHW, Layout.NCHW},
    };

    /** Where a non-finite value goes: tensor, flat logical index (negative counts from the end), value. */
    private static final Object[][] INJECTIONS = {
        {"x", 0, Float.NaN}, {"x", -1, INF}, {"x", 7, -INF}, {"x+-", 0, INF},
        {"w", 0, INF}, {"w", -1, Float.NaN}, {"w", 4, -INF},
        {"b", 1, Float.NaN}, {"b", 0, -INF},
        {"gy", 0, INF}, {"gy", -1, Float.NaN}, {"gy", 5, -INF},
    };

    @TestFactory
    Stream<DynamicTest> nonFiniteValuesPropagateAsInIeeeArithmeticOnTheDefinition() {
        List<DynamicTest> tests = new ArrayList<>();
        for (ConvEngine e : Engines.all()) {
            for (Object[] c : CONFIGS) {
                boolean plan = c[1] instanceof ConvTranspose2dParams;
                for (Object[] inj : INJECTIONS) {
                    for (String pass : plan ? new String[] {"forward", "backwardData", "backwardWeights", "plan"}
                            : new String[] {"forward", "backwardData", "backwardWeights"}) {
                        String name = Engines.label(e) + " " + c[0] + ": " + pass + ", " + inj[2] + " in " + inj[0] + "[" + inj[1] + "]";
                        tests.add(DynamicTest.dynamicTest(name, () -> check(e, c, (String) inj[0], (int) inj[1], (float) inj[2], pass, name)));
                    }
                }
            }
        }
        return tests.stream();
    }

    /** The reference itself: an infinite weight fills only the positions its products reach, and meets the zeros around gy. */
    @Test
    void theReferenceScattersProductsAndMultipliesTheZerosAroundTheOutputGradient() {
        // 1x1 kernel, stride 2: the products land on even rows and columns, the others hold the bias alone
        Layer l = new Layer(ConvTranspose2dParams.builder().stride(2).build(), new int[] {1, 1, 2, 2}, new int[] {1, 1, 1, 1});
        double[] y = l.forward(new float[] {1, 1, 1, 1}, new float[] {INF}, new float[] {5});
        assertTrue(y[0] == INF && y[2] == INF && y[6] == INF && y[8] == INF, "1 * Inf must be Inf");
        assertTrue(y[1] == 5 && y[4] == 5, "a position no product reaches holds the bias: " + y[1] + ", " + y[4]);
        // 3x3 kernel, padding 1: the top-left tap of the first input lands in the cropped row and column
        Layer c = new Layer(ConvTranspose2dParams.builder().padding(1).build(), new int[] {1, 1, 2, 2}, new int[] {1, 1, 3, 3});
        float[] w = new float[9];
        w[0] = INF;
        double[] gx = c.backwardData(new float[] {1, 1, 1, 1}, w);
        assertTrue(Double.isNaN(gx[0]), "a tap on the cropped border multiplies a real 0 of the output gradient: 0 * Inf = NaN");
        assertTrue(gx[3] == INF, "the tap inside the output: 1 * Inf");
        double[] y2 = c.forward(new float[] {1, 1, 1, 1}, w, null);
        assertTrue(y2[0] == INF && y2[3] == 0, "x[1,1]·w[0,0] lands on y[0,0]; x[0,0]·w[0,0] is cropped, not NaN: " + y2[0]
                + ", " + y2[3]);
    }

    private static void check(ConvEngine e, Object[] c, String where, int index, float value, String pass, String name) {
        Object p = c[1];
        int[] xs = (int[]) c[2], ws = (int[]) c[3];
        Layout lx = (Layout) c[4], ly = (Layout) c[5];
        Layer l = new Layer(p, xs, ws);
        Random r = new Random(name.replace(pass, "").hashCode());
        float[] x = TestData.uniform(r, size(xs), 1), w = TestData.uniform(r, size(ws), 1);
        float[] b = TestData.uniform(r, l.ys[1], 1), gy = TestData.uniform(r, size(l.ys), 1);
        float[] target = where.startsWith("x") ? x : where.equals("w") ? w : where.equals("b") ? b : gy;
        int i = index >= 0 ? index % target.length : target.length + index;
        target[i] = value;
        if (where.equals("x+-")) {
            target[Math.min(i + 1, target.length - 1)] = -value; // +Inf and -Inf meeting in one sum: NaN
        }
        try (Tensor tx = make(x, xs, lx); Tensor tw = Tensor.of(w, ws); Tensor tb = Tensor.of(b, l.ys[1]);
             Tensor tgy = make(gy, l.ys, ly); Tensor y = garbage(ly, l.ys); Tensor gx = garbage(lx, xs);
             Tensor gw = TestData.garbage(ws); Tensor gb = TestData.garbage(l.ys[1])) {
            if (pass.equals("plan")) {
                try (ConvTranspose2dPlan plan = e.plan((ConvTranspose2dParams) p, xs, ws)) {
                    plan.prepackWeights(tw, tb);
                    plan.forward(tx, y);
                    compare("y (prepacked)", y, l.forward(x, w, b), name);
                    y.fill(Float.NaN);
                    plan.forward(tx, tw, tb, y);
                    compare("y", y, l.forward(x, w, b), name);
                    plan.backwardData(tgy, tw, gx, false);
                    compare("gx", gx, l.backwardData(gy, w), name);
                    plan.backwardWeights(tx, tgy, gw, gb, false);
                    compare("gw", gw, l.backwardWeights(x, gy), name);
                    compare("gb", gb, l.biasGradient(gy), name);
                }
                return;
            }
            switch (pass) {
                case "forward":
                    l.run(e, "forward", tx, tw, tb, tgy, y, gx, gw, gb);
                    compare("y", y, l.forward(x, w, b), name);
                    break;
                case "backwardData":
                    l.run(e, "backwardData", tx, tw, tb, tgy, y, gx, gw, gb);
                    compare("gx", gx, l.backwardData(gy, w), name);
                    break;
                default:
                    l.run(e, "backwardWeights", tx, tw, tb, tgy, y, gx, gw, gb);
                    compare("gw", gw, l.backwardWeights(x, gy), name);
                    compare("gb", gb, l.biasGradient(gy), name);
            }
        }
    }

    private static void compare(String what, Tensor got, double[] ref, String name) {
        NonFiniteTest.compare(what, TestData.logical(got), ref, name, 1e-4);
    }

    private static Tensor make(float[] logical, int[] shape, Layout l) {
        try (Tensor t = Tensor.of(logical, shape)) {
            return l == Layout.NCHW ? Tensor.of(logical, shape) : t.toLayout(l);
        }
    }

    private static Tensor garbage(Layout l, int[] shape) {
        return shape.length == 4 ? TestData.garbage(l, shape) : TestData.garbage(shape);
    }

    private static int size(int[] s) {
        int n = 1;
        for (int d : s) {
            n *= d;
        }
        return n;
    }

    /** A layer of one of the three operations, its passes on an engine, and its reference in double. */
    static final class Layer {
        final Object p;
        final int[] xs, ws, ys;
        /** A transposed layer as 2-D: batch, channels, groups, sizes, strides, dilations, and where y starts in the full output. */
        int n, cin, cout, g, h, w, kh, kw, sh, sw, dh, dw, oh, ow, top, left;
        /** A 1-D convolution as 2-D, for NonFiniteTest's reference. */
        ConvGeometry conv;

        Layer(Object p, int[] xs, int[] ws) {
            this.p = p;
            this.xs = xs;
            this.ws = ws;
            if (p instanceof Conv1dParams) {
                conv = ConvGeometry.of(((Conv1dParams) p).asConv2d(), new int[] {xs[0], xs[1], 1, xs[2]},
                        new int[] {ws[0], ws[1], 1, ws[2]});
                ys = ((Conv1dParams) p).outputShape(xs, ws);
                return;
            }
            boolean one = p instanceof ConvTranspose1dParams;
            ConvTranspose2dParams q = one ? ((ConvTranspose1dParams) p).asTranspose2d() : (ConvTranspose2dParams) p;
            int[] x = one ? new int[] {xs[0], xs[1], 1, xs[2]} : xs, k = one ? new int[] {ws[0], ws[1], 1, ws[2]} : ws;
            ys = one ? ((ConvTranspose1dParams) p).outputShape(xs, ws) : q.outputShape(xs, ws);
            int[] y = q.outputShape(x, k), pad = q.padding(x[2], x[3], k[2], k[3]);
            n = x[0];
            cin = x[1];
            h = x[2];
            w = x[3];
            g = q.groups();
            cout = k[1] * g;
            kh = k[2];
            kw = k[3];
            sh = q.strideH();
            sw = q.strideW();
            dh = q.dilationH();
            dw = q.dilationW();
            oh = y[2];
            ow = y[3];
            top = pad[0];
            left = pad[2];
        }

        void run(ConvEngine e, String pass, Tensor x, Tensor wt, Tensor b, Tensor gy, Tensor y, Tensor gx, Tensor gw, Tensor gb) {
            if (p instanceof ConvTranspose2dParams) {
                ConvTranspose2dParams q = (ConvTranspose2dParams) p;
                switch (pass) {
                    case "forward": e.forward(q, x, wt, b, y); break;
                    case "backwardData": e.backwardData(q, gy, wt, gx, false); break;
                    default: e.backwardWeights(q, x, gy, gw, gb, false);
                }
            } else if (p instanceof ConvTranspose1dParams) {
                ConvTranspose1dParams q = (ConvTranspose1dParams) p;
                switch (pass) {
                    case "forward": e.forward(q, x, wt, b, y); break;
                    case "backwardData": e.backwardData(q, gy, wt, gx, false); break;
                    default: e.backwardWeights(q, x, gy, gw, gb, false);
                }
            } else {
                Conv1dParams q = (Conv1dParams) p;
                switch (pass) {
                    case "forward": e.forward(q, x, wt, b, y); break;
                    case "backwardData": e.backwardData(q, gy, wt, gx, false); break;
                    default: e.backwardWeights(q, x, gy, gw, gb, false);
                }
            }
        }

        private int xi(int img, int c, int i, int j) {
            return ((img * cin + c) * h + i) * w + j;
        }

        private int wi(int c, int col, int p, int q) {
            return ((c * (cout / g) + col) * kh + p) * kw + q;
        }

        private int yi(int img, int co, int i, int j) {
            return ((img * cout + co) * oh + i) * ow + j;
        }

        /** The output channel that column {@code col} of input channel {@code c}'s weights feeds. */
        private int co(int c, int col) {
            return c / (cin / g) * (cout / g) + col;
        }

        /** The output gradient at a position of the output (relative to y), a real 0 outside it. */
        private double grad(float[] gy, int img, int co, int i, int j) {
            return i < 0 || i >= oh || j < 0 || j >= ow ? 0.0 : gy[yi(img, co, i, j)];
        }

        /** Every product x[i]·w[p] scattered to output position i·s + p·d - begin, dropped outside the output; plus the bias. */
        double[] forward(float[] x, float[] wt, float[] b) {
            if (conv != null) {
                return NonFiniteTest.Reference.forward(conv, x, wt, b);
            }
            double[] y = new double[n * cout * oh * ow];
            for (int img = 0; img < n; img++) {
                for (int co = 0; co < cout; co++) {
                    for (int i = 0; i < oh * ow; i++) {
                        y[(img * cout + co) * oh * ow + i] = b == null ? 0 : b[co];
                    }
                }
                for (int c = 0; c < cin; c++) {
                    for (int col = 0; col < cout / g; col++) {
                        int co = co(c, col);
                        for (int i = 0; i < h; i++) {
                            for (int j = 0; j < w; j++) {
                                for (int p = 0; p < kh; p++) {
                                    for (int q = 0; q < kw; q++) {
                                        int o = i * sh + p * dh - top, v = j * sw + q * dw - left;
                                        if (o >= 0 && o < oh && v >= 0 && v < ow) {
                                            y[yi(img, co, o, v)] += (double) x[xi(img, c, i, j)] * wt[wi(c, col, p, q)];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return y;
        }

        /** gx[i] = Σ over every tap of gy at i·s + p·d - begin (a real 0 outside the output) times w[p]. */
        double[] backwardData(float[] gy, float[] wt) {
            if (conv != null) {
                return NonFiniteTest.Reference.backwardData(conv, gy, wt);
            }
            double[] gx = new double[n * cin * h * w];
            for (int img = 0; img < n; img++) {
                for (int c = 0; c < cin; c++) {
                    for (int i = 0; i < h; i++) {
                        for (int j = 0; j < w; j++) {
                            double s = 0;
                            for (int col = 0; col < cout / g; col++) {
                                for (int p = 0; p < kh; p++) {
                                    for (int q = 0; q < kw; q++) {
                                        s += grad(gy, img, co(c, col), i * sh + p * dh - top, j * sw + q * dw - left)
                                                * wt[wi(c, col, p, q)];
                                    }
                                }
                            }
                            gx[xi(img, c, i, j)] = s;
                        }
                    }
                }
            }
            return gx;
        }

        /** gw[p] = Σ over the batch and every input position of x[i] times gy at i·s + p·d - begin (a real 0 outside). */
        double[] backwardWeights(float[] x, float[] gy) {
            if (conv != null) {
                return NonFiniteTest.Reference.backwardWeights(conv, x, gy);
            }
            double[] gw = new double[cin * (cout / g) * kh * kw];
            for (int c = 0; c < cin; c++) {
                for (int col = 0; col < cout / g; col++) {
                    for (int p = 0; p < kh; p++) {
                        for (int q = 0; q < kw; q++) {
                            double s = 0;
                            for (int img = 0; img < n; img++) {
                                for (int i = 0; i < h; i++) {
                                    for (int j = 0; j < w; j++) {
                                        s += (double) x[xi(img, c, i, j)]
                                                * grad(gy, img, co(c, col), i * sh + p * dh - top, j * sw + q * dw - left);
                                    }
                                }
                            }
                            gw[wi(c, col, p, q)] = s;
                        }
                    }
                }
            }
            return gw;
        }

        double[] biasGradient(float[] gy) {
            if (conv != null) {
                return NonFiniteTest.Reference.biasGradient(conv, gy);
            }
            double[] gb = new double[cout];
            for (int img = 0; img < n; img++) {
                for (int co = 0; co < cout; co++) {
                    for (int i = 0; i < oh * ow; i++) {
                        gb[co] += gy[(img * cout + co) * oh * ow + i];
                    }
                }
            }
            return gb;
        }
    }
}
