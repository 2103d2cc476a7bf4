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
 * Pointwise layers wide enough for the blas engine to split their backward passes: the weight
 * gradient by output channels (more outputs than inputs) or by input channels, the input gradient
 * by bands of pixels; with groups, batches, bias and both overwrite and accumulate.
 */
class PointwiseSplitsTest {
    static Stream<ConvEngine> engines() {
        return Engines.fastStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void backwardPassesMatchNaive(ConvEngine engine) {
        Random r = new Random(41);
        int[][] layers = {{2, 24, 9, 11, 160, 1}, {1, 160, 7, 13, 24, 1}, {3, 32, 5, 40, 260, 2}, {1, 64, 33, 35, 256, 1}};
        for (int[] l : layers) {
            Conv2dParams p = Conv2dParams.builder().groups(l[5]).build();
            int[] xs = {l[0], l[1], l[2], l[3]}, ws = {l[4], l[1] / l[5], 1, 1};
            ConvGeometry g = ConvGeometry.of(p, xs, ws);
            for (boolean accumulate : new boolean[] {false, true}) {
                try (Tensor x = TestData.random(r, 1, xs); Tensor gy = TestData.random(r, 1, g.outputShape());
                     Tensor w = TestData.random(r, 1, ws);
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
