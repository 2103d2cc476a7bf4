package dev.conv4j.internal.engine;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.Engines;
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
            BackwardAgainstNaive.check(engine, p, new int[] {l[0], l[1], l[2], l[3]}, new int[] {l[4], l[1] / l[5], 1, 1}, r);
        }
    }
}
