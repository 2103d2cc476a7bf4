package dev.conv4j.internal.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.Random;

/** Both backward passes of an engine against the naive engine, overwriting and accumulating. */
final class BackwardAgainstNaive {
    private BackwardAgainstNaive() {
    }

    static void check(ConvEngine engine, Conv2dParams p, int[] xs, int[] ws, Random r) {
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
