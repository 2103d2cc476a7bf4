package dev.conv4j.engine;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import dev.conv4j.golden.GoldenCase;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Winograd F(2x2, 3x3) in the blas engine, held to {@link ConvAlgorithm#WINOGRAD_TOLERANCE}: every
 * golden case it applies to, and randomized layers (odd sizes, asymmetric padding, batches, and
 * enough channels and tiles to split into several units) against the naive engine.
 */
class WinogradTest {
    private static final ConvEngine[] ENGINES = {ConvEngines.blas(1), ConvEngines.blas(2)};

    @Test
    void goldenCases() throws IOException {
        int used = 0;
        double worst = 0;
        for (Path dir : GoldenCase.list(TestData.goldenRoot())) {
            try (GoldenCase c = GoldenCase.load(dir)) {
                Conv2dParams p = c.params.toBuilder().algorithm(ConvAlgorithm.WINOGRAD).build();
                ConvGeometry g = ConvGeometry.of(c.params, c.x.shape(), c.w.shape());
                if (!ConvAlgorithm.winogradApplies(g)) {
                    continue;
                }
                used++;
                for (ConvEngine e : ENGINES) {
                    try (Tensor y = TestData.garbage(c.y.shape())) {
                        e.forward(p, c.x, c.w, c.b, y);
                        double err = TestData.relErr(y.toArray(), c.y.toArray());
                        worst = Math.max(worst, err);
                        assertTrue(err <= ConvAlgorithm.WINOGRAD_TOLERANCE, c.name + ": Winograd error " + err);
                    }
                }
            }
        }
        assertTrue(used >= 5, "only " + used + " golden cases are 3x3 stride 1");
        System.out.printf("Winograd: %d golden cases, worst scale-free error %.2e%n", used, worst);
    }

    @Test
    void randomizedAgainstNaive() {
        Random r = new Random(5);
        double worst = 0;
        for (int t = 0; t < 60; t++) {
            int n = 1 + r.nextInt(3), c = 1 + r.nextInt(40), o = 1 + r.nextInt(40);
            int h = 1 + r.nextInt(30), w = 1 + r.nextInt(30);
            Conv2dParams p = Conv2dParams.builder().padding(r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3))
                    .algorithm(ConvAlgorithm.WINOGRAD).build();
            int[] xs = {n, c, h + 2, w + 2}, ws = {o, c, 3, 3};
            ConvGeometry g = ConvGeometry.of(p, xs, ws);
            try (Tensor x = TestData.random(r, 1, xs); Tensor wt = TestData.random(r, 1, ws);
                 Tensor b = t % 2 == 0 ? TestData.random(r, 1, o) : null;
                 Tensor ref = ConvEngines.naive().forward(p, x, wt, b)) {
                for (ConvEngine e : ENGINES) {
                    try (Tensor y = TestData.garbage(g.outputShape())) {
                        e.forward(p, x, wt, b, y);
                        double err = TestData.relErr(y.toArray(), ref.toArray());
                        worst = Math.max(worst, err);
                        assertTrue(err <= ConvAlgorithm.WINOGRAD_TOLERANCE, "error " + err + " for " + g);
                    }
                }
            }
        }
        System.out.printf("Winograd: worst scale-free error over random layers %.2e%n", worst);
    }

    @Test
    void aLayerLargeEnoughForSeveralUnits() {
        Random r = new Random(6);
        Conv2dParams p = Conv2dParams.builder().padding(1).algorithm(ConvAlgorithm.WINOGRAD).build();
        int[] xs = {2, 64, 45, 37}, ws = {48, 64, 3, 3};
        try (Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 0.1f, ws); Tensor b = TestData.random(r, 1, 48);
             Tensor ref = ConvEngines.naive().forward(p, x, w, b)) {
            for (ConvEngine e : ENGINES) {
                try (Tensor y = e.forward(p, x, w, b)) {
                    assertTrue(TestData.relErr(y.toArray(), ref.toArray()) <= ConvAlgorithm.WINOGRAD_TOLERANCE);
                }
            }
        }
    }

    @Test
    void refusedWhereItDoesNotApply() {
        try (Tensor x = Tensor.zeros(1, 4, 8, 8); Tensor w5 = Tensor.zeros(4, 4, 5, 5); Tensor w3 = Tensor.zeros(4, 4, 3, 3);
             Tensor w3g = Tensor.zeros(4, 2, 3, 3)) {
            Conv2dParams wino = Conv2dParams.builder().algorithm(ConvAlgorithm.WINOGRAD).build();
            for (ConvEngine e : new ConvEngine[] {ConvEngines.naive(), ConvEngines.java(1), ConvEngines.blas(1)}) {
                IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> e.forward(wino, x, w5, null));
                assertTrue(ex.getMessage().contains("WINOGRAD"), ex.getMessage());
                assertThrows(IllegalArgumentException.class,
                        () -> e.forward(wino.toBuilder().stride(2).build(), x, w3, null));
                assertThrows(IllegalArgumentException.class,
                        () -> e.forward(wino.toBuilder().groups(2).build(), x, w3g, null));
                try (Tensor y = e.forward(wino, x, w3, null)) {
                    assertTrue(y.size() == 4 * 6 * 6);
                }
            }
        }
    }
}
