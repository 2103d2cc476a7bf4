package dev.conv4j.internal.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Layers whose products are wide enough (256 columns and more) for the blas engine to run them on
 * its own AVX-512 kernel where the CPU has one, sized to hit every edge of its blocking: output
 * channels that are not a multiple of the 8-row panels or above the 512-row block, columns that
 * are not a multiple of the 48-column panels, reductions that are not a multiple of 16 or run
 * past one 256-deep panel; every pass, with bias, groups, batches, strides, dilation, overwrite
 * and accumulate, in the engine and in a plan.
 */
class WideProductsTest {
    static Stream<ConvEngine> engines() {
        return Engines.fastStream();
    }

    /** n, c, h, w, o, kh, kw, stride, pad, dilation, groups */
    private static final int[][] LAYERS = {
        {1, 7, 23, 37, 13, 3, 3, 1, 1, 1, 1},
        {2, 37, 19, 29, 29, 3, 3, 1, 1, 1, 1},
        {1, 5, 24, 24, 530, 1, 1, 1, 0, 1, 1},
        {1, 530, 17, 31, 9, 1, 1, 1, 0, 1, 1},
        {1, 64, 21, 25, 21, 5, 5, 1, 2, 1, 1},
        {2, 12, 40, 36, 18, 3, 3, 2, 1, 1, 2},
        {1, 30, 33, 27, 40, 3, 3, 1, 2, 2, 1},
        {1, 3, 64, 64, 17, 7, 7, 2, 3, 1, 1},
    };

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void everyPassMatchesNaive(ConvEngine engine) {
        Random r = new Random(53);
        for (int[] l : LAYERS) {
            Conv2dParams p = Conv2dParams.builder().stride(l[7]).padding(l[8]).dilation(l[9]).groups(l[10])
                    .algorithm(ConvAlgorithm.IM2COL).build();
            int[] xs = {l[0], l[1], l[2], l[3]}, ws = {l[4], l[1] / l[10], l[5], l[6]};
            ConvGeometry g = ConvGeometry.of(p, xs, ws);
            for (boolean accumulate : new boolean[] {false, true}) {
                try (Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws);
                     Tensor b = TestData.random(r, 1, g.o); Tensor gy = TestData.random(r, 1, g.outputShape());
                     Tensor y = Tensor.zeros(g.outputShape()); Tensor yRef = Tensor.zeros(g.outputShape());
                     Tensor gw = TestData.random(r, 1, ws); Tensor gwRef = Tensor.of(gw.toArray(), ws);
                     Tensor gb = TestData.random(r, 1, g.o); Tensor gbRef = Tensor.of(gb.toArray(), g.o);
                     Tensor gx = TestData.random(r, 1, xs); Tensor gxRef = Tensor.of(gx.toArray(), xs)) {
                    ConvEngines.naive().forward(p, x, w, b, yRef);
                    ConvEngines.naive().backwardWeights(p, x, gy, gwRef, gbRef, accumulate);
                    ConvEngines.naive().backwardData(p, gy, w, gxRef, accumulate);
                    String what = g + (accumulate ? " accumulating" : "");
                    float[] gw0 = gw.toArray(), gb0 = gb.toArray(), gx0 = gx.toArray();
                    engine.forward(p, x, w, b, y);
                    engine.backwardWeights(p, x, gy, gw, gb, accumulate);
                    engine.backwardData(p, gy, w, gx, accumulate);
                    assertTrue(TestData.relErr(y.toArray(), yRef.toArray()) <= 1e-5, "y for " + what);
                    assertTrue(TestData.relErr(gw.toArray(), gwRef.toArray()) <= 1e-5, "gw for " + what);
                    assertTrue(TestData.relErr(gb.toArray(), gbRef.toArray()) <= 1e-5, "gb for " + what);
                    assertTrue(TestData.relErr(gx.toArray(), gxRef.toArray()) <= 1e-5, "gx for " + what);
                    try (Conv2dPlan plan = engine.plan(p, xs, ws)) {
                        y.copyFrom(new float[(int) y.size()]);
                        gw.copyFrom(gw0);
                        gb.copyFrom(gb0);
                        gx.copyFrom(gx0);
                        plan.forward(x, w, b, y);
                        plan.backwardWeights(x, gy, gw, gb, accumulate);
                        plan.backwardData(gy, w, gx, accumulate);
                        assertTrue(TestData.relErr(y.toArray(), yRef.toArray()) <= 1e-5, "plan y for " + what);
                        assertTrue(TestData.relErr(gw.toArray(), gwRef.toArray()) <= 1e-5, "plan gw for " + what);
                        assertTrue(TestData.relErr(gb.toArray(), gbRef.toArray()) <= 1e-5, "plan gb for " + what);
                        assertTrue(TestData.relErr(gx.toArray(), gxRef.toArray()) <= 1e-5, "plan gx for " + what);
                    }
                }
            }
        }
    }
}
