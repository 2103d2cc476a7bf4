package dev.conv4j;

import dev.conv4j.internal.Backend;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Where engines come from, in the manner of lz4-java's {@code LZ4Factory}.
 *
 * <ul>
 *   <li>{@link #naive()}: direct loops in double precision, the reference;</li>
 *   <li>{@link #java()}: im2col + a blocked GEMM in pure Java, the fallback;</li>
 *   <li>{@link #blas()}: native im2col/col2im + OpenBLAS sgemm, the fast path;</li>
 *   <li>{@link #fastest()}: {@code blas} when the native library loads, else {@code java}.</li>
 * </ul>
 *
 * <p>Engines are thread-safe and cached: asking twice for the same engine and thread count
 * returns the same instance. The thread count is the most threads one call uses, the caller
 * included (at most {@link #MAX_THREADS}); the engine's helper threads are shared by all its callers,
 * so concurrent calls never multiply them. An engine keeps nothing per thread: its memory follows the
 * calls it runs at once, and it runs at most {@code -Dconv4j.maxConcurrentCalls} calls of virtual
 * threads at once (default: twice the processors, at least 4; further ones wait). Setting
 * {@code -Dconv4j.native=false} disables the native library.
 */
public final class ConvEngines {
    private static final System.Logger LOG = System.getLogger("dev.conv4j");
    private static final ConcurrentMap<String, ConvEngine> CACHE = new ConcurrentHashMap<>();
    private static final ConvEngine NAIVE = Backend.naive();
    private static volatile ConvEngine fastest;

    private ConvEngines() {
    }

    /** The reference engine. */
    public static ConvEngine naive() {
        return NAIVE;
    }

    /** The pure-Java im2col + GEMM engine using all available processors. */
    public static ConvEngine java() {
        return java(defaultThreads());
    }

    /** The pure-Java im2col + GEMM engine using at most {@code threads} threads per call. */
    public static ConvEngine java(int threads) {
        checkThreads(threads);
        return CACHE.computeIfAbsent("java/" + threads, k -> Backend.java(threads));
    }

    /**
     * The native OpenBLAS engine using all available processors.
     *
     * @throws UnsupportedOperationException saying what failed to load when the native library is unavailable
     */
    public static ConvEngine blas() {
        return blas(defaultThreads());
    }

    /**
     * The native OpenBLAS engine using at most {@code threads} threads per call.
     *
     * @throws UnsupportedOperationException saying what failed to load when the native library is unavailable
     */
    public static ConvEngine blas(int threads) {
        checkThreads(threads);
        Backend.requireNative();
        return CACHE.computeIfAbsent("blas/" + threads, k -> Backend.blas(threads));
    }

    /**
     * The fastest engine this JVM can run: {@code blas} when the native library and OpenBLAS load,
     * else {@code java}, which gives the same results more slowly. Which one, and why, is logged once
     * (System.Logger "dev.conv4j"; a fallback at WARNING with the {@linkplain #nativeDiagnosis() diagnosis}).
     */
    public static ConvEngine fastest() {
        ConvEngine f = fastest;
        if (f == null) {
            synchronized (ConvEngines.class) {
                f = fastest;
                if (f == null) {
                    if (isNativeAvailable()) {
                        f = blas();
                        LOG.log(System.Logger.Level.INFO, "conv4j: using the blas engine (native library and OpenBLAS loaded)");
                    } else {
                        f = java();
                        LOG.log(System.Logger.Level.WARNING, "conv4j: native library unavailable, using the pure-Java engine"
                                + " (same results, slower): " + Backend.describe(Backend.nativeFailure())
                                + System.lineSeparator() + nativeDiagnosis());
                    }
                    fastest = f;
                }
            }
        }
        return f;
    }

    /** An engine by name: {@code naive}, {@code java} or {@code blas}. */
    public static ConvEngine byName(String name, int threads) {
        if (name == null) {
            throw new IllegalArgumentException("engine name must not be null (naive, java, blas)");
        }
        switch (name) {
            case "naive":
                return naive();
            case "java":
                return java(threads);
            case "blas":
                return blas(threads);
            default:
                throw new IllegalArgumentException("unknown engine '" + name + "' (naive, java, blas)");
        }
    }

    /** True when the native library and OpenBLAS are loaded and passed their self-test. */
    public static boolean isNativeAvailable() {
        return Backend.nativeAvailable();
    }

    /** Why the native library is unavailable, or null when it is available. */
    public static String nativeFailure() {
        Throwable t = Backend.nativeFailure();
        return t == null ? null : Backend.describe(t);
    }

    /**
     * What a support engineer needs when the native library does not load, one item a line: whether it
     * loaded, the chain of exceptions of the step that failed, the properties that steer loading, the
     * platform JavaCPP resolved, the OS and architecture, {@code java.library.path}, JavaCPP's cache
     * directory and where tensor memory comes from.
     */
    public static String nativeDiagnosis() {
        return String.join(System.lineSeparator(), Backend.diagnosis());
    }

    private static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }

    /** The most threads an engine may use per call. */
    public static final int MAX_THREADS = 4096;

    private static void checkThreads(int threads) {
        if (threads < 1 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads must be between 1 and " + MAX_THREADS + ", got " + threads);
        }
    }
}
