package dev.conv4j.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * conv4j used as a user uses it, in a fresh JVM (the JDK that runs this test: 17 in the default run,
 * 25 in the {@code jdk25} profile, where the class path holds the multi-release jar), makes the JDK
 * print no warning at all: no {@code sun.misc.Unsafe} deprecation, no restricted-method warning for
 * the native libraries (with {@code --enable-native-access=ALL-UNNAMED}, as the README tells users on
 * Java 22 and later), on the native path and on the direct-buffer fallback. Any output line that
 * says "warning", in any case, fails, except conv4j's own log records, which the child JVM formats with
 * a mark of their own (the fallback logs one on purpose).
 */
class JdkWarningsTest {
    /** How the child JVM prints java.util.logging records: conv4j's are recognized by this mark and their logger. */
    private static final String LOG_FORMAT = "[log %3$s %4$s] %5$s%n";
    private static final String CONV4J_LOG = "[log dev.conv4j";
    private static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";

    /** What a user on this Java adds to the command line: native access from Java 22 on (the README says so). */
    private static List<String> userFlags() {
        return Runtime.version().feature() >= 22 ? List.of(NATIVE_ACCESS) : List.of();
    }

    @Test
    void theNativePathMakesNoJdkWarning() throws Exception {
        String out = run(userFlags());
        assertTrue(out.contains("engine blas"), "the native engine did not load:\n" + out);
        assertNoWarnings(out);
    }

    @Test
    void theDirectBufferFallbackMakesNoJdkWarning() throws Exception {
        List<String> flags = new ArrayList<>(userFlags());
        flags.add("-Dorg.bytedeco.javacpp.platform=linux-arm64"); // a platform the jars do not carry
        String out = run(flags);
        assertTrue(out.contains("engine java") && out.contains(CONV4J_LOG + " WARNING]"),
                "the fallback did not happen, or was not logged:\n" + out);
        assertNoWarnings(out);
    }

    /** Without native access, Java 24+ warns about JavaCPP's System.load, and about nothing else. */
    @Test
    void withoutNativeAccessOnlyJavaCppsLibraryLoadingWarns() throws Exception {
        assumeTrue(Runtime.version().feature() >= 24, "Java 24 and later warn about restricted methods");
        String out = run(List.of());
        List<String> warnings = warnings(out);
        assertFalse(warnings.isEmpty(), "expected the restricted-method warning for JavaCPP's loader:\n" + out);
        for (String w : warnings) {
            assertTrue(w.equals("WARNING: A restricted method in java.lang.System has been called")
                    || w.startsWith("WARNING: java.lang.System::load") && w.contains("called by org.bytedeco.javacpp.Loader in an unnamed module")
                    || w.equals("WARNING: Use " + NATIVE_ACCESS + " to avoid a warning for callers in this module")
                    || w.equals("WARNING: Restricted methods will be blocked in a future release unless native access is enabled"),
                    "a warning other than JavaCPP's native access: " + w + "\n" + out);
        }
    }

    private static List<String> warnings(String out) {
        List<String> w = new ArrayList<>();
        for (String line : out.split("\\R")) {
            if (line.toLowerCase(Locale.ROOT).contains("warning") && !line.startsWith(CONV4J_LOG)) {
                w.add(line);
            }
        }
        return w;
    }

    private static void assertNoWarnings(String out) {
        List<String> w = warnings(out);
        assertTrue(w.isEmpty(), "the JVM printed warnings:\n" + String.join("\n", w) + "\n\nall output:\n" + out);
        assertTrue(out.contains("user program done"), "the program did not finish:\n" + out);
    }

    /** Runs {@link UserProgram} in a new JVM of this JDK with this class path; its output, stdout and stderr. */
    private static String run(List<String> flags) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(flags);
        cmd.add("-Djava.util.logging.SimpleFormatter.format=" + LOG_FORMAT);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(UserProgram.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (InputStream in = p.getInputStream()) {
            in.transferTo(bytes);
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the program did not end");
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + "\n" + out);
        return out;
    }

    /** What a user does: the fastest engine, tensors of their own direct buffers and of conv4j's, a plan. */
    public static final class UserProgram {
        private UserProgram() {
        }

        public static void main(String[] args) throws Exception {
            ConvEngine engine = ConvEngines.fastest();
            System.out.println("engine " + engine.name());
            Conv2dParams p = Conv2dParams.builder().padding(1).build();
            FloatBuffer pixels = ByteBuffer.allocateDirect(4 * 2 * 3 * 8 * 8).order(ByteOrder.nativeOrder()).asFloatBuffer();
            for (int i = 0; i < pixels.capacity(); i++) {
                pixels.put(i, i % 7 - 3);
            }
            float[] weights = new float[4 * 3 * 3 * 3];
            for (int i = 0; i < weights.length; i++) {
                weights[i] = (i % 5 - 2) * 0.5f;
            }
            try (Tensor x = Tensor.wrap(pixels, 2, 3, 8, 8); Tensor w = Tensor.of(weights, 4, 3, 3, 3);
                 Tensor b = Tensor.of(new float[] {1, 2, 3, 4}, 4); Tensor y = engine.forward(p, x, w, b);
                 Tensor want = ConvEngines.naive().forward(p, x, w, b); Tensor gx = engine.backwardData(p, y, w, x.shape())) {
                check(y.toArray(), want.toArray());
                Tensor again = Tensor.wrap(y.buffer(), 2 * 4 * 8 * 8);
                if (!again.overlaps(y) || again.overlaps(x) || gx.size() != x.size()) {
                    throw new AssertionError("views are not what they should be");
                }
                try (Conv2dPlan plan = engine.plan(p, x.shape(), w.shape())) {
                    plan.prepackWeights(w, b);
                    plan.forward(x, y);
                }
                check(y.toArray(), want.toArray());
                if (Runtime.version().feature() >= 22) {
                    segment(engine, p, w, b, want.toArray());
                }
            }
            System.out.println("user program done");
        }

        /** Java 22+: a tensor over a memory segment (reflectively: this class is compiled for Java 17). */
        private static void segment(ConvEngine engine, Conv2dParams p, Tensor w, Tensor b, float[] want) throws Exception {
            Class<?> segments;
            try {
                segments = Class.forName("dev.conv4j.Segments");
            } catch (ClassNotFoundException e) {
                System.out.println("no Segments: the class path does not read the multi-release jar");
                return;
            }
            Class<?> arenaClass = Class.forName("java.lang.foreign.Arena");
            Class<?> segmentClass = Class.forName("java.lang.foreign.MemorySegment");
            try (AutoCloseable arena = (AutoCloseable) arenaClass.getMethod("ofShared").invoke(null)) {
                Object seg = arenaClass.getMethod("allocate", long.class, long.class).invoke(arena, 4L * 2 * 3 * 8 * 8, 64L);
                Method wrap = segments.getMethod("wrap", segmentClass, int[].class);
                FloatBuffer f = ((ByteBuffer) segmentClass.getMethod("asByteBuffer").invoke(seg)).order(ByteOrder.nativeOrder()).asFloatBuffer();
                for (int i = 0; i < f.capacity(); i++) {
                    f.put(i, i % 7 - 3);
                }
                try (Tensor x = (Tensor) wrap.invoke(null, seg, new int[] {2, 3, 8, 8})) {
                    try (Tensor y = engine.forward(p, x, w, b)) {
                        check(y.toArray(), want);
                    }
                }
            }
            System.out.println("segment done");
        }

        private static void check(float[] got, float[] want) {
            for (int i = 0; i < want.length; i++) {
                if (Math.abs(got[i] - want[i]) > 1e-4f * (1 + Math.abs(want[i]))) {
                    throw new AssertionError("element " + i + ": " + got[i] + " instead of " + want[i]);
                }
            }
        }
    }
}
