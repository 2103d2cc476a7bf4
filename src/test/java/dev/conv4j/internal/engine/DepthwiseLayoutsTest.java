package dev.conv4j.internal.engine;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Depthwise layers with one output channel per input channel (MobileNet's), whose forward pass the
 * blas engine runs in every layout with its epilogue fused (on AVX2 and AVX-512 CPUs): random shapes
 * with channel counts around whole blocks of 16, odd kernels, strides, dilations and asymmetric
 * padding, planes too wide for one band, and MobileNet v1's own layers; every pair of layouts, each
 * activation and residual mode, per call and by a plan; bit for bit against the engine's own NCHW
 * pass followed by the epilogue, and within tolerance against the naive engine.
 */
class DepthwiseLayoutsTest {
    private static final Layout[] LAYOUTS = Layout.values();
    private static final List<Activation> ACTIVATIONS = List.of(Activation.NONE, Activation.RELU6, Activation.clamp(-0.25f, 0.5f));

    private record Case(Conv2dParams p, int[] xs, int[] ws, boolean bias) {
        ConvGeometry g() {
            return ConvGeometry.of(p, xs, ws);
        }

        @Override
        public String toString() {
            return java.util.Arrays.toString(xs) + " " + p + (bias ? " bias" : "");
        }
    }

    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        Random r = new Random(20261203L);
        int[] channels = {1, 7, 8, 9, 16, 17, 24, 31, 32, 33, 40};
        while (cases.size() < 36) {
            int c = channels[r.nextInt(channels.length)], kh = 1 + r.nextInt(5), kw = 1 + r.nextInt(5);
            boolean wide = cases.size() % 9 == 4; // padded bands of NCHW input taken in several passes
            int h = wide ? 60 + r.nextInt(40) : 1 + r.nextInt(24), w = wide ? 70 + r.nextInt(60) : 1 + r.nextInt(30);
            Conv2dParams p = Conv2dParams.builder().groups(c).stride(1 + r.nextInt(3), 1 + r.nextInt(3)).dilation(1 + r.nextInt(2), 1 + r.nextInt(2))
                    .padding(r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3)).build();
            int[] xs = {1 + r.nextInt(2), c, h, w}, ws = {c, 1, kh, kw};
            try {
                ConvGeometry.of(p, xs, ws);
            } catch (IllegalArgumentException empty) {
                continue;
            }
            cases.add(new Case(p, xs, ws, r.nextBoolean()));
        }
        // MobileNet v1's depthwise layers, at a quarter of their planes
        int[][] mobile = {{32, 28, 1}, {64, 28, 2}, {128, 14, 1}, {256, 7, 2}, {512, 4, 1}};
        for (int[] m : mobile) {
            Conv2dParams p = Conv2dParams.builder().groups(m[0]).stride(m[2]).padding(1).build();
            cases.add(new Case(p, new int[] {1, m[0], m[1], m[1]}, new int[] {m[0], 1, 3, 3}, true));
        }
        return cases;
    }

    static Stream<ConvEngine> engines() {
        return Engines.allStream().filter(e -> e != ConvEngines.naive());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void everyLayoutAndEpilogueGivesTheBitsOfTheNchwPass(ConvEngine engine) {
        ConvEngine naive = ConvEngines.naive();
        int k = 0;
        for (Case c : cases()) {
            ConvGeometry g = c.g();
            Random r = new Random(k);
            try (Tensor x = TestData.random(r, 1, c.xs); Tensor w = TestData.random(r, 1, c.ws);
                 Tensor b = c.bias ? TestData.random(r, 1, g.o) : null; Tensor res = TestData.random(r, 2, g.outputShape());
                 Tensor acc = engine.forward(c.p, x, w, b); Tensor ref = naive.forward(c.p, x, w, b);
                 Conv2dPlan plan = engine.plan(c.p, c.xs, c.ws)) {
                plan.prepackWeights(w, b);
                for (int i = 0; i < 6; i++, k++) {
                    Layout lx = LAYOUTS[k % 3], ly = LAYOUTS[(k / 3) % 3], lr = LAYOUTS[(k / 9) % 3];
                    Activation act = ACTIVATIONS.get(k % ACTIVATIONS.size());
                    FusedForwardTest.Residual mode = FusedForwardTest.Residual.values()[(k / 2) % 3];
                    float[] r0 = mode == FusedForwardTest.Residual.NONE ? null : res.toArray();
                    float[] want = FusedForwardTest.epilogue(acc.toArray(), r0, act), near = FusedForwardTest.epilogue(ref.toArray(), r0, act);
                    String what = c + " " + act + " residual " + mode + " x " + lx + " y " + ly + " r " + lr;
                    boolean inPlace = mode == FusedForwardTest.Residual.IN_PLACE;
                    try (Tensor xl = x.toLayout(lx); Tensor rl = res.toLayout(lr);
                         Tensor y = inPlace ? res.toLayout(ly) : TestData.garbage(ly, g.outputShape());
                         Tensor yp = inPlace ? res.toLayout(ly) : TestData.garbage(ly, g.outputShape())) {
                        engine.forward(c.p, xl, w, b, r0 == null ? null : inPlace ? y : rl, act, y);
                        plan.forward(xl, r0 == null ? null : inPlace ? yp : rl, act, yp);
                        LayoutsAgainstNaiveTest.check("y", y, want, true, 0, what);
                        LayoutsAgainstNaiveTest.check("plan y", yp, want, true, 0, what);
                        LayoutsAgainstNaiveTest.check("y against naive", y, near, false, 1e-5, what);
                    }
                }
            }
        }
    }
}
