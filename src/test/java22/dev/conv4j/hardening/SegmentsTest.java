package dev.conv4j.hardening;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Segments;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import dev.conv4j.internal.DirectMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link Segments#wrap}, the Java 22 API of the multi-release jar, and the foreign memory API behind
 * tensors on Java 22 and later. Compiled for Java 22 (src/test/java22) and run on Java 25 against the
 * jar itself, with JavaCPP and without it (the direct-buffer fallback, with {@code sun.misc.Unsafe}
 * denied), by the {@code jdk25} profile.
 */
class SegmentsTest {
    private static final Conv2dParams P = Conv2dParams.builder().padding(1).build();

    private static List<ConvEngine> engines() {
        List<ConvEngine> e = new ArrayList<>(List.of(ConvEngines.java(1), ConvEngines.java(2)));
        if (ConvEngines.isNativeAvailable()) {
            e.add(ConvEngines.blas(1));
            e.add(ConvEngines.blas(2));
        }
        return e;
    }

    @Test
    void theJarsJava22ClassesAreTheOnesInUse() {
        String where = Tensor.class.getProtectionDomain().getCodeSource().getLocation().getPath();
        assertTrue(where.endsWith(".jar"), "these tests must run on the multi-release jar, not on " + where);
        assertTrue(DirectMemory.knowsAddresses(), "Java " + Runtime.version().feature()
                + " did not pick the foreign memory API from META-INF/versions/22 of " + where);
    }

    /** Zero-copy both ways, and every engine computes on segments as on copies, into a segment too. */
    @Test
    void aViewSharesTheSegmentsMemoryAndComputesLikeACopy() {
        Random r = new Random(3);
        float[] xs = TestData.uniform(r, 2 * 3 * 8 * 8, 1);
        try (Arena arena = Arena.ofShared(); Tensor w = TestData.random(r, 1, 4, 3, 3, 3); Tensor b = TestData.random(r, 1, 4)) {
            MemorySegment in = arena.allocate(4L * xs.length, 64);
            MemorySegment.copy(xs, 0, in, JAVA_FLOAT, 0, xs.length);
            Tensor x = Segments.wrap(in, 2, 3, 8, 8);
            assertArrayEquals(xs, x.toArray());
            in.setAtIndex(JAVA_FLOAT, 5, 42f);
            assertEquals(42f, x.toArray()[5]);
            in.setAtIndex(JAVA_FLOAT, 5, xs[5]);
            try (Tensor copy = Tensor.of(xs, 2, 3, 8, 8); Tensor want = ConvEngines.naive().forward(P, copy, w, b)) {
                MemorySegment out = arena.allocate(4L * 2 * 4 * 8 * 8, 64);
                Tensor y = Segments.wrap(out, 2, 4, 8, 8);
                for (ConvEngine e : engines()) {
                    try (Tensor got = e.forward(P, x, w, b)) {
                        assertTrue(TestData.relErr(got.toArray(), want.toArray()) < 1e-5, e.name());
                    }
                    y.fill(Float.NaN);
                    e.forward(P, x, w, b, y);
                    assertTrue(TestData.relErr(out.toArray(JAVA_FLOAT), want.toArray()) < 1e-5, e.name());
                }
                y.copyFrom(new float[2 * 4 * 8 * 8]);
                assertEquals(0f, out.getAtIndex(JAVA_FLOAT, 17));
            }
            x.close(); // a view: frees nothing
            assertEquals(xs[3], in.getAtIndex(JAVA_FLOAT, 3));
        }
    }

    /** Once the arena is closed, every view, buffer and engine call refuses; nothing reads freed memory. */
    @Test
    void aClosedArenaMakesEveryViewThrowInsteadOfReadingFreedMemory() {
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(4L * 64, 64);
        Tensor x = Segments.wrap(seg, 1, 1, 8, 8);
        Tensor part = x.view(8, 16);
        Tensor reshaped = x.reshape(64);
        FloatBuffer buffer = x.buffer();
        Tensor ofBuffer = Tensor.wrap(seg.asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer(), 64);
        try (Tensor w = Tensor.of(new float[9], 1, 1, 3, 3); Tensor out = Tensor.zeros(1, 1, 8, 8)) {
            for (ConvEngine e : engines()) {
                e.forward(P, x, w, null, out);
            }
            arena.close();
            for (Tensor t : new Tensor[] {x, part, reshaped, ofBuffer}) {
                IllegalStateException ex = assertThrows(IllegalStateException.class, t::toArray);
                assertTrue(ex.getMessage().contains("arena was closed"), ex.getMessage());
                assertThrows(IllegalStateException.class, t::acquire);
                assertThrows(IllegalStateException.class, () -> t.view(0, 4));
            }
            for (ConvEngine e : engines()) {
                assertThrows(IllegalStateException.class, () -> e.forward(P, x, w, null, out), e.name());
                assertThrows(IllegalStateException.class, () -> e.forward(P, x, w, null), e.name());
                assertThrows(IllegalStateException.class, () -> e.forward(P, out, w, null, x), e.name());
            }
            assertThrows(IllegalStateException.class, () -> buffer.get(0), "the JDK's own check");
            IllegalStateException again = assertThrows(IllegalStateException.class, () -> Segments.wrap(seg, 64));
            assertTrue(again.getMessage().contains("arena was closed"), again.getMessage());
            assertThrows(IllegalStateException.class, () -> Tensor.wrap(buffer, 64));
            x.close(); // detaching a view of freed memory is allowed
            assertTrue(x.isClosed());
        }
    }

    private static void refused(String expected, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    @Test
    void segmentsTheEnginesCannotUseAreRefusedWithTheReason() {
        try (Arena confined = Arena.ofConfined(); Arena shared = Arena.ofShared()) {
            refused("confined arena", () -> Segments.wrap(confined.allocate(256, 64), 64));
            refused("confined arena", () -> Tensor.wrap(confined.allocate(256, 64).asByteBuffer()
                    .order(ByteOrder.nativeOrder()).asFloatBuffer(), 64));
            refused("Java heap", () -> Segments.wrap(MemorySegment.ofArray(new float[64]), 64));
            refused("read-only", () -> Segments.wrap(shared.allocate(256, 64).asReadOnly(), 64));
            refused("not a multiple of 4", () -> Segments.wrap(shared.allocate(260, 64).asSlice(2), 64));
            refused("needs 256", () -> Segments.wrap(shared.allocate(252, 64), 64));
            MemorySegment seg = shared.allocate(256, 64);
            refused("must be at least 1", () -> Segments.wrap(seg, 0, 4));
            refused("shape must not be null", () -> Segments.wrap(seg, (int[]) null));
            refused("a view of a memory segment holds", () -> Segments.wrap(seg, 1 << 20, 1 << 10));
            refused("must not be null", () -> Segments.wrap(null, 4));
            try (Tensor whole = Segments.wrap(seg, 64); Tensor scalar = Segments.wrap(seg)) {
                assertEquals(64, whole.size());
                assertEquals(1, scalar.size());
            }
        }
    }

    /** A view keeps an automatic arena's memory from the garbage collector. */
    @Test
    void anAutomaticArenasMemoryLivesAsLongAsTheView() throws InterruptedException {
        Tensor x = Segments.wrap(Arena.ofAuto().allocate(4L * 4096, 64), 4096); // nothing else holds the segment
        x.fill(7f);
        for (int i = 0; i < 10; i++) {
            System.gc();
            Thread.sleep(10);
            byte[] garbage = new byte[1 << 20];
            assertEquals(0, garbage[i]);
        }
        for (float v : x.toArray()) {
            assertEquals(7f, v);
        }
    }

    /** Real addresses: overlapping segments are known to overlap, in-place calls are refused. */
    @Test
    void overlappingSegmentsAreKnownAndInPlaceCallsRefused() {
        try (Arena arena = Arena.ofShared(); Tensor w = Tensor.of(new float[9], 1, 1, 3, 3)) {
            MemorySegment seg = arena.allocate(4L * 2 * 64, 64);
            Tensor x = Segments.wrap(seg, 1, 1, 8, 8);
            Tensor y = Segments.wrap(seg.asSlice(4 * 32), 1, 1, 8, 8);
            Tensor apart = Segments.wrap(seg.asSlice(4 * 64), 1, 1, 8, 8);
            Tensor sameMemory = Tensor.wrap(seg.asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer(), 1, 1, 8, 8);
            assertTrue(x.overlaps(y) && y.overlaps(x) && x.overlaps(sameMemory) && !x.overlaps(apart) && apart.overlaps(y));
            for (ConvEngine e : engines()) {
                refused("share memory", () -> e.forward(P, x, w, null, y));
                refused("share memory", () -> e.forward(P, sameMemory, w, null, x));
                e.forward(P, x, w, null, apart);
            }
        }
    }

    /** A segment over a tensor's memory gives a view of that tensor, refused once the tensor is closed. */
    @Test
    void aSegmentOfATensorsMemoryIsAViewOfThatTensor() {
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 4);
        MemorySegment s = MemorySegment.ofBuffer(t.buffer());
        Tensor v = Segments.wrap(s.asSlice(8), 2);
        assertArrayEquals(new float[] {3, 4}, v.toArray());
        assertTrue(v.overlaps(t));
        t.close();
        assertThrows(IllegalStateException.class, v::toArray);
        assertThrows(IllegalStateException.class, () -> Segments.wrap(s, 4));
        assertArrayEquals(new float[] {5, 6}, Tensor.of(new float[] {5, 6}, 2).toArray());
    }

    /** Tensors of conv4j's own memory are compared by real addresses too, with and without JavaCPP. */
    @Test
    void ownedTensorsAndTheirBuffersAreComparedExactly() {
        try (Tensor a = Tensor.zeros(64); Tensor c = Tensor.zeros(64)) {
            Tensor fromDuplicate = Tensor.wrap(a.buffer().duplicate().position(16).slice(), 8);
            assertTrue(fromDuplicate.overlaps(a) && !fromDuplicate.overlaps(c));
            assertFalse(a.overlaps(c));
        }
    }
}
