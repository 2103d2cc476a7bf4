package dev.conv4j.internal.nativeblas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The parameter blocks of the native calls: their layout, their pool, and that calls never share one. */
class NativeParamsTest {

    @Test
    void theLoadedLibraryHasTheLayoutJavaWrites() {
        assertTrue(NativeLibrary.isAvailable(), () -> NativeLibrary.describe(NativeLibrary.failure()));
        NativeParams.checkLayout();
        int[] sizes = new int[NativeParams.SIZES.length];
        for (int f = 0; f < sizes.length; f++) {
            sizes[f] = ConvNative.conv4j_params_size(f);
        }
        assertArrayEquals(NativeParams.SIZES, sizes);
        assertEquals(0, ConvNative.conv4j_params_size(NativeParams.SIZES.length), "no such family");
    }

    @Test
    void theShapeLandsAtItsOffsets() {
        try (NativeParams p = NativeParams.take()) {
            p.shape(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16).offsets(1L << 40, 2, 3, 4).band(17, 18, 19, true, false, 1f);
            int[] at = {NativeParams.N, NativeParams.C, NativeParams.H, NativeParams.W, NativeParams.O, NativeParams.KH,
                NativeParams.KW, NativeParams.OH, NativeParams.OW, NativeParams.SH, NativeParams.SW, NativeParams.PT,
                NativeParams.PL, NativeParams.DH, NativeParams.DW, NativeParams.MULT};
            for (int i = 0; i < at.length; i++) {
                assertEquals(i + 1, p.intAt(at[i]));
            }
            assertEquals(0, p.intAt(NativeParams.OFF), "the low half of the first offset (little-endian)");
            assertEquals(1 << 8, p.intAt(NativeParams.OFF + 4));
            assertEquals(17, p.intAt(NativeParams.BAND_CN));
            assertEquals(1, p.intAt(NativeParams.BAND_POINTWISE));
            assertEquals(Float.floatToIntBits(1f), p.intAt(NativeParams.BAND_BETA));
        }
    }

    @Test
    void aThreadGetsBackTheBlockItGaveBackWithoutAllocating() {
        NativeParams first;
        try (NativeParams p = NativeParams.take()) {
            first = p;
        }
        try (NativeParams p = NativeParams.take()) {
            assertSame(first, p);
        }
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId(), least = Long.MAX_VALUE;
        for (int round = 0; round < 5; round++) {
            long before = mx.getThreadAllocatedBytes(tid);
            for (int i = 0; i < 10_000; i++) {
                try (NativeParams p = NativeParams.take()) {
                    p.channels(i, 1, false);
                }
            }
            least = Math.min(least, mx.getThreadAllocatedBytes(tid) - before);
        }
        assertTrue(least < 1000, "10,000 blocks taken and given back allocated " + least + " bytes");
    }

    @Test
    void blocksHeldAtOnceAreDistinctAndKeepWhatTheirCallWrote() throws Exception {
        try (NativeParams a = NativeParams.take(); NativeParams b = NativeParams.take()) {
            assertNotSame(a, b);
        }
        int threads = 16, rounds = 20_000;
        CountDownLatch start = new CountDownLatch(1);
        AtomicReference<String> trouble = new AtomicReference<>();
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    for (int r = 0; r < rounds && trouble.get() == null; r++) {
                        try (NativeParams p = NativeParams.take()) {
                            p.channels(id, r, false);
                            Thread.yield();
                            if (p.intAt(NativeParams.FIRST) != id || p.intAt(NativeParams.COUNT) != r) {
                                trouble.set("thread " + id + " found another call's values in its block");
                            }
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            th.start();
            all.add(th);
        }
        start.countDown();
        for (Thread th : all) {
            th.join();
        }
        assertEquals(null, trouble.get());
    }
}
