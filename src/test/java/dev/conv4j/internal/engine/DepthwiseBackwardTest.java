package dev.conv4j.internal.engine;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.Engines;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Depthwise backward passes on rows wide enough for every step of the vectorized kernels (whole and
 * masked vectors, phase rows of strided input gradients), with channel multipliers, padding, dilation,
 * stride 2, batches, overwrite and accumulate, and on small planes of many channels (units of many
 * channels, the last one shorter; 16 channels to a vector, with a partial last vector).
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
        {2, 4, 20, 37, 2, 3, 1, 2, 2},
        {1, 3, 17, 140, 2, 3, 2, 2, 2},
        {2, 2, 9, 131, 1, 5, 2, 1, 1},
        {2, 203, 9, 7, 2, 3, 1, 1, 1},
        {2, 37, 13, 13, 1, 3, 2, 1, 1},
        {1, 19, 10, 12, 2, 5, 2, 2, 2},
    };

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void backwardPassesMatchNaive(ConvEngine engine) {
        Random r = new Random(61);
        for (int[] l : LAYERS) {
            Conv2dParams p = Conv2dParams.builder().stride(l[6]).padding(l[7]).dilation(l[8]).groups(l[1]).build();
            BackwardAgainstNaive.check(engine, p, new int[] {l[0], l[1], l[2], l[3]}, new int[] {l[1] * l[4], 1, l[5], l[5]}, r);
        }
    }
}
