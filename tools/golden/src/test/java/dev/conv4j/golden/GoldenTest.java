package dev.conv4j.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conv4j.ConvEngine;
import dev.conv4j.Engines;
import dev.conv4j.Layout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every golden case (PyTorch, float64) of the repository's set and of the set beside the repository
 * (when there) through every engine, with the activations x, y, gx and gy in each layout (NCHW, NHWC,
 * NCHW16C): y, gx, gw, gb within 1e-4 scale-free, exact_int exactly.
 */
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
        List<Path> dirs = GoldenSets.cases();
        for (ConvEngine e : Engines.all()) {
            for (Layout layout : Layout.values()) {
                for (int i = 0; i < dirs.size(); i++) {
                    args.add(Arguments.of(Engines.label(e), e, i, GoldenSets.label(dirs.get(i)), layout));
                }
            }
        }
        return args.stream();
    }

    @ParameterizedTest(name = "{0} {3} {4}")
    @MethodSource("runs")
    void matchesReference(String label, ConvEngine engine, int index, String caseLabel, Layout layout) {
        GoldenCase c = cases.get(index);
        try (GoldenCheck.Result r = LayoutGoldenCheck.run(engine, c, layout, GoldenCheck.TOLERANCE)) {
            assertTrue(r.passed, label + " " + caseLabel + " " + layout + ": "
                    + r.describeFailures(GoldenCheck.TOLERANCE, c.isExact()) + " " + r.errors);
            assertEquals(c.gb == null ? 3 : 4, r.errors.size());
        }
    }

    @Test
    void theRepositorysSetHoldsTheDocumentedFamilies() throws IOException {
        List<Path> dirs = GoldenCase.list(GoldenSets.repository());
        assertTrue(dirs.size() >= 80, "expected the repository's full golden set, found " + dirs.size());
        Set<String> families = new TreeSet<>();
        for (Path d : dirs) {
            try (GoldenCase c = GoldenCase.load(d)) {
                families.add(c.family);
                assertEquals(c.name.startsWith("exact_int"), c.isExact(), c.name + ": exact cases are named exact_int*");
            }
        }
        assertEquals(new TreeSet<>(List.of("anchors_mini", "batch_channels", "combo", "depthwise", "dilation", "direct",
                "exact_int", "gemm", "groups", "kernel", "magnitude", "out1x1", "padding", "pointwise", "stride",
                "winograd")), families);
        Path extra = GoldenSets.extra();
        if (extra != null) {
            assertTrue(GoldenCase.list(extra).size() >= 70, "expected the full golden set beside the repository at " + extra);
        }
    }

    /** The repository's files are those its generator wrote: every case and file of manifest.json, with its sha256. */
    @Test
    void theRepositorysSetMatchesItsManifest() throws IOException, NoSuchAlgorithmException {
        GoldenSets.checkManifest(GoldenSets.repository());
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
