package dev.conv4j.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
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
 * Depthwise backward passes on rows wide enough for every step of the vectorized weight-gradient
 * sums (64, 16 and masked columns), with channel multipliers, padding, dilation, stride 2, batches,
 * overwrite and accumulate.
 */
class DepthwiseBackwardTest {
    static Stream<ConvEngine> engines() {
        return Engines.fastStream();
    }

    /** n, c, h, w, multiplier, k, stride, pad, dilation */
    private static final int[][] LAYERS = {
        {2, 6, 9, 150, 1, 3, 1, 1, 1},
        {1, 4, 13, 97, 2, 5, 1, 4, 2},
        {3, 5, 11, 83, 1, 3, 2, 1, 1},
        {1, 3, 70, 67, 1, 3, 1, 0, 1},
    };

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void backwardPassesMatchNaive(ConvEngine engine) {
        Random r = new Random(61);
        for (int[] l : LAYERS) {
            Conv2dParams p = Conv2dParams.builder().stride(l[6]).padding(l[7]).dilation(l[8]).groups(l[1]).build();
            int[] xs = {l[0], l[1], l[2], l[3]}, ws = {l[1] * l[4], 1, l[5], l[5]};
            ConvGeometry g = ConvGeometry.of(p, xs, ws);
            for (boolean accumulate : new boolean[] {false, true}) {
                try (Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws);
                     Tensor gy = TestData.random(r, 1, g.outputShape());
                     Tensor gw = TestData.random(r, 1, ws); Tensor gwRef = Tensor.of(gw.toArray(), ws);
                     Tensor gb = TestData.random(r, 1, g.o); Tensor gbRef = Tensor.of(gb.toArray(), g.o);
                     Tensor gx = TestData.random(r, 1, xs); Tensor gxRef = Tensor.of(gx.toArray(), xs)) {
                    ConvEngines.naive().backwardWeights(p, x, gy, gwRef, gbRef, accumulate);
                    ConvEngines.naive().backwardData(p, gy, w, gxRef, accumulate);
                    engine.backwardWeights(p, x, gy, gw, gb, accumulate);
                    engine.backwardData(p, gy, w, gx, accumulate);
                    String what = g + (accumulate ? " accumulating" : "");
                    assertTrue(TestData.relErr(gw.toArray(), gwRef.toArray()) <= 1e-5, "gw for " + what);
                    assertTrue(TestData.relErr(gb.toArray(), gbRef.toArray()) <= 1e-5, "gb for " + what);
                    assertTrue(TestData.relErr(gx.toArray(), gxRef.toArray()) <= 1e-5, "gx for " + what);
                }
            }
        }
    }
}
