package dev.conv4j.hardening;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import dev.conv4j.internal.DirectMemory;
import dev.conv4j.internal.nativeblas.NativeLibrary;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The tensors of a JVM where JavaCPP cannot load (Java direct buffers, the pure-Java engine): the
 * overlap check, views and release work without {@code sun.misc.Unsafe}, which conv4j never uses. Runs
 * in the wrong-platform JVM on Java 17, and in the {@code jdk25} profile on Java 25 (on the
 * multi-release jar) with {@code --sun-misc-unsafe-memory-access=deny}, where the foreign memory API
 * gives real addresses. On Java 17 to 21 a buffer's address cannot be known: views of one buffer
 * object, and conv4j's own memory and the buffers it hands out, are compared exactly, and a duplicate
 * made outside conv4j counts as memory of its own (see {@code Tensor.wrap(FloatBuffer, int...)}).
 */
class DirectBufferFallbackTest {
    private static final Conv2dParams P = Conv2dParams.builder().padding(1).build();

    @BeforeAll
    static void onlyWhereJavacppIsUnavailable() {
        assumeTrue(NativeLibrary.javacppFailure() != null, "runs where JavaCPP's native library cannot load");
    }

    /** Two views of one buffer overlap, so an in-place forward is refused instead of computing garbage. */
    @Test
    void viewsOfOneBufferOverlapAndAnInPlaceCallIsRefused() {
        FloatBuffer b = ByteBuffer.allocateDirect(4 * 2 * 64).order(ByteOrder.nativeOrder()).asFloatBuffer();
        Tensor x = Tensor.wrap(b, 1, 1, 8, 8), y = Tensor.wrap(b.position(32), 1, 1, 8, 8);
        Tensor same = Tensor.wrap(b.position(0), 1, 1, 8, 8);
        try (x; y; same; Tensor w = Tensor.of(new float[9], 1, 1, 3, 3)) {
            assertTrue(x.overlaps(y) && y.overlaps(x) && x.overlaps(same));
            for (ConvEngine e : new ConvEngine[] {ConvEngines.java(1), ConvEngines.java(2), ConvEngines.naive()}) {
                IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> e.forward(P, x, w, null, y));
                assertTrue(ex.getMessage().contains("share memory"), ex.getMessage());
                assertThrows(IllegalArgumentException.class, () -> e.forward(P, same, w, null, x));
            }
            Tensor apart = Tensor.wrap(b.position(64), 1, 1, 8, 8);
            try (apart) {
                assertFalse(apart.overlaps(x));
            }
            Tensor dy = Tensor.wrap(b.duplicate().position(32), 1, 1, 8, 8), dApart = Tensor.wrap(b.duplicate().position(64), 1, 1, 8, 8);
            if (DirectMemory.knowsAddresses()) {
                // the foreign memory API: duplicates and slices are known for what they are
                assertTrue(dy.overlaps(x) && dy.overlaps(y) && !dApart.overlaps(x) && dApart.overlaps(dy));
                assertThrows(IllegalArgumentException.class, () -> ConvEngines.java(1).forward(P, x, w, null, dy));
            } else {
                assertFalse(dy.overlaps(x) || dy.overlaps(y), "Java 17 to 21: a duplicate is memory of its own");
            }
        }
        try (Tensor a = Tensor.zeros(64); Tensor c = Tensor.zeros(64)) {
            assertFalse(a.overlaps(c));
            try (Tensor v = a.view(10, 4); Tensor fromBuffer = Tensor.wrap(a.buffer().position(10), 4)) {
                assertTrue(v.overlaps(a) && !v.overlaps(c) && fromBuffer.overlaps(v) && !fromBuffer.overlaps(c));
            }
        }
    }

    @Test
    void callsOnViewsAndReshapesAreCorrect() {
        Random r = new Random(1);
        float[] data = TestData.uniform(r, 2 * 3 * 8 * 8, 1);
        try (Tensor flat = Tensor.of(data, data.length); Tensor x = flat.reshape(2, 3, 8, 8); Tensor w = TestData.random(r, 1, 4, 3, 3, 3);
             Tensor ref = ConvEngines.naive().forward(P, Tensor.of(data, 2, 3, 8, 8), w, null);
             Tensor y = ConvEngines.java(2).forward(P, x, w, null)) {
            assertTrue(TestData.relErr(y.toArray(), ref.toArray()) < 1e-5);
            try (Tensor second = Tensor.wrap(flat.buffer().position(3 * 64), 1, 3, 8, 8); Tensor y1 = ConvEngines.java(1).forward(P, second, w, null)) {
                float[] want = new float[4 * 64];
                System.arraycopy(ref.toArray(), 4 * 64, want, 0, want.length);
                assertTrue(TestData.relErr(y1.toArray(), want) < 1e-5);
                flat.close();
                assertThrows(IllegalStateException.class, () -> ConvEngines.java(1).forward(P, second, w, null, y1));
            }
        }
    }

    /** Closing frees the memory; a buffer of it kept by the caller then throws (Java 22+) or keeps it (17 to 21), never crashes. */
    @Test
    void aClosedTensorsBuffersNeverReachFreedMemory() {
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 4);
        FloatBuffer stale = t.buffer();
        t.close();
        assertThrows(IllegalStateException.class, () -> Tensor.wrap(stale, 4));
        try {
            assertEquals(3f, stale.get(2), "Java 17 to 21: the buffer keeps the memory");
        } catch (IllegalStateException e) {
            assertTrue(dev.conv4j.internal.DirectMemory.freedBuffersThrow(), "only the foreign memory API makes a freed buffer throw");
        }
        assertArrayEquals(new float[] {5, 6}, Tensor.of(new float[] {5, 6}, 2).toArray());
    }
}
