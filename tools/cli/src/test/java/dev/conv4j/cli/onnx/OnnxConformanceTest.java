package dev.conv4j.cli.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.ConvEngine;
import dev.conv4j.Engines;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ONNX's own conformance tests of {@code Conv} and {@code ConvTranspose} (the Debian package
 * {@code libonnx-testdata}: 1-D, 2-D and 3-D, transposed or not) on every engine: each must run and
 * match the expected output; an unsupported test fails.
 */
class OnnxConformanceTest {

    static Stream<Arguments> tests() throws IOException {
        Path root = OnnxTestDataTest.root();
        List<Arguments> args = new ArrayList<>();
        for (OnnxTestCase.Found f : OnnxTestCase.find(root)) {
            for (ConvEngine e : Engines.all()) {
                args.add(Arguments.of(Engines.label(e), root.relativize(f.dir()).toString(), e, f));
            }
        }
        return args.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("tests")
    void runsAndMatches(String label, String name, ConvEngine engine, OnnxTestCase.Found found) throws IOException {
        OnnxConformance.Outcome r = OnnxConformance.run(found.load(), engine);
        assertTrue(r.passed(), label + " " + name + ": " + r.detail());
    }

    @Test
    void theFloatConvolutionTestsAreAllThere() throws IOException {
        List<OnnxTestCase.Found> found = OnnxTestCase.find(OnnxTestDataTest.root());
        // 16 in node/, 28 in pytorch-converted/, 2 in pytorch-operator/ (ONNX 1.12's data)
        assertTrue(found.size() >= 46, "found " + found.size());
        long transposed = found.stream().filter(f -> f.opTypes().contains("ConvTranspose")).count();
        assertTrue(transposed >= 13, transposed + " ConvTranspose tests");
    }

    /** A wrong expected output is caught: the comparison can fail. */
    @Test
    void aWrongOutputFails() throws IOException {
        OnnxTestCase t = OnnxTestCase.load(OnnxTestDataTest.root().resolve("node/test_convtranspose_pad"));
        OnnxTensor y = t.outputs().get(0);
        y.data()[y.data().length / 3] += 0.5f;
        OnnxConformance.Outcome r = OnnxConformance.run(t, Engines.all().get(0));
        assertFalse(r.passed(), r.detail());
        assertEquals("test_convtranspose_pad", r.test());
    }
}
