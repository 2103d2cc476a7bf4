package dev.conv4j.internal.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every engine's 3-D passes against the naive ones: random small layers (stride, asymmetric and
 * automatic padding, dilation, groups, depthwise with a channel multiplier, pointwise, batches, with and
 * without bias), the accumulating forms, and a video layer large enough to run in several bands and
 * channel blocks on both threads. Outputs start as NaN, so an element left unwritten fails. The bias
 * gradient is summed in the same order on every engine and must match to the bit.
 */
class Conv3dAgainstNaiveTest {
    private static final double TOL = 1e-5;
    private static final List<Conv3dCases.Case> CASES = Conv3dCases.generate(20261205L, 200);

    static Stream<ConvEngine> engines() {
        return Engines.fastStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void everyPassMatchesNaive(ConvEngine engine) {
        ConvEngine naive = ConvEngines.naive();
        int depthwise = 0, multiplier = 0, pointwise = 0, grouped = 0, strided = 0, dilated = 0, asym = 0, auto = 0, batch = 0;
        for (Conv3dCases.Case c : CASES) {
            Conv3dGeometry g = c.geometry();
            depthwise += g.isDepthwise() ? 1 : 0;
            multiplier += g.isDepthwise() && g.og > 1 ? 1 : 0;
            pointwise += g.isPointwise() ? 1 : 0;
            grouped += g.groups > 1 && !g.isDepthwise() ? 1 : 0;
            strided += g.strideD > 1 || g.strideH > 1 || g.strideW > 1 ? 1 : 0;
            dilated += g.dilationD > 1 || g.dilationH > 1 || g.dilationW > 1 ? 1 : 0;
            asym += g.padFront != g.padBack || g.padTop != g.padBottom || g.padLeft != g.padRight ? 1 : 0;
            auto += c.params.autoPad() != Conv2dParams.AutoPad.NOTSET ? 1 : 0;
            batch += g.n > 1 ? 1 : 0;
            Random r = new Random(c.seed);
            try (Tensor x = TestData.random(r, 1, c.x);
                 Tensor w = TestData.random(r, 1, c.w);
                 Tensor b = c.bias ? TestData.random(r, 1, g.o) : null;
                 Tensor gy = TestData.random(r, 1, g.outputShape());
                 Tensor yRef = naive.forward(c.params, x, w, b);
                 Tensor gxRef = TestData.garbage(c.x);
                 Tensor gwRef = TestData.garbage(c.w);
                 Tensor gbRef = TestData.garbage(g.o);
                 Tensor y = TestData.garbage(g.outputShape());
                 Tensor gx = TestData.garbage(c.x);
                 Tensor gw = TestData.garbage(c.w);
                 Tensor gb = TestData.garbage(g.o)) {
                naive.backwardData(c.params, gy, w, gxRef, false);
                naive.backwardWeights(c.params, x, gy, gwRef, gbRef, false);
                engine.forward(c.params, x, w, b, y);
                engine.backwardData(c.params, gy, w, gx, false);
                engine.backwardWeights(c.params, x, gy, gw, gb, false);
                check("y", y, yRef, c);
                check("gx", gx, gxRef, c);
                check("gw", gw, gwRef, c);
                assertArrayEquals(gbRef.toArray(), gb.toArray(), "gb, summed in the same order on every engine, for " + c);
            }
        }
        assertTrue(depthwise > 10 && multiplier > 3 && pointwise > 10 && grouped > 20 && strided > 60 && dilated > 40 && asym > 60
                        && auto > 10 && batch > 60,
                "the random cases miss a feature: depthwise " + depthwise + " (with a multiplier " + multiplier + "), pointwise "
                        + pointwise + ", grouped " + grouped + ", strided " + strided + ", dilated " + dilated + ", asymmetric "
                        + asym + ", automatic padding " + auto + ", batches " + batch);
    }

    /** accumulate adds the pass onto what the output holds: y += conv + bias, gx += ..., gw += ..., gb += .... */
    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void accumulateAddsToWhatIsThere(ConvEngine engine) {
        ConvEngine naive = ConvEngines.naive();
        for (Conv3dCases.Case c : CASES.subList(0, 60)) {
            Conv3dGeometry g = c.geometry();
            Random r = new Random(c.seed);
            try (Tensor x = TestData.random(r, 1, c.x);
                 Tensor w = TestData.random(r, 1, c.w);
                 Tensor b = c.bias ? TestData.random(r, 1, g.o) : null;
                 Tensor gy = TestData.random(r, 1, g.outputShape());
                 Tensor y0 = TestData.random(r, 1, g.outputShape());
                 Tensor gx0 = TestData.random(r, 1, c.x);
                 Tensor gw0 = TestData.random(r, 1, c.w);
                 Tensor gb0 = TestData.random(r, 1, g.o);
                 Tensor yRef = naive.forward(c.params, x, w, b);
                 Tensor gxRef = Tensor.zeros(c.x);
                 Tensor gwRef = Tensor.zeros(c.w);
                 Tensor gbRef = Tensor.of(gb0.toArray(), g.o);
                 Tensor y = Tensor.of(y0.toArray(), g.outputShape());
                 Tensor gx = Tensor.of(gx0.toArray(), c.x);
                 Tensor gw = Tensor.of(gw0.toArray(), c.w);
                 Tensor gb = Tensor.of(gb0.toArray(), g.o)) {
                naive.backwardData(c.params, gy, w, gxRef, false);
                naive.backwardWeights(c.params, x, gy, gwRef, gbRef, true); // gw from zero: the pass alone
                Volumes.forward(engine, c.params, x, w, b, y, true);
                engine.backwardData(c.params, gy, w, gx, true);
                engine.backwardWeights(c.params, x, gy, gw, gb, true);
                checkSum("y", y, y0, yRef, c);
                checkSum("gx", gx, gx0, gxRef, c);
                checkSum("gw", gw, gw0, gwRef, c);
                assertArrayEquals(gbRef.toArray(), gb.toArray(), "gb accumulated, for " + c);
            }
        }
    }

    /**
     * A 3x3x3 video layer, 16 channels of 8 frames of 28x28 to 32 channels, padded by 1: several bands and
     * channel blocks, split over the threads.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void aVideoLayerMatchesNaive(ConvEngine engine) {
        Video v = Video.get();
        try (Tensor y = TestData.garbage(v.y.shape());
             Tensor gx = TestData.garbage(v.x.shape());
             Tensor gw = TestData.garbage(v.w.shape());
             Tensor gb = TestData.garbage(32)) {
            engine.forward(Video.P, v.x, v.w, v.b, y);
            engine.backwardData(Video.P, v.gy, v.w, gx, false);
            engine.backwardWeights(Video.P, v.x, v.gy, gw, gb, false);
            assertTrue(TestData.relErr(y.toArray(), v.y.toArray()) <= 1e-5, "y");
            assertTrue(TestData.relErr(gx.toArray(), v.gx.toArray()) <= 1e-5, "gx");
            assertTrue(TestData.relErr(gw.toArray(), v.gw.toArray()) <= 1e-5, "gw");
            assertArrayEquals(v.gb.toArray(), gb.toArray(), "gb");
        }
    }

    /** The video layer and its naive results, computed once for every engine (the naive passes take seconds). */
    private static final class Video {
        static final Conv3dParams P = Conv3dParams.builder().padding(1).build();
        private static Video instance;
        final Tensor x, w, b, gy, y, gx, gw, gb;

        private Video() {
            Random r = new Random(7);
            x = TestData.random(r, 1, 1, 16, 8, 28, 28);
            w = TestData.random(r, 0.2f, 32, 16, 3, 3, 3);
            b = TestData.random(r, 1, 32);
            gy = TestData.random(r, 1, 1, 32, 8, 28, 28);
            ConvEngine naive = ConvEngines.naive();
            y = naive.forward(P, x, w, b);
            gx = Tensor.zeros(x.shape());
            gw = Tensor.zeros(w.shape());
            gb = Tensor.zeros(32);
            naive.backwardData(P, gy, w, gx, false);
            naive.backwardWeights(P, x, gy, gw, gb, false);
        }

        static synchronized Video get() {
            if (instance == null) {
                instance = new Video();
            }
            return instance;
        }
    }

    /** A ConvEngine that is not one of conv4j's (a user's wrapper) runs its 3-D calls on the naive passes. */
    @Test
    void aUsersOwnEngineRunsTheNaivePasses() {
        ConvEngine naive = ConvEngines.naive(), inner = Engines.fast().get(0);
        ConvEngine wrapper = new ConvEngine() {
            @Override
            public String name() {
                return "wrapper";
            }

            @Override
            public void forward(Conv2dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
                inner.forward(p, x, w, bias, y);
            }

            @Override
            public void backwardData(Conv2dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
                inner.backwardData(p, gy, w, gx, accumulate);
            }

            @Override
            public void backwardWeights(Conv2dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
                inner.backwardWeights(p, x, gy, gw, gbias, accumulate);
            }

            @Override
            public Tensor backwardBias(Tensor gy) {
                return inner.backwardBias(gy);
            }
        };
        assertTrue(Volumes.kernels(wrapper) == Volumes.kernels(naive));
        Conv3dCases.Case c = CASES.get(3);
        Conv3dGeometry g = c.geometry();
        Random r = new Random(c.seed);
        try (Tensor x = TestData.random(r, 1, c.x); Tensor w = TestData.random(r, 1, c.w);
             Tensor gy = TestData.random(r, 1, g.outputShape());
             Tensor y = wrapper.forward(c.params, x, w, null); Tensor yRef = naive.forward(c.params, x, w, null);
             Tensor gx = TestData.garbage(c.x); Tensor gxRef = TestData.garbage(c.x)) {
            assertArrayEquals(yRef.toArray(), y.toArray());
            wrapper.backwardData(c.params, gy, w, gx, false);
            naive.backwardData(c.params, gy, w, gxRef, false);
            assertArrayEquals(gxRef.toArray(), gx.toArray());
        }
    }

    private static void check(String name, Tensor got, Tensor ref, Conv3dCases.Case c) {
        double err = TestData.relErr(got.toArray(), ref.toArray());
        assertTrue(err <= TOL, name + " error " + err + " for " + c);
    }

    private static void checkSum(String name, Tensor got, Tensor before, Tensor delta, Conv3dCases.Case c) {
        float[] g = got.toArray(), b = before.toArray(), d = delta.toArray();
        float[] expected = new float[g.length];
        for (int i = 0; i < g.length; i++) {
            expected[i] = b[i] + d[i];
        }
        double err = TestData.relErr(g, expected);
        assertTrue(err <= TOL, name + " accumulate error " + err + " for " + c);
    }
}
