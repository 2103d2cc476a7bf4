package dev.conv4j.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.ConvEngine;
import dev.conv4j.Engines;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every golden case (PyTorch, float64) through every engine: y, gx, gw, gb within 1e-4 scale-free, exact_int exactly. */
class GoldenTest {
    private static List<GoldenCase> cases;

    @BeforeAll
    static void load() throws IOException {
        cases = new ArrayList<>();
        for (Path p : GoldenSets.cases()) {
            cases.add(GoldenCase.load(p));
        }
    }

    @AfterAll
    static void release() {
        cases.forEach(GoldenCase::close);
    }

    static Stream<Arguments> runs() throws IOException {
        List<Arguments> args = new ArrayList<>();
        int n = GoldenSets.cases().size();
        for (ConvEngine e : Engines.all()) {
            for (int i = 0; i < n; i++) {
                args.add(Arguments.of(Engines.label(e), e, i));
            }
        }
        return args.stream();
    }

    @ParameterizedTest(name = "{0} case #{2}")
    @MethodSource("runs")
    void matchesReference(String label, ConvEngine engine, int index) {
        GoldenCase c = cases.get(index);
        try (GoldenCheck.Result r = GoldenCheck.run(engine, c, GoldenCheck.TOLERANCE)) {
            assertTrue(r.passed, label + " " + c.name + ": " + r.describeFailures(GoldenCheck.TOLERANCE, c.isExact())
                    + " " + r.errors);
            assertEquals(c.gb == null ? 3 : 4, r.errors.size());
        }
    }

    @Test
    void theFolderHoldsTheDocumentedFamilies() {
        assertTrue(cases.size() >= 70, "expected the full golden set, found " + cases.size());
        assertTrue(cases.stream().anyMatch(GoldenCase::isExact), "no exact_int case found");
        assertTrue(cases.stream().anyMatch(c -> c.params.groups() > 1), "no grouped case found");
    }

    @Test
    void aWrongResultIsCaught() {
        GoldenCase c = cases.get(0);
        float[] y = c.y.toArray();
        y[y.length / 2] += 1e-2f * max(y);
        assertTrue(GoldenCheck.relativeError(y, c.y.toArray()) > GoldenCheck.TOLERANCE);
    }

    private static float max(float[] a) {
        float m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
