package dev.conv4j.internal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused forward pass, {@code y = act((float) (conv + bias) + residual)}, on every engine and plan:
 * each activation, no residual, a residual of its own (any layout) and a residual that is y itself,
 * bit for bit against the engine's own unfused pass followed by the documented epilogue, and within
 * tolerance against the naive engine's unfused pass; NaN and infinities where the definition puts them.
 */
class FusedForwardTest {
    private static final List<Activation> ACTIVATIONS = List.of(Activation.NONE, Activation.RELU, Activation.RELU6,
            Activation.clamp(-0.5f, 0.25f), Activation.clamp(Float.NEGATIVE_INFINITY, 0f));
    private static final Layout[] LAYOUTS = Layout.values();
    private static final List<RandomConfigs.Config> CASES = RandomConfigs.generate(20261204L, 40);

    static Stream<ConvEngine> engines() {
        return Engines.allStream();
    }

    enum Residual { NONE, SEPARATE, IN_PLACE }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void fusedEqualsUnfusedThenTheEpilogue(ConvEngine engine) {
        ConvEngine naive = ConvEngines.naive();
        int k = 0;
        for (RandomConfigs.Config c : CASES) {
            ConvGeometry g = c.geometry();
            Random r = new Random(c.seed);
            try (Tensor x = TestData.random(r, 1, c.x); Tensor w = TestData.random(r, 1, c.w);
                 Tensor b = c.bias ? TestData.random(r, 1, g.o) : null; Tensor res = TestData.random(r, 2, g.outputShape());
                 Tensor acc = engine.forward(c.params, x, w, b); Tensor ref = naive.forward(c.params, x, w, b)) {
                for (Activation act : ACTIVATIONS) {
                    for (Residual mode : Residual.values()) {
                        Layout lx = LAYOUTS[k % 3], ly = LAYOUTS[(k / 3) % 3], lr = LAYOUTS[(k / 9) % 3];
                        k++;
                        float[] want = epilogue(acc.toArray(), mode == Residual.NONE ? null : res.toArray(), act);
                        float[] near = epilogue(ref.toArray(), mode == Residual.NONE ? null : res.toArray(), act);
                        String what = c + " " + act + " residual " + mode + " x " + lx + " y " + ly + " r " + lr;
                        try (Tensor xl = x.toLayout(lx); Tensor y = mode == Residual.IN_PLACE ? res.toLayout(ly) : TestData.garbage(ly, g.outputShape());
                             Tensor rl = mode == Residual.SEPARATE ? res.toLayout(lr) : null) {
                            Tensor residual = mode == Residual.NONE ? null : mode == Residual.IN_PLACE ? y : rl;
                            engine.forward(c.params, xl, w, b, residual, act, y);
                            LayoutsAgainstNaiveTest.check("y", y, want, true, 0, what);
                            LayoutsAgainstNaiveTest.check("y against naive", y, near, false, 1e-5, what);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void plansFuseLikeTheirUnfusedPass(ConvEngine engine) {
        Random r = new Random(21);
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        int[] xs = {1, 16, 10, 9}, ws = {20, 16, 3, 3};
        ConvGeometry g = ConvGeometry.of(p, xs, ws);
        try (Conv2dPlan plan = engine.plan(p, xs, ws); Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws);
             Tensor b = TestData.random(r, 1, g.o); Tensor res = TestData.random(r, 2, g.outputShape());
             Tensor accPacked = Tensor.zeros(g.outputShape()); Tensor acc = Tensor.zeros(g.outputShape())) {
            plan.prepackWeights(w, b);
            plan.forward(x, accPacked);
            plan.forward(x, w, b, acc);
            int k = 0;
            for (Activation act : ACTIVATIONS) {
                for (Residual mode : Residual.values()) {
                    Layout lx = LAYOUTS[k % 3], ly = LAYOUTS[(k / 3) % 3];
                    k++;
                    float[] r0 = mode == Residual.NONE ? null : res.toArray();
                    String what = act + " residual " + mode + " x " + lx + " y " + ly;
                    try (Tensor xl = x.toLayout(lx);
                         Tensor y1 = mode == Residual.IN_PLACE ? res.toLayout(ly) : TestData.garbage(ly, g.outputShape());
                         Tensor y2 = mode == Residual.IN_PLACE ? res.toLayout(ly) : TestData.garbage(ly, g.outputShape());
                         Tensor rl = res.toLayout(LAYOUTS[(k + 1) % 3])) {
                        plan.forward(xl, mode == Residual.NONE ? null : mode == Residual.IN_PLACE ? y1 : rl, act, y1);
                        plan.forward(xl, w, b, mode == Residual.NONE ? null : mode == Residual.IN_PLACE ? y2 : rl, act, y2);
                        LayoutsAgainstNaiveTest.check("prepacked", y1, epilogue(accPacked.toArray(), r0, act), true, 0, what);
                        LayoutsAgainstNaiveTest.check("with weights", y2, epilogue(acc.toArray(), r0, act), true, 0, what);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void nanStaysNanAndInfinitiesClamp(ConvEngine engine) {
        Conv2dParams p = Conv2dParams.DEFAULT;
        // a 1x1 convolution with weight 1 and no bias: acc is x itself, so each case below is one element
        float[] xs = {1f, -2f, Float.NaN, 3f, -0.5f, 7f, 0f, 0f};
        float[] rs = {Float.NaN, 0f, 1f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -1f, -0f, Float.NaN};
        for (Layout l : LAYOUTS) {
            try (Tensor x0 = Tensor.of(xs, 1, 1, 2, 4); Tensor x = x0.toLayout(l); Tensor w = Tensor.of(new float[] {1f}, 1, 1, 1, 1);
                 Tensor r0 = Tensor.of(rs, 1, 1, 2, 4); Tensor res = r0.toLayout(l); Tensor y = Tensor.zeros(l, 1, 1, 2, 4)) {
                engine.forward(p, x, w, null, res, Activation.RELU6, y);
                float[] got = TestData.logical(y);
                float[] want = {Float.NaN, 0f, Float.NaN, 6f, 0f, 6f, 0f, Float.NaN};
                for (int i = 0; i < want.length; i++) {
                    assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(got[i]), l + " element " + i + ": " + got[i]);
                }
                engine.forward(p, x, w, null, null, Activation.RELU, y);
                got = TestData.logical(y);
                assertTrue(Float.isNaN(got[2]), "RELU keeps NaN");
                assertEquals(0f, got[1]);
                assertEquals(7f, got[5]);
            }
        }
    }

    /** The documented order, element by element: the sum rounded to float, the residual added in float, then the clamp. */
    static float[] epilogue(float[] acc, float[] residual, Activation act) {
        float[] y = new float[acc.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = act.apply(residual == null ? acc[i] : acc[i] + residual[i]);
        }
        return y;
    }
}
