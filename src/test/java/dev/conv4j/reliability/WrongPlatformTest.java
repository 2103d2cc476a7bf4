package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import dev.conv4j.internal.nativeblas.NativeLibrary;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Runs in a JVM of its own where JavaCPP resolves a platform the jars do not carry
 * ({@code -Dorg.bytedeco.javacpp.platform=linux-arm64}): JavaCPP's own library, OpenBLAS and conv4j's
 * kernels all fail to load for real, as on a machine the build does not cover. Tensors fall back to
 * Java direct buffers, {@code fastest()} to the pure-Java engine with one logged warning, results stay
 * correct, and blas() and {@code info} say what failed.
 */
class WrongPlatformTest {
    private static final List<LogRecord> RECORDS = new ArrayList<>();
    /** Held so that java.util.logging cannot drop the logger (and the handler) before ConvEngines logs. */
    private static Logger julLogger;

    @BeforeAll
    static void captureConv4jLogging() {
        julLogger = Logger.getLogger("dev.conv4j");
        julLogger.addHandler(new Handler() {
            @Override
            public void publish(LogRecord r) {
                synchronized (RECORDS) {
                    RECORDS.add(r);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        });
    }

    private static void requireTheSetUp() {
        assertEquals("linux-arm64", System.getProperty("org.bytedeco.javacpp.platform"),
                "this test needs -Dorg.bytedeco.javacpp.platform=linux-arm64 (its own surefire execution)");
    }

    @Test
    void fastestFallsBackToJavaLogsWhyOnceAndBlasSaysWhatFailedToLoad() {
        requireTheSetUp();
        assertFalse(ConvEngines.isNativeAvailable());
        ConvEngine first = ConvEngines.fastest();
        assertEquals("java", first.name());
        IntStream.range(0, 1600).parallel().forEach(i -> assertSame(first, ConvEngines.fastest()));
        List<LogRecord> warnings = new ArrayList<>();
        synchronized (RECORDS) {
            for (LogRecord r : RECORDS) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(r);
                }
            }
        }
        assertEquals(1, warnings.size(), "the fallback must be logged exactly once");
        String msg = warnings.get(0).getMessage();
        assertTrue(msg.contains("pure-Java engine") && msg.contains("jnijavacpp") && msg.contains("linux-arm64")
                && msg.contains("java.library.path"), msg);
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, ConvEngines::blas);
        assertTrue(e.getMessage().contains("JavaCPP's native library (jnijavacpp) did not load for platform linux-arm64")
                && e.getMessage().contains("UnsatisfiedLinkError"), e.getMessage());
    }

    @Test
    void tensorsLiveInDirectBuffersAndTheJavaEnginesStayCorrect() {
        requireTheSetUp();
        assertNotNull(NativeLibrary.javacppFailure());
        Conv2dParams p = Conv2dParams.builder().stride(2, 1).padding(1, 2, 0, 1).dilation(1, 2).groups(2).build();
        Random r = new Random(31);
        try (Tensor x = TestData.random(r, 1, 2, 4, 9, 8); Tensor w = TestData.random(r, 1, 6, 2, 3, 3);
             Tensor b = TestData.random(r, 1, 6); Tensor gy = TestData.random(r, 1, p.outputShape(x.shape(), w.shape()))) {
            assertThrows(UnsupportedOperationException.class, x::pointer);
            assertTrue(x.buffer().isDirect());
            ConvEngine naive = ConvEngines.naive();
            for (ConvEngine e : List.of(ConvEngines.fastest(), ConvEngines.java(1), ConvEngines.java(3))) {
                try (Tensor y = e.forward(p, x, w, b); Tensor yRef = naive.forward(p, x, w, b);
                     Tensor gx = e.backwardData(p, gy, w, x.shape()); Tensor gxRef = naive.backwardData(p, gy, w, x.shape());
                     Tensor gw = e.backwardWeights(p, x, gy, w.shape()); Tensor gwRef = naive.backwardWeights(p, x, gy, w.shape())) {
                    assertTrue(TestData.relErr(y.toArray(), yRef.toArray()) < 1e-5);
                    assertTrue(TestData.relErr(gx.toArray(), gxRef.toArray()) < 1e-5);
                    assertTrue(TestData.relErr(gw.toArray(), gwRef.toArray()) < 1e-5);
                }
            }
        }
        // the safety rules hold without JavaCPP: overlapping views, closed and in-use tensors
        FloatBuffer shared = ByteBuffer.allocateDirect(4 * 40).order(ByteOrder.nativeOrder()).asFloatBuffer();
        try (Tensor in = Tensor.wrap(shared.position(0), 1, 1, 4, 4); Tensor out = Tensor.wrap(shared.position(10), 1, 1, 4, 4);
             Tensor w1 = Tensor.of(new float[] {1}, 1, 1, 1, 1)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ConvEngines.fastest().forward(Conv2dParams.DEFAULT, in, w1, null, out));
            assertTrue(e.getMessage().contains("share memory"), e.getMessage());
            in.acquire();
            assertThrows(IllegalStateException.class, in::close);
            in.release();
        }
        Tensor t = Tensor.of(new float[] {1, 2}, 2);
        t.close();
        assertThrows(IllegalStateException.class, t::toArray);
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, Tensor.MAX_BUFFER_ELEMENTS));
        assertTrue(big.getMessage().contains("direct buffer"), big.getMessage());
    }

    /**
     * Direct-buffer memory is released by close() at once on Java 22 and later (foreign memory arenas), and
     * by the garbage collector when nobody closes it. On Java 17 to 21 the garbage collector frees closed
     * tensors' memory too: Java cannot free a direct buffer earlier without {@code sun.misc.Unsafe}.
     */
    @Test
    void directBufferTensorsAreFreedOnCloseAndWhenForgotten() throws InterruptedException {
        requireTheSetUp();
        if (dev.conv4j.internal.DirectMemory.freedBuffersThrow()) { // the foreign memory API (the jar's Java 22 classes)
            // foreign-memory arenas, which the direct buffer pool does not count: a freed arena makes its
            // buffers throw, which shows that it was freed
            Tensor closed = Tensor.zeros(1 << 20);
            FloatBuffer b = closed.buffer();
            closed.close();
            assertThrows(IllegalStateException.class, () -> b.get(0), "close() did not free the arena");
            FloatBuffer orphan = Tensor.zeros(1 << 20).buffer(); // the tensor is never closed
            boolean freed = false;
            for (int i = 0; i < 200 && !freed; i++) {
                System.gc();
                Thread.sleep(20);
                try {
                    orphan.get(0);
                } catch (IllegalStateException e) {
                    freed = true;
                }
            }
            assertTrue(freed, "an unclosed tensor's arena was not freed after it became unreachable");
            return;
        }
        BufferPoolMXBean direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).findFirst().orElseThrow();
        long before = Long.MAX_VALUE;
        for (int i = 0; i < 10; i++) { // the garbage of the tests before goes first, so that only this test's counts
            System.gc();
            Thread.sleep(20);
            before = Math.min(before, direct.getMemoryUsed());
        }
        for (int i = 0; i < 200; i++) {
            try (Tensor t = Tensor.zeros(1 << 20)) {
                t.fill(i);
                assertTrue(direct.getMemoryUsed() >= before + (3 << 20)); // 4 MB, less any garbage freed meanwhile
            }
        }
        List<Tensor> forgotten = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            forgotten.add(Tensor.zeros(1 << 20)); // never closed
        }
        assertTrue(direct.getMemoryUsed() >= before + (100 << 20)); // other tests' garbage may have been freed meanwhile
        forgotten.clear();
        for (int i = 0; i < 100 && direct.getMemoryUsed() > before; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertTrue(direct.getMemoryUsed() <= before, "closed and unclosed direct-buffer tensors were not freed after they became unreachable");
        try (Tensor t = Tensor.of(new float[] {3, 4}, 2)) {
            assertArrayEquals(new float[] {3, 4}, t.toArray());
        }
    }

    @Test
    void infoNamesEveryMissingPieceAndTheEnvironment() {
        requireTheSetUp();
        // what the CLI's info prints: the engines' state and the diagnosis
        String out = "blas:  unavailable: " + ConvEngines.nativeFailure() + "\nfastest(): " + ConvEngines.fastest().name()
                + "\n" + ConvEngines.nativeDiagnosis();
        for (String expected : new String[] {
            "blas:  unavailable: IllegalStateException: JavaCPP's native library (jnijavacpp) did not load for platform linux-arm64",
            "fastest(): java",
            "caused by: java.lang.UnsatisfiedLinkError:",
            "-Dorg.bytedeco.javacpp.platform: linux-arm64",
            "javacpp platform: linux-arm64",
            "bundled for linux-arm64 on the class path: JavaCPP MISSING, OpenBLAS MISSING, conv4j MISSING",
            "tensor memory: Java direct buffers",
            "os.arch " + System.getProperty("os.arch"),
            "java.library.path: " + System.getProperty("java.library.path"),
            "javacpp cache: ",
        }) {
            assertTrue(out.contains(expected), "the diagnosis does not say '" + expected + "':\n" + out);
        }
    }
}
