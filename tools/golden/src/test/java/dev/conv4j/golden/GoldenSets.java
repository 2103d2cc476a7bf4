package dev.conv4j.golden;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The golden sets the tests run: the set beside the repository ({@code -Dconv4j.golden}, by default
 * {@code ../shared/golden}), which must be there when {@code CI} is set and is skipped otherwise.
 */
final class GoldenSets {
    private GoldenSets() {
    }

    /** Every case folder of every set. */
    static List<Path> cases() throws IOException {
        List<Path> all = new ArrayList<>();
        Path extra = Path.of(System.getProperty("conv4j.golden", "../../../shared/golden"));
        if (Files.isDirectory(extra)) {
            all.addAll(GoldenCase.list(extra));
        } else if (System.getenv("CI") != null) {
            throw new AssertionError("golden vectors not found at " + extra.toAbsolutePath() + " (-Dconv4j.golden=DIR)");
        }
        return all;
    }
}
