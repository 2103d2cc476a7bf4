package dev.conv4j.hardening;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.lang.management.ManagementFactory;
import java.nio.FloatBuffer;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What a call promises besides its result: the buffers a tensor hands out carry no state into calls,
 * a rejected argument gets an {@link IllegalArgumentException} that says what is wrong (not a
 * {@code NegativeArraySizeException} or {@code NullPointerException}), and a call in steady state
 * allocates nothing on the heap.
 */
class CallContractTest {
    private static final Conv2dParams P = Conv2dParams.builder().padding(1).build();

    static Stream<ConvEngine> engines() {
        return Engines.allStream();
    }

    /** y.buffer().position(0).limit(2048) on a 4096-element output changes nothing for a call. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void buffersHandedOutCarryNoStateIntoCalls(ConvEngine engine) {
        Random r = new Random(1);
        try (Tensor x = TestData.random(r, 1, 1, 4, 32, 32); Tensor w = TestData.random(r, 1, 4, 4, 3, 3);
             Tensor y = Tensor.zeros(1, 4, 32, 32); Tensor ref = ConvEngines.naive().forward(P, x, w, null)) {
            FloatBuffer yb = y.buffer(), xb = x.buffer(), wb = w.buffer();
            yb.position(0).limit(2048);
            xb.position(100).limit(101);
            wb.limit(0);
            engine.forward(P, x, w, null, y);
            assertTrue(TestData.relErr(y.toArray(), ref.toArray()) < 1e-4);
            assertEquals(2048, yb.limit(), "a call moved the caller's buffer");
            try (Tensor gx = engine.backwardData(P, y, w, x.shape()); Tensor gw = engine.backwardWeights(P, x, y, w.shape());
                 Tensor gb = engine.backwardBias(y)) {
                assertEquals(4, gb.size());
            }
        }
    }

    @Test
    void bufferReturnsANewBufferEachTime() {
        try (Tensor t = Tensor.of(new float[] {1, 2, 3}, 3)) {
            FloatBuffer a = t.buffer(), b = t.buffer();
            assertNotSame(a, b);
            a.position(2);
            assertEquals(0, b.position());
            a.put(0, 9f);
            assertEquals(9f, b.get(0), "both are views of the tensor's memory");
            assertArrayEquals(new float[] {9, 2, 3}, t.toArray());
        }
    }

    @Test
    void absurdThreadCountsAndNamesAreRejectedClearly() {
        for (int threads : new int[] {0, -1, ConvEngines.MAX_THREADS + 1, 134_217_729, Integer.MAX_VALUE}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConvEngines.java(threads));
            assertTrue(e.getMessage().contains("threads"), e.getMessage());
            if (ConvEngines.isNativeAvailable()) {
                assertThrows(IllegalArgumentException.class, () -> ConvEngines.blas(threads));
            }
            assertThrows(IllegalArgumentException.class, () -> ConvEngines.byName("java", threads));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConvEngines.byName(null, 1));
        assertTrue(e.getMessage().contains("name"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ConvEngines.byName("cuda", 1));
    }

    /** A depthwise layer never builds a column matrix, so a huge one is not refused for the size of one. */
    @Test
    void depthwiseLayersAreNotRefusedForAColumnMatrixTheyNeverBuild() {
        int[] xs = {1, 2, 16_000, 16_000}, ws = {2, 1, 3, 3}; // 9 * 16000^2 > 2^31 column elements
        ConvGeometry g = ConvGeometry.of(Conv2dParams.builder().groups(2).padding(1).build(), xs, ws);
        assertTrue(g.isDepthwise());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConvGeometry.of(Conv2dParams.builder().padding(1).build(), new int[] {1, 2, 16_000, 16_000}, new int[] {2, 2, 3, 3}));
        assertTrue(e.getMessage().contains("column matrix"), e.getMessage());
    }

    /**
     * Calls of every engine but the reference allocate nothing on the heap once warm, with one thread
     * and with two (measured on the calling thread; helpers are pooled threads of the engine).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("fast")
    void warmCallsAllocateNothing(ConvEngine engine) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random r = new Random(2);
        try (Tensor x = TestData.random(r, 1, 2, 8, 12, 12); Tensor w = TestData.random(r, 1, 8, 8, 3, 3);
             Tensor b = TestData.random(r, 1, 8); Tensor y = Tensor.zeros(2, 8, 12, 12); Tensor gx = Tensor.zeros(2, 8, 12, 12);
             Tensor gw = Tensor.zeros(8, 8, 3, 3); Tensor gb = Tensor.zeros(8)) {
            Runnable calls = () -> {
                engine.forward(P, x, w, b, y);
                engine.backwardData(P, y, w, gx);
                engine.backwardWeights(P, x, y, gw, gb);
            };
            for (int i = 0; i < 2000; i++) {
                calls.run();
            }
            long tid = Thread.currentThread().getId(), least = Long.MAX_VALUE;
            for (int round = 0; round < 5; round++) {
                long before = mx.getThreadAllocatedBytes(tid);
                for (int i = 0; i < 1000; i++) {
                    calls.run();
                }
                least = Math.min(least, mx.getThreadAllocatedBytes(tid) - before);
            }
            assertTrue(least < 1000, Engines.label(engine) + " allocated " + least + " bytes in 1000 rounds of three calls");
        }
    }

    static Stream<ConvEngine> fast() {
        return Engines.fastStream();
    }
}
