package dev.conv4j.internal.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * NaN and infinities in the 3-D passes land where the definition puts them, as in 2-D: a NaN in x makes
 * exactly the outputs whose window covers it NaN (and the weight gradients it meets), and an infinite
 * weight meets the zeros of the padding and makes NaN wherever a window covers padding. No engine skips a
 * zero or a padded tap.
 */
class Conv3dNonFiniteTest {
    private static final Conv3dParams P = Conv3dParams.builder().stride(1, 2, 1).padding(1, 0, 1, 1, 0, 2).dilation(1, 1, 2).build();
    private static final int[] X = {2, 3, 5, 9, 8}, W = {4, 3, 2, 3, 3};

    static Stream<ConvEngine> engines() {
        return Engines.fastStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void aNanInXPropagatesAsInTheDefinition(ConvEngine engine) {
        Conv3dGeometry g = Conv3dGeometry.of(P, X, W);
        Random r = new Random(3);
        float[] xs = TestData.uniform(r, size(X), 1);
        xs[((1 * 3 + 2) * 5 + 2) * 9 * 8 + 4 * 8 + 3] = Float.NaN; // image 1, channel 2, plane 2, row 4, column 3
        try (Tensor x = Tensor.of(xs, X); Tensor w = TestData.random(r, 1, W); Tensor gy = TestData.random(r, 1, g.outputShape())) {
            compare(engine, g, x, w, gy);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void anInfiniteWeightMeetsThePaddingAsInTheDefinition(ConvEngine engine) {
        Conv3dGeometry g = Conv3dGeometry.of(P, X, W);
        Random r = new Random(4);
        float[] ws = TestData.uniform(r, size(W), 1);
        ws[((2 * 3 + 1) * 2 + 0) * 9 + 2 * 3 + 1] = Float.POSITIVE_INFINITY;
        float[] gys = TestData.uniform(r, size(g.outputShape()), 1);
        gys[5] = Float.NEGATIVE_INFINITY;
        try (Tensor x = TestData.random(r, 1, X); Tensor w = Tensor.of(ws, W); Tensor gy = Tensor.of(gys, g.outputShape())) {
            compare(engine, g, x, w, gy);
        }
    }

    /** Every pass of the engine has its non-finite values exactly where naive has them, and the finite ones close. */
    private static void compare(ConvEngine engine, Conv3dGeometry g, Tensor x, Tensor w, Tensor gy) {
        ConvEngine naive = ConvEngines.naive();
        try (Tensor y = engine.forward(P, x, w, null); Tensor yRef = naive.forward(P, x, w, null);
             Tensor gx = TestData.garbage(X); Tensor gxRef = TestData.garbage(X);
             Tensor gw = TestData.garbage(W); Tensor gwRef = TestData.garbage(W)) {
            engine.backwardData(P, gy, w, gx, false);
            naive.backwardData(P, gy, w, gxRef, false);
            engine.backwardWeights(P, x, gy, gw, null, false);
            naive.backwardWeights(P, x, gy, gwRef, null, false);
            int[] kinds = new int[3];
            same("y", y.toArray(), yRef.toArray(), kinds);
            same("gx", gx.toArray(), gxRef.toArray(), kinds);
            same("gw", gw.toArray(), gwRef.toArray(), kinds);
            assertTrue(kinds[0] > 0 && kinds[1] > 0, "the case has no NaN or no finite values to compare");
        }
    }

    private static void same(String name, float[] got, float[] ref, int[] kinds) {
        for (int i = 0; i < ref.length; i++) {
            if (Float.isNaN(ref[i])) {
                assertTrue(Float.isNaN(got[i]), name + "[" + i + "] is " + got[i] + " where the definition gives NaN");
                kinds[0]++;
            } else if (Float.isInfinite(ref[i])) {
                assertEquals(ref[i], got[i], name + "[" + i + "]");
                kinds[2]++;
            } else {
                assertEquals(ref[i], got[i], 1e-4 * (1 + Math.abs(ref[i])), name + "[" + i + "]");
                kinds[1]++;
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
}
