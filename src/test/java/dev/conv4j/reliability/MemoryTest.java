package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.lang.management.ManagementFactory;
import java.util.Random;
import java.util.function.LongSupplier;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * Off-heap and heap memory return to their starting level: after many calls with fresh or reused
 * tensors, and after tensors nobody closed (the garbage collector's safety net). (That workspaces
 * follow the calls in flight rather than the threads that ever called is
 * {@code hardening.ThreadModelTest}.) Figures are printed for the record.
 */
class MemoryTest {
    private static final int CALLS = 100_000;
    private static final Conv2dParams P = Conv2dParams.builder().padding(1).build();
    private static final int[] XS = {1, 2, 6, 6}, WS = {3, 2, 3, 3};
    /** Off-heap bytes allowed to remain: less than one leaked 144-byte tensor per 100 calls. */
    private static final long OFF_HEAP_SLACK = 128 << 10;
    private static final long HEAP_SLACK = 8 << 20;
    /**
     * Resident memory includes the pages of the Java heap that G1 has touched, which move by a hundred MB
     * between collections whatever the program does; it is bounded loosely, the exact off-heap figure is
     * {@link Pointer#totalBytes()}.
     */
    private static final long RSS_SLACK = 256 << 20;

    private static ConvEngine engine() {
        return ConvEngines.isNativeAvailable() ? ConvEngines.blas(1) : ConvEngines.java(1);
    }

    @Test
    void manyCallsWithFreshAndWithReusedTensorsLeaveMemoryWhereItWas() {
        ConvEngine e = engine();
        Random r = new Random(21);
        float[] x = TestData.uniform(r, 72, 1), w = TestData.uniform(r, 54, 1), b = TestData.uniform(r, 3, 1);
        float expected;
        try (Tensor tx = Tensor.of(x, XS); Tensor tw = Tensor.of(w, WS); Tensor tb = Tensor.of(b, 3); Tensor y = e.forward(P, tx, tw, tb)) {
            expected = y.toArray()[7];
        }
        fresh(e, x, w, b, expected, CALLS / 10); // JIT, heap sizing and this thread's workspace settle before the baseline
        reused(e, x, w, b, expected, CALLS / 10);
        Snapshot before = Snapshot.take();
        long t0 = System.nanoTime();
        long peakFresh = fresh(e, x, w, b, expected, CALLS) - before.offHeap;
        double freshSeconds = (System.nanoTime() - t0) / 1e9;
        Snapshot afterFresh = Snapshot.take();
        t0 = System.nanoTime();
        long peakReused = reused(e, x, w, b, expected, CALLS) - afterFresh.offHeap;
        double reusedSeconds = (System.nanoTime() - t0) / 1e9;
        Snapshot afterReused = Snapshot.take();
        System.out.printf("memory: %s, %d forward calls with fresh tensors (%.1f s, off-heap at most +%d bytes without GC)"
                        + " and %d with reused tensors (%.1f s, at most +%d bytes)%n"
                        + "  before       %s%n  after fresh  %s%n  after reused %s%n",
                e.name(), CALLS, freshSeconds, peakFresh, CALLS, reusedSeconds, peakReused, before, afterFresh, afterReused);
        // close() frees at once: without any garbage collection, off-heap memory never climbs
        assertTrue(peakFresh <= OFF_HEAP_SLACK, "off-heap memory climbed by " + peakFresh + " bytes during the calls: close() did not free");
        assertTrue(peakReused <= OFF_HEAP_SLACK, "off-heap memory climbed by " + peakReused + " bytes during the calls");
        before.assertNotExceededBy(afterFresh, "after " + CALLS + " calls with fresh tensors");
        before.assertNotExceededBy(afterReused, "after " + CALLS + " calls with reused tensors");
    }

    /** Calls with tensors created and closed each time; returns the highest off-heap total seen. */
    private static long fresh(ConvEngine e, float[] x, float[] w, float[] b, float expected, int calls) {
        long peak = 0;
        for (int i = 0; i < calls; i++) {
            try (Tensor tx = Tensor.of(x, XS); Tensor tw = Tensor.of(w, WS); Tensor tb = Tensor.of(b, 3);
                 Tensor y = e.forward(P, tx, tw, tb)) {
                if (i % 500 == 0) {
                    assertEquals(expected, y.toArray()[7]);
                    peak = Math.max(peak, Pointer.totalBytes());
                }
            }
        }
        return Math.max(peak, Pointer.totalBytes());
    }

    /** Calls on the same tensors; returns the highest off-heap total seen. */
    private static long reused(ConvEngine e, float[] x, float[] w, float[] b, float expected, int calls) {
        long peak = 0;
        try (Tensor tx = Tensor.of(x, XS); Tensor tw = Tensor.of(w, WS); Tensor tb = Tensor.of(b, 3);
             Tensor y = Tensor.zeros(P.outputShape(XS, WS))) {
            for (int i = 0; i < calls; i++) {
                e.forward(P, tx, tw, tb, y);
                if (i % 500 == 0) {
                    peak = Math.max(peak, Pointer.totalBytes());
                }
            }
            assertEquals(expected, y.toArray()[7]);
        }
        return peak;
    }

    /** Tensors that are never closed are freed once unreachable: JavaCPP's deallocator is the safety net. */
    @Test
    void tensorsNobodyClosedAreFreedByTheGarbageCollector() {
        ConvEngine e = engine();
        Random r = new Random(22);
        float[] x = TestData.uniform(r, 72, 1), w = TestData.uniform(r, 54, 1);
        e.forward(P, Tensor.of(x, XS), Tensor.of(w, WS), null);
        Snapshot before = Snapshot.take();
        long peak = 0;
        for (int i = 0; i < 20_000; i++) {
            Tensor y = e.forward(P, Tensor.of(x, XS), Tensor.of(w, WS), Tensor.zeros(3)); // none closed
            if (i % 1000 == 0) {
                peak = Math.max(peak, Pointer.totalBytes());
                y.size();
            }
        }
        Snapshot after = Snapshot.take();
        System.out.printf("memory: 20000 forward calls leaving 4 tensors each unclosed: off-heap peak %s, then after GC %s (before %s)%n",
                mb(peak), mb(after.offHeap), mb(before.offHeap));
        before.assertNotExceededBy(after, "after 80000 tensors were left for the garbage collector");
    }

    /** Off-heap (JavaCPP), resident and heap memory, each measured after garbage collection has settled. */
    private static final class Snapshot {
        final long offHeap, physical, heap;

        private Snapshot(long offHeap, long physical, long heap) {
            this.offHeap = offHeap;
            this.physical = physical;
            this.heap = heap;
        }

        static Snapshot take() {
            long off = settle(Pointer::totalBytes);
            long heap = settle(MemoryTest::heapUsed);
            long phys = physical();
            return new Snapshot(off, phys, heap);
        }

        void assertNotExceededBy(Snapshot later, String when) {
            assertTrue(later.offHeap <= offHeap + OFF_HEAP_SLACK, "off-heap memory grew from " + mb(offHeap) + " to "
                    + mb(later.offHeap) + " " + when);
            assertTrue(later.heap <= heap + HEAP_SLACK, "heap after GC grew from " + mb(heap) + " to " + mb(later.heap) + " " + when);
            if (physical > 0 && later.physical > 0) {
                assertTrue(later.physical <= physical + RSS_SLACK, "resident memory grew from " + mb(physical) + " to "
                        + mb(later.physical) + " " + when);
            }
        }

        @Override
        public String toString() {
            return "off-heap (Pointer.totalBytes) " + offHeap + " bytes, resident (Pointer.physicalBytes) " + mb(physical)
                    + ", heap used after GC " + mb(heap);
        }
    }

    private static long physical() {
        try {
            return Pointer.physicalBytes();
        } catch (Throwable t) {
            return 0; // JavaCPP's native library is unavailable
        }
    }

    static long heapUsed() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /**
     * Collects garbage (which hands unreachable native memory to JavaCPP's deallocator thread) until the
     * value stops falling, for at most 20 s, and returns it.
     */
    static long settle(LongSupplier value) {
        long deadline = System.nanoTime() + 20_000_000_000L, last = Long.MAX_VALUE;
        int stable = 0;
        while (System.nanoTime() < deadline && stable < 3) {
            System.gc();
            try {
                Thread.sleep(30);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            long v = value.getAsLong();
            stable = v >= last ? stable + 1 : 0;
            last = Math.min(last, v);
        }
        return value.getAsLong();
    }

    static String mb(long bytes) {
        return String.format("%.2f MB", bytes / 1048576.0);
    }
}
