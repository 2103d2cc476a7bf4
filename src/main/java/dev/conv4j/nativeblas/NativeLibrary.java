package dev.conv4j.nativeblas;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvGeometry;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Loads conv4j's native library and OpenBLAS once, and remembers why if it could not.
 *
 * <p>Loading is skipped when the system property {@code conv4j.native} is {@code false}. After
 * loading, a small convolution is run natively and compared with its known result, so a library
 * that loads but computes garbage (a broken OpenBLAS kernel for this CPU, say) counts as unavailable.
 *
 * <p>On load, OpenBLAS is set to one thread: conv4j's engines parallelize themselves (over images,
 * groups, row bands and channel blocks), and OpenBLAS threads inside them would oversubscribe the
 * CPU. The OpenBLAS setting is process-wide. Internal to conv4j.
 */
public final class NativeLibrary {
    /** The system property that disables the native library when set to {@code false}. */
    public static final String PROPERTY = "conv4j.native";

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

    /** Throws {@link UnsupportedOperationException} saying what failed when the library is unavailable. */
    public static void require() {
        Throwable f = failure();
        if (f != null) {
            throw new UnsupportedOperationException("the blas engine is unavailable: " + describe(f), f);
        }
    }

    /** A one-line description of a load failure. */
    public static String describe(Throwable f) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = f; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (sb.length() > 0) {
                sb.append("; caused by ");
            }
            sb.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
        }
        return sb.toString();
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
                Class.forName(ConvNative.class.getName(), true, NativeLibrary.class.getClassLoader());
                NativeKernels.setOpenblasThreads(1);
                selfTest();
            } catch (Throwable t) {
                failure = t;
            } finally {
                attempted = true;
            }
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
            NativeKernels.forwardBand(g, x, w, b, y, col, 0, 0, 0, 2);
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
}
