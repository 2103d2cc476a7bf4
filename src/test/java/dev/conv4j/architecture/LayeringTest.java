package dev.conv4j.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The library's dependencies, as {@code jdeps} reads them from its compiled classes: nothing outside
 * {@code java.base}, JavaCPP and OpenBLAS, and the public API ({@code dev.conv4j}, {@code dev.conv4j.io})
 * reaching the implementation only through the seam package {@code dev.conv4j.internal}, never the
 * engines or the binding directly.
 */
class LayeringTest {
    private static final Pattern EDGE = Pattern.compile("^\\s+(\\S+)\\s+->\\s+(\\S+)\\s+(.*)$");
    private static final Set<String> API = Set.of("dev.conv4j", "dev.conv4j.io");
    private static final String SEAM = "dev.conv4j.internal";
    private static List<String[]> edges;

    @BeforeAll
    static void readDependencies() {
        Path classes = Path.of("target", "classes");
        assertTrue(Files.isDirectory(classes.resolve("dev/conv4j")), "no compiled classes at " + classes.toAbsolutePath());
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow(() -> new AssertionError("this JDK has no jdeps"));
        StringWriter out = new StringWriter();
        // the library is a module: jdeps resolves what it requires from the test class path's JavaCPP jars
        StringBuilder modules = new StringBuilder();
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            if (entry.endsWith(".jar") && entry.contains("bytedeco")) {
                modules.append(modules.length() == 0 ? "" : java.io.File.pathSeparator).append(entry);
            }
        }
        int rc = jdeps.run(new PrintWriter(out), new PrintWriter(out), "--multi-release", "17", "--module-path", modules.toString(),
                "-verbose:class", "-filter:none", classes.toString());
        assertEquals(0, rc, out.toString());
        edges = new ArrayList<>();
        for (String line : out.toString().split("\\R")) {
            Matcher m = EDGE.matcher(line);
            if (m.matches()) {
                edges.add(new String[] {m.group(1), m.group(2)});
            }
        }
        assertTrue(edges.size() > 100, "jdeps printed too few dependencies to be read right:\n" + out);
    }

    private static String pkg(String cls) {
        int i = cls.lastIndexOf('.');
        return i < 0 ? "" : cls.substring(0, i);
    }

    @Test
    void dependsOnJavaBaseJavaCppAndOpenBlasOnly() {
        Set<String> base = new HashSet<>(ModuleLayer.boot().findModule("java.base").orElseThrow().getPackages());
        base.add("java.lang.foreign"); // java.base from Java 22 on, for the multi-release jar's Java 22 classes
        Set<String> outside = new TreeSet<>();
        for (String[] e : edges) {
            String p = pkg(e[1]);
            if (!base.contains(p) && !p.startsWith("dev.conv4j") && !p.startsWith("org.bytedeco.javacpp")
                    && !p.startsWith("org.bytedeco.openblas")) {
                outside.add(e[0] + " -> " + e[1]);
            }
        }
        assertTrue(outside.isEmpty(), "dependencies outside java.base, JavaCPP and OpenBLAS:\n" + String.join("\n", outside));
    }

    @Test
    void theApiReachesTheImplementationThroughTheSeamOnly() {
        Set<String> wrong = new TreeSet<>();
        for (String[] e : edges) {
            String from = pkg(e[0]), to = pkg(e[1]);
            if (API.contains(from) && to.startsWith(SEAM + ".")) {
                wrong.add(e[0] + " -> " + e[1]);
            }
        }
        assertTrue(wrong.isEmpty(), "the API depends on the implementation past " + SEAM + ":\n" + String.join("\n", wrong));
    }

    @Test
    void theImplementationNeverReachesTheTools() {
        Set<String> wrong = new TreeSet<>();
        for (String[] e : edges) {
            String to = pkg(e[1]);
            if (to.startsWith("dev.conv4j.") && !API.contains(to) && !to.equals(SEAM) && !to.startsWith(SEAM + ".")) {
                wrong.add(e[0] + " -> " + e[1]);
            }
        }
        assertTrue(wrong.isEmpty(), "the library refers to packages it does not hold:\n" + String.join("\n", wrong));
    }
}
