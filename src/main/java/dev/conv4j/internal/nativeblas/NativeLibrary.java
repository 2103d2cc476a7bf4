package dev.conv4j.internal.nativeblas;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvGeometry;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * Loads conv4j's native library and OpenBLAS once, and remembers which step failed and why.
 *
 * <p>Loading is skipped when the system property {@code conv4j.native} is {@code false}. The steps are:
 * JavaCPP's own native library, OpenBLAS (the {@code org.bytedeco:openblas} preset), conv4j's kernels
 * (whose parameter structs must have the layout {@code NativeParams} writes), then a self-test: a
 * small convolution is run natively and compared with its known result, so a library that loads but
 * computes garbage (a broken OpenBLAS kernel for this CPU, say) counts as unavailable. A failure
 * names its step and keeps the original exception as its cause.
 *
 * <p>On load, OpenBLAS is set to one thread: conv4j's engines parallelize themselves (over images,
 * groups, row bands and channel blocks), and OpenBLAS threads inside them would oversubscribe the
 * CPU. The OpenBLAS setting is process-wide. Internal to conv4j.
 */
public final class NativeLibrary {
    /** The system property that disables the native library when set to {@code false}. */
    public static final String PROPERTY = "conv4j.native";
    /** JavaCPP's property that overrides the platform whose native libraries are loaded. */
    public static final String PLATFORM_PROPERTY = "org.bytedeco.javacpp.platform";

    private static final Object LOCK = new Object();
    private static volatile boolean attempted;
    private static volatile Throwable failure;

    private NativeLibrary() {
    }

    /** True when the native library and OpenBLAS are loaded and passed the self-test. */
    public static boolean isAvailable() {
        load();
        return failure == null;
    }

    /** Why the native library is unavailable, or null when it is available. */
    public static Throwable failure() {
        load();
        return failure;
    }

    /**
     * Why JavaCPP's own native library (which allocates off-heap memory) did not load, or null when it
     * did. Independent of {@code conv4j.native}: tensors use JavaCPP memory whenever it can load.
     */
    public static Throwable javacppFailure() {
        return Javacpp.FAILURE;
    }

    /** Throws {@link UnsupportedOperationException} saying what failed when the library is unavailable. */
    public static void require() {
        Throwable f = failure();
        if (f != null) {
            throw new UnsupportedOperationException("the blas engine is unavailable: " + describe(f), f);
        }
    }

    /** A one-line description of a load failure: every exception of the cause chain, class and message. */
    public static String describe(Throwable f) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t : chain(f)) {
            if (sb.length() > 0) {
                sb.append("; caused by ");
            }
            sb.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
        }
        return sb.toString();
    }

    /**
     * What a support engineer needs to see why the native library did or did not load, one item a line:
     * the status and failure chain, the properties that steer loading, the platform JavaCPP resolves,
     * the OS and architecture, {@code java.library.path} and JavaCPP's cache directory.
     */
    public static List<String> diagnosis() {
        List<String> lines = new ArrayList<>();
        Throwable f = failure();
        lines.add("native library: " + (f == null ? "loaded, self-test passed" : "unavailable"));
        if (f == null) {
            lines.add("native kernels: " + NativeKernels.isa() + " variants"
                    + (System.getenv("CONV4J_NO_AVX512") != null ? " (CONV4J_NO_AVX512 is set)" : "")
                    + (System.getenv("CONV4J_NO_AVX2") != null ? " (CONV4J_NO_AVX2 is set)" : ""));
        }
        if (f != null) {
            String indent = "  failure: ";
            for (Throwable t : chain(f)) {
                lines.add(indent + t.getClass().getName() + ": " + t.getMessage());
                indent = "  caused by: ";
            }
        }
        Throwable core = javacppFailure();
        lines.add("tensor memory: " + (core == null ? "JavaCPP off-heap"
                : "Java direct buffers (JavaCPP's native library did not load: " + describe(core) + ")"));
        lines.add("-D" + PROPERTY + ": " + System.getProperty(PROPERTY, "(not set)"));
        lines.add("-D" + PLATFORM_PROPERTY + ": " + System.getProperty(PLATFORM_PROPERTY, "(not set)"));
        String platform = safe(Loader::getPlatform);
        lines.add("javacpp platform: " + platform);
        lines.add("bundled for " + platform + " on the class path: "
                + bundled("JavaCPP", "org/bytedeco/javacpp/" + platform + "/", "jnijavacpp") + ", "
                + bundled("OpenBLAS", "org/bytedeco/openblas/" + platform + "/", "jniopenblas_nolapack") + ", "
                + bundled("conv4j", "dev/conv4j/internal/nativeblas/" + platform + "/", "jniConvNative"));
        lines.add("javacpp version: " + safe(Loader::getVersion));
        lines.add("os: " + System.getProperty("os.name") + " " + System.getProperty("os.version")
                + ", os.arch " + System.getProperty("os.arch"));
        lines.add("java.library.path: " + System.getProperty("java.library.path"));
        lines.add("javacpp cache: " + safe(() -> Loader.getCacheDir().toString())
                + " (-Dorg.bytedeco.javacpp.cachedir moves it; -Dorg.bytedeco.javacpp.logger.debug=true logs every load attempt)");
        return lines;
    }

    /** Whether the class path holds a native library for the platform, as JavaCPP would look for it. */
    private static String bundled(String what, String folder, String library) {
        ClassLoader cl = NativeLibrary.class.getClassLoader();
        boolean found = cl != null && cl.getResource(folder + System.mapLibraryName(library)) != null;
        return what + " " + (found ? "yes" : "MISSING");
    }

    private interface Source {
        Object get() throws Exception;
    }

    private static String safe(Source s) {
        try {
            return String.valueOf(s.get());
        } catch (Exception | LinkageError e) {
            return "unknown (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")";
        }
    }

    private static List<Throwable> chain(Throwable f) {
        List<Throwable> out = new ArrayList<>();
        for (Throwable t = f; t != null && !out.contains(t); t = t.getCause()) {
            out.add(t);
        }
        return out;
    }

    private static void load() {
        if (attempted) {
            return;
        }
        synchronized (LOCK) {
            if (attempted) {
                return;
            }
            try {
                if ("false".equalsIgnoreCase(System.getProperty(PROPERTY, "true").trim())) {
                    throw new IllegalStateException("disabled by -D" + PROPERTY + "=false");
                }
                if (javacppFailure() != null) {
                    throw new IllegalStateException("JavaCPP's native library (jnijavacpp) did not load for platform "
                            + safe(Loader::getPlatform), javacppFailure());
                }
                step("OpenBLAS (org.bytedeco:openblas preset, jniopenblas_nolapack + libopenblas)",
                        () -> Loader.load(openblas_nolapack.class));
                step("conv4j's native kernels (jniConvNative)", () -> {
                    Class.forName(ConvNative.class.getName(), true, NativeLibrary.class.getClassLoader());
                    NativeParams.checkLayout();
                    return null;
                });
                NativeKernels.setOpenblasThreads(1);
                selfTest();
            } catch (Throwable t) {
                failure = t;
            } finally {
                attempted = true;
            }
        }
    }

    private static void step(String what, Source s) {
        try {
            s.get();
        } catch (Throwable t) {
            throw new IllegalStateException(what + " did not load for platform " + safe(Loader::getPlatform), t);
        }
    }

    /** A 2x2 kernel over a 3x3 image with a bias, whose result is exact in float. */
    private static void selfTest() {
        ConvGeometry g = ConvGeometry.of(Conv2dParams.DEFAULT, new int[] {1, 1, 3, 3}, new int[] {1, 1, 2, 2});
        try (FloatPointer x = new FloatPointer(1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f);
             FloatPointer w = new FloatPointer(1f, 0f, 0f, -1f);
             FloatPointer b = new FloatPointer(10f);
             FloatPointer y = new FloatPointer(4L);
             FloatPointer col = new FloatPointer(16L)) {
            NativeKernels.forwardBand(g, x, w, b, y, col, null, 0, 0, 0, 1, 0, 2);
            float[] got = new float[4];
            y.get(got);
            for (float v : got) {
                if (v != 6f) {
                    throw new IllegalStateException("native self-test computed " + java.util.Arrays.toString(got)
                            + " instead of [6.0, 6.0, 6.0, 6.0] (OpenBLAS core " + NativeKernels.openblasCore() + ")");
                }
            }
        }
    }

    /** Loads JavaCPP's own library once, on first use. */
    private static final class Javacpp {
        static final Throwable FAILURE = loadCore();

        private static Throwable loadCore() {
            try {
                Loader.load(org.bytedeco.javacpp.presets.javacpp.class);
                // Loader swallows some failures; an allocation proves the library is there
                new FloatPointer(1L).close();
                return null;
            } catch (Throwable t) {
                return t;
            }
        }
    }
}
