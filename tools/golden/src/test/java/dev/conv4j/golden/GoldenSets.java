package dev.conv4j.golden;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The golden sets the tests run: the repository's own ({@code src/test/resources/golden}, written by
 * {@code tools/golden/generate.py}), always; and the set beside the repository
 * ({@code -Dconv4j.golden.extra=DIR}, by default {@code ../shared/golden}) when it is there, which
 * must be there when the environment variable {@code CI} is set.
 */
final class GoldenSets {
    /** The property naming the set beside the repository. */
    static final String EXTRA = "conv4j.golden.extra";

    private GoldenSets() {
    }

    /** The repository's own set: {@code -Dconv4j.golden.repo} (set by the build), else relative to this module. */
    static Path repository() {
        Path p = Path.of(System.getProperty("conv4j.golden.repo", "src/test/resources/golden"));
        if (!Files.isDirectory(p)) {
            throw new AssertionError("the repository's golden vectors are not at " + p.toAbsolutePath()
                    + " (tools/golden/src/test/resources/golden; -Dconv4j.golden.repo=DIR)");
        }
        return p;
    }

    /** The set beside the repository, or null when it is not there (an error under {@code CI}). */
    static Path extra() {
        if (System.getProperty("conv4j.golden") != null) {
            throw new AssertionError("-Dconv4j.golden was renamed: name the golden set beside the repository with -D"
                    + EXTRA + "=DIR");
        }
        Path p = Path.of(System.getProperty(EXTRA, "../../../shared/golden"));
        if (Files.isDirectory(p)) {
            return p;
        }
        if (System.getenv("CI") != null) {
            throw new AssertionError("CI is set but the golden vectors beside the repository are not at "
                    + p.toAbsolutePath() + " (-D" + EXTRA + "=DIR)");
        }
        return null;
    }

    /** Every case folder of every set: the repository's first, then the set beside it. */
    static List<Path> cases() throws IOException {
        List<Path> all = new ArrayList<>(GoldenCase.list(repository()));
        Path extra = extra();
        if (extra != null) {
            all.addAll(GoldenCase.list(extra));
        }
        return all;
    }

    /** The set of the other operations (transposed, 1-D, 3-D): {@code -Dconv4j.golden.ops}, else relative to this module. */
    static Path operations() {
        Path p = Path.of(System.getProperty("conv4j.golden.ops", "src/test/resources/golden-ops"));
        if (!Files.isDirectory(p)) {
            throw new AssertionError("the golden vectors of the other operations are not at " + p.toAbsolutePath()
                    + " (tools/golden/src/test/resources/golden-ops; -Dconv4j.golden.ops=DIR)");
        }
        return p;
    }

    /** Checks that a set's files are those its generator wrote: every case and file of manifest.json, with its sha256. */
    static void checkManifest(Path root) throws IOException, NoSuchAlgorithmException {
        Map<?, ?> manifest = new ObjectMapper().readValue(root.resolve("manifest.json").toFile(), Map.class);
        List<?> entries = (List<?>) manifest.get("cases");
        assertEquals(((Number) manifest.get("count")).intValue(), entries.size());
        Set<String> listed = new TreeSet<>();
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (Object o : entries) {
            Map<?, ?> e = (Map<?, ?>) o;
            String dir = (String) e.get("dir");
            listed.add(dir);
            Map<?, ?> sums = (Map<?, ?>) e.get("sha256");
            try (Stream<Path> files = Files.list(root.resolve(dir))) {
                assertEquals(sums.size() + 1, files.count(), dir + ": the files of the manifest and case.json, no others");
            }
            for (Map.Entry<?, ?> f : sums.entrySet()) {
                byte[] digest = sha.digest(Files.readAllBytes(root.resolve(dir).resolve((String) f.getKey())));
                assertEquals(f.getValue(), HexFormat.of().formatHex(digest), dir + "/" + f.getKey() + " differs from the manifest");
            }
        }
        Set<String> present = new TreeSet<>();
        GoldenCase.list(root).forEach(d -> present.add(d.getFileName().toString()));
        assertEquals(listed, present);
    }

    /** "repo/NAME" or "extra/NAME" for a case folder of {@link #cases()}. */
    static String label(Path caseDir) {
        Path set = caseDir.toAbsolutePath().normalize().getParent();
        return (set.equals(repository().toAbsolutePath().normalize()) ? "repo/" : "extra/") + caseDir.getFileName();
    }
}
