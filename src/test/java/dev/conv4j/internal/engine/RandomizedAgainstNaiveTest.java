package dev.conv4j.internal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * 600 random configurations per engine, each pass compared with the naive engine. Outputs are
 * pre-filled with NaN, so a result that depends on zeroed memory, or an element left unwritten, fails.
 */
class RandomizedAgainstNaiveTest {
    private static final int CONFIGS = 600;
    private static final double TOL = 1e-5;
    private static final List<RandomConfigs.Config> CASES = RandomConfigs.generate(20261126L, CONFIGS);

    static Stream<ConvEngine> engines() {
        return Engines.fastStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void everyPassMatchesNaive(ConvEngine engine) {
        ConvEngine naive = ConvEngines.naive();
        int depthwise = 0, pointwise = 0, grouped = 0, strided = 0, dilated = 0, asym = 0;
        for (RandomConfigs.Config c : CASES) {
            ConvGeometry g = c.geometry();
            depthwise += g.isDepthwise() ? 1 : 0;
            pointwise += g.isPointwise() ? 1 : 0;
            grouped += g.groups > 1 ? 1 : 0;
            strided += g.strideH > 1 || g.strideW > 1 ? 1 : 0;
            dilated += g.dilationH > 1 || g.dilationW > 1 ? 1 : 0;
            asym += g.padTop != g.padBottom || g.padLeft != g.padRight ? 1 : 0;
            Random r = new Random(c.seed);
            try (Tensor x = TestData.random(r, 1, c.x);
                 Tensor w = TestData.random(r, 1, c.w);
                 Tensor b = c.bias ? TestData.random(r, 1, g.o) : null;
                 Tensor gy = TestData.random(r, 1, g.outputShape());
                 Tensor yRef = naive.forward(c.params, x, w, b);
                 Tensor gxRef = naive.backwardData(c.params, gy, w, c.x);
                 Tensor gwRef = Tensor.zeros(c.w);
                 Tensor gbRef = Tensor.zeros(g.o);
                 Tensor y = TestData.garbage(g.outputShape());
                 Tensor gx = TestData.garbage(c.x);
                 Tensor gw = TestData.garbage(c.w);
                 Tensor gb = TestData.garbage(g.o)) {
                naive.backwardWeights(c.params, x, gy, gwRef, gbRef);
                engine.forward(c.params, x, w, b, y);
                engine.backwardData(c.params, gy, w, gx);
                engine.backwardWeights(c.params, x, gy, gw, gb);
                check("y", y, yRef, c);
                check("gx", gx, gxRef, c);
                check("gw", gw, gwRef, c);
                check("gb", gb, gbRef, c);
            }
        }
        assertTrue(depthwise > 20 && pointwise > 20 && grouped > 100 && strided > 200 && dilated > 50 && asym > 200,
                "the random configurations miss a feature: depthwise " + depthwise + ", pointwise " + pointwise
                        + ", grouped " + grouped + ", strided " + strided + ", dilated " + dilated + ", asymmetric " + asym);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void accumulateAddsToWhatIsThere(ConvEngine engine) {
        for (RandomConfigs.Config c : CASES.subList(0, 150)) {
            ConvGeometry g = c.geometry();
            Random r = new Random(c.seed);
            try (Tensor x = TestData.random(r, 1, c.x);
                 Tensor w = TestData.random(r, 1, c.w);
                 Tensor gy = TestData.random(r, 1, g.outputShape());
                 Tensor gx0 = TestData.random(r, 1, c.x);
                 Tensor gw0 = TestData.random(r, 1, c.w);
                 Tensor gb0 = TestData.random(r, 1, g.o);
                 Tensor gxRef = engine.backwardData(c.params, gy, w, c.x);
                 Tensor gwRef = Tensor.zeros(c.w);
                 Tensor gbRef = Tensor.zeros(g.o);
                 Tensor gx = Tensor.of(gx0.toArray(), c.x);
                 Tensor gw = Tensor.of(gw0.toArray(), c.w);
                 Tensor gb = Tensor.of(gb0.toArray(), g.o)) {
                engine.backwardWeights(c.params, x, gy, gwRef, gbRef);
                engine.backwardData(c.params, gy, w, gx, true);
                engine.backwardWeights(c.params, x, gy, gw, gb, true);
                checkSum("gx", gx, gx0, gxRef, c);
                checkSum("gw", gw, gw0, gwRef, c);
                checkSum("gb", gb, gb0, gbRef, c);
            }
        }
    }

    private static void check(String name, Tensor got, Tensor ref, RandomConfigs.Config c) {
        double err = TestData.relErr(got.toArray(), ref.toArray());
        assertTrue(err <= TOL, name + " error " + err + " for " + c);
    }

    private static void checkSum(String name, Tensor got, Tensor before, Tensor delta, RandomConfigs.Config c) {
        float[] g = got.toArray(), b = before.toArray(), d = delta.toArray();
        float[] expected = new float[g.length];
        for (int i = 0; i < g.length; i++) {
            expected[i] = b[i] + d[i];
        }
        double err = TestData.relErr(g, expected);
        assertTrue(err <= TOL, name + " accumulate error " + err + " for " + c);
        assertEquals(g.length, expected.length);
    }
}
