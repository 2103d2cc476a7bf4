package dev.conv4j.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.ConvEngine;
import dev.conv4j.Engines;
import java.io.IOException;
import java.nio.file.Path;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The golden cases of the other operations (transposed, 1-D and 3-D convolutions; PyTorch, float64)
 * through every engine: y, gx, gw, gb within 1e-4 scale-free, exact_int exactly.
 */
class GoldenOpsTest {

    static Stream<Arguments> runs() throws IOException {
        List<Arguments> args = new ArrayList<>();
        for (ConvEngine e : Engines.all()) {
            for (Path dir : GoldenCase.list(GoldenSets.operations())) {
                args.add(Arguments.of(Engines.label(e), e, dir.getFileName().toString(), dir));
            }
        }
        return args.stream();
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("runs")
    void matchesReference(String label, ConvEngine engine, String name, Path dir) throws IOException {
        try (GoldenCase c = GoldenCase.load(dir); GoldenCheck.Result r = GoldenCheck.run(engine, c, GoldenCheck.TOLERANCE)) {
            assertTrue(r.passed, label + " " + name + ": " + r.describeFailures(GoldenCheck.TOLERANCE, c.isExact()) + " " + r.errors);
            assertEquals(c.gb == null ? 3 : 4, r.errors.size());
        }
    }

    @Test
    void everyOperationIsCovered() throws IOException {
        Set<String> ops = new TreeSet<>();
        for (Path dir : GoldenCase.list(GoldenSets.operations())) {
            try (GoldenCase c = GoldenCase.load(dir)) {
                ops.add(c.op.name());
                assertEquals(c.name.contains("exact_int"), c.isExact(), c.name);
            }
        }
        assertEquals(new TreeSet<>(List.of("conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")), ops);
    }

    @Test
    void theSetMatchesItsManifest() throws IOException, NoSuchAlgorithmException {
        GoldenSets.checkManifest(GoldenSets.operations());
    }
}
