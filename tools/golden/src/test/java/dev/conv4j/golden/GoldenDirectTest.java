package dev.conv4j.golden;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The channel-blocked direct kernel, forced ({@link ConvAlgorithm#DIRECT}), on every golden case, with
 * weights given per call and prepacked by a plan: forward and input gradient against the reference at
 * the tolerance of exact dot products. Where the kernel does not apply (grouped layers, stride widths
 * above 2, CPUs without AVX-512) the engine computes the case as {@code IM2COL}, which must pass too.
 */
class GoldenDirectTest {
    private static final ConvEngine[] ENGINES = {ConvEngines.blas(1), ConvEngines.blas(2)};

    @Test
    void goldenCases() throws IOException {
        int used = 0;
        for (Path dir : GoldenSets.cases()) {
            try (GoldenCase c = GoldenCase.load(dir)) {
                Conv2dParams p = c.params.toBuilder().algorithm(ConvAlgorithm.DIRECT).build();
                boolean exact = c.name.startsWith("exact_int");
                used++;
                for (ConvEngine e : ENGINES) {
                    try (Tensor y = TestData.garbage(c.y.shape()); Tensor yp = TestData.garbage(c.y.shape());
                         var plan = e.plan(p, c.x.shape(), c.w.shape())) {
                        e.forward(p, c.x, c.w, c.b, y);
                        plan.prepackWeights(c.w, c.b);
                        plan.forward(c.x, yp);
                        for (Tensor got : new Tensor[] {y, yp}) {
                            if (exact) {
                                assertArrayEquals(c.y.toArray(), got.toArray(), GoldenSets.label(dir) + ": integer data must stay exact");
                            }
                            double err = TestData.relErr(got.toArray(), c.y.toArray());
                            assertTrue(err <= GoldenCheck.TOLERANCE, GoldenSets.label(dir) + ": DIRECT error " + err);
                        }
                    }
                    try (Tensor gx = TestData.garbage(c.gx.shape())) {
                        e.backwardData(p, c.gy, c.w, gx);
                        if (exact) {
                            assertArrayEquals(c.gx.toArray(), gx.toArray(), GoldenSets.label(dir) + ": integer data must stay exact");
                        }
                        double err = TestData.relErr(gx.toArray(), c.gx.toArray());
                        assertTrue(err <= GoldenCheck.TOLERANCE, GoldenSets.label(dir) + ": DIRECT input gradient error " + err);
                    }
                }
            }
        }
        assertTrue(used >= 5, "only " + used + " golden cases");
    }
}
