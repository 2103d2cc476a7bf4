package dev.conv4j.golden;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Winograd F(2x2, 3x3) and F(4x4, 3x3), forced, on every golden case they apply to, each held to its tolerance. */
class GoldenWinogradTest {
    private static final ConvEngine[] ENGINES = {ConvEngines.blas(1), ConvEngines.blas(2)};

    static double tolerance(ConvAlgorithm a) {
        return a == ConvAlgorithm.WINOGRAD_2X2 ? ConvAlgorithm.WINOGRAD_2X2_TOLERANCE : ConvAlgorithm.WINOGRAD_4X4_TOLERANCE;
    }

    @ParameterizedTest
    @EnumSource(names = {"WINOGRAD_2X2", "WINOGRAD_4X4"})
    void goldenCases(ConvAlgorithm a) throws IOException {
        int used = 0;
        double worst = 0;
        for (Path dir : GoldenSets.cases()) {
            try (GoldenCase c = GoldenCase.load(dir)) {
                Conv2dParams p = c.params.toBuilder().algorithm(a).build();
                ConvGeometry g = ConvGeometry.of(c.params, c.x.shape(), c.w.shape());
                if (!ConvAlgorithm.winogradApplies(g)) {
                    continue;
                }
                used++;
                for (ConvEngine e : ENGINES) {
                    try (Tensor y = TestData.garbage(c.y.shape())) {
                        e.forward(p, c.x, c.w, c.b, y);
                        if (c.name.startsWith("exact_int")) {
                            assertArrayEquals(c.y.toArray(), y.toArray(), GoldenSets.label(dir) + ": integer data must stay exact");
                        }
                        double err = TestData.relErr(y.toArray(), c.y.toArray());
                        worst = Math.max(worst, err);
                        assertTrue(err <= tolerance(a), GoldenSets.label(dir) + ": " + a + " error " + err);
                    }
                    try (Tensor gx = TestData.garbage(c.gx.shape())) {
                        e.backwardData(p, c.gy, c.w, gx);
                        if (c.name.startsWith("exact_int")) {
                            assertArrayEquals(c.gx.toArray(), gx.toArray(), GoldenSets.label(dir) + ": integer data must stay exact");
                        }
                        double err = TestData.relErr(gx.toArray(), c.gx.toArray());
                        worst = Math.max(worst, err);
                        assertTrue(err <= tolerance(a), GoldenSets.label(dir) + ": " + a + " input gradient error " + err);
                    }
                }
            }
        }
        assertTrue(used >= 5, "only " + used + " golden cases are 3x3 stride 1");
        System.out.printf("%s: %d golden cases, worst scale-free error %.2e%n", a, used, worst);
    }

}
