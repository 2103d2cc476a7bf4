package dev.conv4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams.AutoPad;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Transposed convolution (2-D and 1-D) on every engine against a double-precision reference written
 * from the definition: input pixel i scatters {@code x[i]·w[p]} into output position
 * {@code i·s + p·d - padBegin}. The engines run it as a convolution's input gradient; this reference
 * knows nothing of that.
 */
class TransposedConvTest {

    /** One random layer: shapes and parameters, drawn so that the output is not empty. */
    record Layer(int n, int cin, int cout, int g, int h, int w, int kh, int kw, int sh, int sw, int dh, int dw,
                 int[] pad, int oph, int opw, boolean bias) {
        ConvTranspose2dParams params() {
            return ConvTranspose2dParams.builder().stride(sh, sw).dilation(dh, dw).padding(pad[0], pad[1], pad[2], pad[3])
                    .outputPadding(oph, opw).groups(g).build();
        }

        int oh() {
            return (h - 1) * sh + dh * (kh - 1) + 1 + oph - pad[0] - pad[1];
        }

        int ow() {
            return (w - 1) * sw + dw * (kw - 1) + 1 + opw - pad[2] - pad[3];
        }

        int[] x() {
            return new int[] {n, cin, h, w};
        }

        int[] wt() {
            return new int[] {cin, cout / g, kh, kw};
        }

        int[] y() {
            return new int[] {n, cout, oh(), ow()};
        }

        @Override
        public String toString() {
            return "x" + Arrays.toString(x()) + " w" + Arrays.toString(wt()) + " " + params() + (bias ? "" : " no bias");
        }
    }

    static List<Layer> layers() {
        Random r = new Random(20261203);
        List<Layer> out = new ArrayList<>();
        // shapes that the ONNX and PyTorch layers use
        out.add(new Layer(1, 16, 8, 1, 8, 8, 4, 4, 2, 2, 1, 1, new int[] {1, 1, 1, 1}, 0, 0, true));       // DCGAN
        out.add(new Layer(2, 16, 8, 1, 8, 8, 2, 2, 2, 2, 1, 1, new int[4], 0, 0, true));                     // U-Net
        out.add(new Layer(1, 1, 2, 1, 3, 3, 3, 3, 3, 2, 1, 1, new int[4], 1, 1, false));                     // ONNX pad
        out.add(new Layer(1, 2, 2, 1, 5, 6, 3, 3, 1, 1, 2, 2, new int[4], 1, 1, true));                      // op >= stride
        out.add(new Layer(1, 32, 32, 32, 7, 7, 3, 3, 2, 2, 1, 1, new int[] {1, 1, 1, 1}, 1, 1, true));      // depthwise
        out.add(new Layer(1, 3, 4, 1, 4, 4, 2, 2, 2, 2, 1, 1, new int[] {3, 3, 3, 3}, 0, 0, true));          // crop > overlap
        while (out.size() < 60) {
            int g = r.nextInt(4) == 0 ? 1 + r.nextInt(3) : 1;
            int cin = g * (1 + r.nextInt(4)), cout = g * (1 + r.nextInt(4));
            int kh = 1 + r.nextInt(4), kw = 1 + r.nextInt(4), sh = 1 + r.nextInt(3), sw = 1 + r.nextInt(3);
            int dh = 1 + r.nextInt(2), dw = 1 + r.nextInt(2);
            int[] pad = {r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3)};
            int oph = r.nextInt(Math.max(sh, dh) + (r.nextInt(5) == 0 ? 2 : 0)), opw = r.nextInt(Math.max(sw, dw));
            Layer l = new Layer(1 + r.nextInt(2), cin, cout, g, 1 + r.nextInt(6), 1 + r.nextInt(7), kh, kw, sh, sw, dh, dw, pad,
                    oph, opw, r.nextBoolean());
            if (l.oh() >= 1 && l.ow() >= 1) {
                out.add(l);
            }
        }
        return out;
    }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (ConvEngine e : Engines.all()) {
            for (Layer l : layers()) {
                a.add(Arguments.of(Engines.label(e), e, l));
            }
        }
        return a.stream();
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("cases")
    void everyPassMatchesTheDefinition(String label, ConvEngine e, Layer l) {
        Random r = new Random(l.hashCode());
        float[] x = TestData.uniform(r, size(l.x()), 1), w = TestData.uniform(r, size(l.wt()), 0.5f);
        float[] b = l.bias ? TestData.uniform(r, l.cout, 1) : null, gy = TestData.uniform(r, size(l.y()), 1);
        Ref ref = new Ref(l, x, w, b, gy);
        ConvTranspose2dParams p = l.params();
        assertArrayEquals(l.y(), p.outputShape(l.x(), l.wt()));
        try (Tensor tx = Tensor.of(x, l.x()); Tensor tw = Tensor.of(w, l.wt()); Tensor tb = l.bias ? Tensor.of(b, l.cout) : null;
             Tensor tgy = Tensor.of(gy, l.y()); Tensor y = TestData.garbage(l.y()); Tensor gx = TestData.garbage(l.x());
             Tensor gw = TestData.garbage(l.wt()); Tensor gb = TestData.garbage(l.cout)) {
            e.forward(p, tx, tw, tb, y);
            close(ref.y, y.toArray(), "y " + l);
            e.backwardData(p, tgy, tw, gx, false);
            close(ref.gx, gx.toArray(), "gx " + l);
            e.backwardWeights(p, tx, tgy, gw, tb == null ? null : gb, false);
            close(ref.gw, gw.toArray(), "gw " + l);
            if (l.bias) {
                close(ref.gb, gb.toArray(), "gb " + l);
            }
            // accumulate adds the same result to what is there
            float[] once = gx.toArray();
            e.backwardData(p, tgy, tw, gx, true);
            float[] twice = gx.toArray();
            for (int i = 0; i < once.length; i++) {
                assertEquals(once[i] + once[i], twice[i], 1e-5f * (1 + Math.abs(twice[i])), "accumulated gx " + l);
            }
        }
    }

    /** Other layouts and a plan give the bits of the NCHW per-call pass on the same engine. */
    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("cases")
    void layoutsAndPlansGiveTheSameBits(String label, ConvEngine e, Layer l) {
        if (l.hashCode() % 4 != 0 && l.cin != 32) {
            return; // a quarter of the layers is enough here
        }
        Random r = new Random(l.hashCode() + 1);
        ConvTranspose2dParams p = l.params();
        try (Tensor x = TestData.random(r, 1, l.x()); Tensor w = TestData.random(r, 0.5f, l.wt());
             Tensor b = l.bias ? TestData.random(r, 1, l.cout) : null; Tensor gy = TestData.random(r, 1, l.y());
             Tensor y = e.forward(p, x, w, b); Tensor gx = Tensor.zeros(l.x()); Tensor gw = Tensor.zeros(l.wt());
             Tensor gb = Tensor.zeros(l.cout)) {
            e.backwardData(p, gy, w, gx, false);
            e.backwardWeights(p, x, gy, gw, gb, false);
            for (Layout layout : new Layout[] {Layout.NHWC, Layout.NCHW16C}) {
                try (Tensor xl = x.toLayout(layout); Tensor gyl = gy.toLayout(Layout.NCHW16C == layout ? Layout.NHWC : layout);
                     Tensor yl = Tensor.zeros(layout, l.y()); Tensor gxl = Tensor.zeros(Layout.NCHW16C, l.x());
                     Tensor gwl = Tensor.zeros(l.wt()); Tensor gbl = Tensor.zeros(l.cout)) {
                    e.forward(p, xl, w, b, yl);
                    assertArrayEquals(y.toArray(), nchw(yl), layout + " y " + l);
                    e.backwardData(p, gyl, w, gxl, false);
                    assertArrayEquals(gx.toArray(), nchw(gxl), layout + " gx " + l);
                    e.backwardWeights(p, xl, gyl, gwl, gbl, false);
                    assertArrayEquals(gw.toArray(), gwl.toArray(), layout + " gw " + l);
                    assertArrayEquals(gb.toArray(), gbl.toArray(), layout + " gb " + l);
                }
            }
            try (ConvTranspose2dPlan plan = e.plan(p, l.x(), l.wt()); Tensor y2 = Tensor.zeros(l.y());
                 Tensor gx2 = Tensor.zeros(l.x()); Tensor gw2 = Tensor.zeros(l.wt()); Tensor gb2 = Tensor.zeros(l.cout)) {
                assertArrayEquals(l.y(), plan.outputShape());
                plan.prepackWeights(w, b);
                for (int i = 0; i < 2; i++) {
                    plan.forward(x, y2);
                    assertArrayEquals(y.toArray(), y2.toArray(), "plan y " + l);
                }
                plan.forward(x, w, b, y2);
                assertArrayEquals(y.toArray(), y2.toArray(), "plan y, weights per call " + l);
                plan.backwardData(gy, w, gx2, false);
                assertArrayEquals(gx.toArray(), gx2.toArray(), "plan gx " + l);
                plan.backwardWeights(x, gy, gw2, gb2, false);
                assertArrayEquals(gw.toArray(), gw2.toArray(), "plan gw " + l);
                assertArrayEquals(gb.toArray(), gb2.toArray(), "plan gb " + l);
                assertTrue(plan.workspaceBytes() >= 4L * size(l.wt()), "the plan holds the weights");
            }
        }
    }

    /** ONNX's output_shape and auto_pad, against sizes worked out by hand from the ONNX operator's text. */
    @Test
    void derivedPaddingFollowsOnnx() {
        int[] x = {1, 1, 3, 3}, w = {1, 2, 3, 3};
        // output_shape [10, 8] with strides [3, 2]: the full output is 9 x 7, so one zero row and column at the end
        ConvTranspose2dParams shape = ConvTranspose2dParams.builder().stride(3, 2).outputSize(10, 8).build();
        assertArrayEquals(new int[] {1, 2, 10, 8}, shape.outputShape(x, w));
        assertArrayEquals(new int[] {0, -1, 0, -1}, shape.padding(3, 3, 3, 3));
        // auto_pad SAME_UPPER, stride 2: out = in * stride = 6; total padding 7 - 6 = 1 goes at the end
        ConvTranspose2dParams same = ConvTranspose2dParams.builder().stride(2).autoPad(AutoPad.SAME_UPPER).build();
        assertArrayEquals(new int[] {1, 2, 6, 6}, same.outputShape(x, w));
        assertArrayEquals(new int[] {0, 1, 0, 1}, same.padding(3, 3, 3, 3));
        ConvTranspose2dParams lower = ConvTranspose2dParams.builder().stride(2).autoPad(AutoPad.SAME_LOWER).build();
        assertArrayEquals(new int[] {1, 0, 1, 0}, lower.padding(3, 3, 3, 3));
        // a negative begin (an output that starts before the full one): the first row is the bias alone
        ConvTranspose2dParams before = ConvTranspose2dParams.builder().autoPad(AutoPad.SAME_UPPER).outputSize(6, 5).build();
        assertArrayEquals(new int[] {-1, 0, 0, 0}, before.padding(3, 3, 3, 3));
        for (ConvEngine e : Engines.all()) {
            try (Tensor tx = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, x); Tensor tw = Tensor.zeros(w);
                 Tensor b = Tensor.of(new float[] {10, 20}, 2)) {
                tw.fill(1f);
                try (Tensor y = e.forward(before, tx, tw, b)) {
                    float[] v = y.toArray();
                    assertArrayEquals(new float[] {10, 10, 10, 10, 10}, Arrays.copyOfRange(v, 0, 5), Engines.label(e));
                    assertEquals(10 + 1 + 2 + 3, v[5 + 2], Engines.label(e)); // row 1 = full row 0: x[0,0..2] all reach column 2
                }
            }
        }
    }

    @Test
    void oneDimensionalOperationsAreTheTwoDimensionalOnesOfHeightOne() {
        Random r = new Random(7);
        for (ConvEngine e : Engines.all()) {
            Conv1dParams c1 = Conv1dParams.builder().stride(2).padding(1, 2).dilation(2).groups(2).build();
            ConvTranspose1dParams t1 = ConvTranspose1dParams.builder().stride(3).padding(2, 0).outputPadding(1).dilation(2)
                    .groups(2).build();
            try (Tensor x = TestData.random(r, 1, 2, 4, 11); Tensor w = TestData.random(r, 1, 6, 2, 3);
                 Tensor b = TestData.random(r, 1, 6); Tensor y = e.forward(c1, x, w, b);
                 Tensor y2 = e.forward(c1.asConv2d(), x.reshape(2, 4, 1, 11), w.reshape(6, 2, 1, 3), b)) {
                assertArrayEquals(new int[] {2, 6, 5}, y.shape());
                assertArrayEquals(y2.toArray(), y.toArray());
                try (Tensor gx = Tensor.zeros(2, 4, 11); Tensor gw = Tensor.zeros(6, 2, 3); Tensor gb = Tensor.zeros(6)) {
                    e.backwardData(c1, y, w, gx, false);
                    e.backwardWeights(c1, x, y, gw, gb, false);
                    try (Tensor gx2 = e.backwardData(c1.asConv2d(), y2, w.reshape(6, 2, 1, 3), new int[] {2, 4, 1, 11})) {
                        assertArrayEquals(gx2.toArray(), gx.toArray());
                    }
                }
            }
            try (Tensor x = TestData.random(r, 1, 2, 4, 5); Tensor w = TestData.random(r, 1, 4, 3, 3);
                 Tensor b = TestData.random(r, 1, 6); Tensor y = e.forward(t1, x, w, b);
                 Tensor y2 = e.forward(t1.asTranspose2d(), x.reshape(2, 4, 1, 5), w.reshape(4, 3, 1, 3), b)) {
                assertArrayEquals(new int[] {2, 6, (5 - 1) * 3 + 2 * 2 + 1 + 1 - 2}, y.shape());
                assertArrayEquals(y2.toArray(), y.toArray());
                try (Tensor gx = Tensor.zeros(2, 4, 5); Tensor gw = Tensor.zeros(4, 3, 3); Tensor gb = Tensor.zeros(6)) {
                    e.backwardData(t1, y, w, gx, false);
                    e.backwardWeights(t1, x, y, gw, gb, false);
                    Layer l = new Layer(2, 4, 6, 2, 1, 5, 1, 3, 1, 3, 1, 2, new int[] {0, 0, 2, 0}, 0, 1, true);
                    Ref ref = new Ref(l, x.toArray(), w.toArray(), b.toArray(), y.toArray());
                    close(ref.gx, gx.toArray(), "1-D gx");
                    close(ref.gw, gw.toArray(), "1-D gw");
                    close(ref.gb, gb.toArray(), "1-D gb");
                }
            }
        }
    }

    /** The naive engine's gradients against central differences of its forward pass, in double. */
    @Test
    void gradientsMatchFiniteDifferences() {
        Layer l = new Layer(1, 2, 4, 2, 3, 4, 3, 2, 2, 3, 1, 2, new int[] {1, 0, 2, 1}, 1, 0, true);
        Random r = new Random(11);
        ConvEngine e = ConvEngines.naive();
        ConvTranspose2dParams p = l.params();
        float[] x = TestData.uniform(r, size(l.x()), 1), w = TestData.uniform(r, size(l.wt()), 1);
        float[] b = TestData.uniform(r, l.cout, 1), gy = TestData.uniform(r, size(l.y()), 1);
        try (Tensor tgy = Tensor.of(gy, l.y()); Tensor tw = Tensor.of(w, l.wt()); Tensor tx = Tensor.of(x, l.x());
             Tensor gx = Tensor.zeros(l.x()); Tensor gw = Tensor.zeros(l.wt()); Tensor gb = Tensor.zeros(l.cout)) {
            e.backwardData(p, tgy, tw, gx, false);
            e.backwardWeights(p, tx, tgy, gw, gb, false);
            float[][] grads = {gx.toArray(), gw.toArray(), gb.toArray()};
            float[][] params = {x, w, b};
            for (int which = 0; which < 3; which++) {
                for (int i = 0; i < params[which].length; i++) {
                    float keep = params[which][i];
                    params[which][i] = keep + 0.25f;
                    double up = loss(e, p, l, x, w, b, gy);
                    params[which][i] = keep - 0.25f;
                    double down = loss(e, p, l, x, w, b, gy);
                    params[which][i] = keep;
                    assertEquals((up - down) / 0.5, grads[which][i], 1e-4 * (1 + Math.abs(grads[which][i])),
                            "gradient " + which + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void badArgumentsAreRefusedWithTheirNames() {
        ConvEngine e = ConvEngines.fastest();
        ConvTranspose2dParams p = ConvTranspose2dParams.builder().stride(2).groups(2).build();
        try (Tensor x = Tensor.zeros(1, 4, 3, 3); Tensor w = Tensor.zeros(4, 3, 2, 2); Tensor y = Tensor.zeros(1, 6, 6, 6)) {
            assertMessage(() -> e.forward(p, x, Tensor.zeros(3, 3, 2, 2), null, y), "weight dimension 0 must be the input channels C_in = 4");
            assertMessage(() -> e.forward(p, x, w, null, Tensor.zeros(1, 6, 5, 6)), "y must have shape [1, 6, 6, 6]");
            assertMessage(() -> e.forward(p, x, w, Tensor.zeros(5), y), "bias must have shape [6]");
            assertMessage(() -> e.forward(p, Tensor.zeros(1, 3, 3, 3), Tensor.zeros(3, 3, 2, 2), null, y), "groups 2 does not divide");
            assertMessage(() -> e.forward(p, null, w, null, y), "x must not be null");
            assertMessage(() -> e.forward(p, x, w, null, x), "y must have shape");
            assertMessage(() -> e.forward(ConvTranspose2dParams.builder().padding(3).build(), x, Tensor.zeros(4, 1, 2, 2), null),
                    "the output height would be -2");
            assertMessage(() -> ConvTranspose2dParams.builder().outputPadding(-1).build(), "output padding must not be negative");
            assertMessage(() -> e.forward(Conv1dParams.DEFAULT, x, w, null), "x must have rank 3 (N, C, L)");
            try (Tensor view = y.view(0, 1, 4, 3, 3)) {
                assertMessage(() -> e.forward(ConvTranspose2dParams.DEFAULT, view, Tensor.zeros(4, 6, 4, 4), null,
                        y), "y [1, 6, 6, 6] shares memory with x");
            }
        }
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String part) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, call);
        assertTrue(ex.getMessage().contains(part), "message \"" + ex.getMessage() + "\" lacks \"" + part + "\"");
    }

    private static double loss(ConvEngine e, ConvTranspose2dParams p, Layer l, float[] x, float[] w, float[] b, float[] gy) {
        try (Tensor tx = Tensor.of(x, l.x()); Tensor tw = Tensor.of(w, l.wt()); Tensor tb = Tensor.of(b, l.cout);
             Tensor y = e.forward(p, tx, tw, tb)) {
            float[] v = y.toArray();
            double s = 0;
            for (int i = 0; i < gy.length; i++) {
                s += v[i] * (double) gy[i];
            }
            return s;
        }
    }

    private static float[] nchw(Tensor t) {
        try (Tensor n = t.toLayout(Layout.NCHW)) {
            return n.toArray();
        }
    }

    private static int size(int[] s) {
        int n = 1;
        for (int d : s) {
            n *= d;
        }
        return n;
    }

    private static void close(double[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 2e-5 * (1 + Math.abs(expected[i])), what + " at " + i);
        }
    }

    /** The definition, in double. */
    static final class Ref {
        final double[] y, gx, gw, gb;

        Ref(Layer l, float[] x, float[] w, float[] b, float[] gy) {
            int oh = l.oh(), ow = l.ow(), cig = l.cin / l.g, cog = l.cout / l.g;
            y = new double[l.n * l.cout * oh * ow];
            gx = new double[x.length];
            gw = new double[w.length];
            gb = new double[l.cout];
            for (int n = 0; n < l.n; n++) {
                for (int co = 0; co < l.cout; co++) {
                    for (int i = 0; i < oh * ow; i++) {
                        y[(n * l.cout + co) * oh * ow + i] = b == null ? 0 : b[co];
                        gb[co] += gy[(n * l.cout + co) * oh * ow + i];
                    }
                }
                for (int ci = 0; ci < l.cin; ci++) {
                    int grp = ci / cig;
                    for (int c = 0; c < cog; c++) {
                        int co = grp * cog + c;
                        for (int i = 0; i < l.h; i++) {
                            for (int j = 0; j < l.w; j++) {
                                int xi = ((n * l.cin + ci) * l.h + i) * l.w + j;
                                for (int p = 0; p < l.kh; p++) {
                                    int o = i * l.sh + p * l.dh - l.pad[0];
                                    if (o < 0 || o >= oh) {
                                        continue;
                                    }
                                    for (int q = 0; q < l.kw; q++) {
                                        int v = j * l.sw + q * l.dw - l.pad[2];
                                        if (v < 0 || v >= ow) {
                                            continue;
                                        }
                                        int wi = ((ci * cog + c) * l.kh + p) * l.kw + q;
                                        int yi = ((n * l.cout + co) * oh + o) * ow + v;
                                        y[yi] += (double) x[xi] * w[wi];
                                        gx[xi] += (double) gy[yi] * w[wi];
                                        gw[wi] += (double) gy[yi] * x[xi];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
