package dev.conv4j;

import java.util.List;
import java.util.stream.Stream;

/** Every engine configuration the suites run against, as lz4-java's tests run every implementation. */
public final class Engines {
    private Engines() {
    }

    /**
     * naive, java and blas, the last two with one and two threads; without blas in a JVM where the
     * native library is disabled ({@code -Dconv4j.native=false}) or made unloadable
     * ({@code -Dorg.bytedeco.javacpp.platform} naming a platform the jars do not carry) on purpose,
     * and nowhere else.
     */
    public static List<ConvEngine> all() {
        if ("false".equals(System.getProperty("conv4j.native"))
                || !"linux-x86_64".equals(System.getProperty("org.bytedeco.javacpp.platform", "linux-x86_64"))) {
            return List.of(ConvEngines.naive(), ConvEngines.java(1), ConvEngines.java(2));
        }
        return List.of(ConvEngines.naive(), ConvEngines.java(1), ConvEngines.java(2), ConvEngines.blas(1),
                ConvEngines.blas(2));
    }

    /** The engines checked against naive. */
    public static List<ConvEngine> fast() {
        return all().subList(1, all().size());
    }

    public static Stream<ConvEngine> allStream() {
        return all().stream();
    }

    public static Stream<ConvEngine> fastStream() {
        return fast().stream();
    }

    /** A label for parameterized test names. */
    public static String label(ConvEngine e) {
        if (e instanceof dev.conv4j.internal.blas.BlasEngine) {
            return "blas(" + ((dev.conv4j.internal.blas.BlasEngine) e).threads() + ")";
        }
        if (e instanceof dev.conv4j.internal.engine.JavaGemmEngine) {
            return "java(" + ((dev.conv4j.internal.engine.JavaGemmEngine) e).threads() + ")";
        }
        return e.name();
    }
}
