package dev.conv4j.hardening;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Views of memory: what {@code Tensor.wrap} accepts of a JavaCPP pointer (its real extent in bytes,
 * whatever its class counts), views of freed memory and of closed tensors, and {@code reshape} and
 * {@code view}, which live with the tensor they view.
 */
class PointerViewTest {
    private static final Conv2dParams P = Conv2dParams.builder().padding(1).build();

    static Stream<ConvEngine> engines() {
        return Engines.allStream();
    }

    /** new FloatPointer(new BytePointer(400)) keeps 400 as its limit: 400 bytes, 100 floats. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void aPointerCastFromBytesIsMeasuredInBytes(ConvEngine engine) {
        try (BytePointer bytes = new BytePointer(400); Tensor w = Tensor.of(new float[] {1}, 1, 1, 1, 1)) {
            FloatPointer cast = new FloatPointer(bytes);
            assertEquals(400, cast.limit(), "JavaCPP keeps the byte count: the premise of this test");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(cast, 1, 1, 20, 20));
            assertTrue(e.getMessage().contains("400 bytes") && e.getMessage().contains("1600"), e.getMessage());
            // what does fit is accepted, and a forward into it stays inside it
            try (Tensor x = Tensor.of(TestData.uniform(new Random(1), 100, 1), 1, 1, 10, 10);
                 Tensor y = Tensor.wrap(cast, 1, 1, 10, 10)) {
                engine.forward(Conv2dParams.DEFAULT, x, w, null, y);
                assertArrayEquals(x.toArray(), y.toArray());
            }
        }
        for (Function<Long, Pointer> make : List.<Function<Long, Pointer>>of(ShortPointer::new, DoublePointer::new)) {
            Pointer other = make.apply(50L);
            FloatPointer cast = new FloatPointer(other);
            // the allocation's bytes bound the view, and so does the limit the pointer declares (50 elements)
            long floats = Math.min(50, other.capacity() * other.sizeof() / 4);
            try (Tensor fits = Tensor.wrap(cast, (int) floats)) {
                assertEquals(floats, fits.size());
            }
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(cast, (int) floats + 1));
            other.deallocate();
        }
    }

    @Test
    void positionsOutsideTheMemoryAreRefused() {
        try (FloatPointer p = new FloatPointer(100)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(p.position(-1), 10));
            assertTrue(e.getMessage().contains("position"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(p.position(95), 10));
            p.position(0).limit(0).capacity(0); // even with its extent forgotten, the allocation bounds it
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(p, 101));
            try (Tensor t = Tensor.wrap(p, 100)) {
                assertEquals(100, t.size());
            }
            p.capacity(1000); // a lie about the extent changes nothing
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(p, 101));
            FloatPointer beyond = p.getPointer(90);
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(beyond, 11));
            try (Tensor t = Tensor.wrap(beyond, 10)) {
                assertEquals(10, t.size());
            }
        }
    }

    /** Memory conv4j cannot bound is refused with the way to vouch for it: a direct buffer over it. */
    @Test
    void memoryWithoutAnAllocationBehindItIsRefusedWithAWayOut() {
        Pointer raw = Pointer.malloc(400);
        try {
            FloatPointer p = new FloatPointer(raw).capacity(100);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(p, 100));
            assertTrue(e.getMessage().contains("asBuffer"), e.getMessage());
            try (Tensor t = Tensor.wrap(p.asBuffer(), 100)) {
                t.fill(2f);
                assertEquals(2f, p.get(99));
            }
        } finally {
            Pointer.free(raw);
        }
    }

    /** Views of a pointer's memory made in all the usual ways, then the memory freed: each is refused. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void viewsOfFreedMemoryAreRefused(ConvEngine engine) {
        List<Function<FloatPointer, FloatPointer>> derive = List.of(
                p -> p, p -> p.getPointer(10), p -> new FloatPointer(p).position(5), p -> new FloatPointer(new BytePointer(p)));
        try (Tensor w = Tensor.zeros(1, 1, 1, 1); Tensor y = Tensor.zeros(1, 1, 4, 4)) {
            for (Function<FloatPointer, FloatPointer> d : derive) {
                FloatPointer mine = new FloatPointer(100);
                FloatPointer view = d.apply(mine);
                Tensor before = Tensor.wrap(view, 1, 1, 4, 4); // made while the memory lives
                mine.close();
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> engine.forward(Conv2dParams.DEFAULT, before, w, null, y));
                assertTrue(e.getMessage().contains("deallocated"), e.getMessage());
                assertThrows(IllegalStateException.class, before::toArray);
                assertThrows(RuntimeException.class, () -> Tensor.wrap(view, 1, 1, 4, 4), "a view of freed memory was accepted");
                before.close();
            }
        }
    }

    /** The pointers and buffers a tensor hands out, wrapped after it was closed: refused, never read. */
    @Test
    void viewsOfAClosedTensorsPointersAndBuffersAreRefused() {
        List<Function<Tensor, Object>> escape = List.of(
                Tensor::pointer, t -> t.pointer().getPointer(3), t -> new FloatPointer(t.pointer()).position(2),
                Tensor::buffer, t -> t.buffer().slice(), t -> t.buffer().duplicate(), t -> t.pointer().asBuffer(),
                t -> new FloatPointer(t.buffer()));
        for (Function<Tensor, Object> e : escape) {
            Tensor t = Tensor.of(new float[64], 64);
            Object handle = e.apply(t);
            try (Tensor view = wrap(handle, 8)) { // while t is open: a view of t
                view.fill(1f);
                assertEquals(8f, sum(t.toArray()), 0f);
                t.close();
                IllegalStateException ex = assertThrows(IllegalStateException.class, view::toArray);
                assertTrue(ex.getMessage().contains("closed"), ex.getMessage());
            }
            IllegalStateException ex = assertThrows(IllegalStateException.class, () -> wrap(handle, 8));
            assertTrue(ex.getMessage().contains("closed"), ex.getMessage());
        }
    }

    private static Tensor wrap(Object handle, int n) {
        return handle instanceof FloatPointer ? Tensor.wrap((FloatPointer) handle, n) : Tensor.wrap((FloatBuffer) handle, n);
    }

    private static float sum(float[] a) {
        float s = 0;
        for (float v : a) {
            s += v;
        }
        return s;
    }

    /**
     * The obvious reshape of old, wrap(t.pointer(), newShape), and the real one: both views live with
     * the tensor. Closing the tensor makes them refuse, instead of reading freed memory.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void reshapedViewsLiveWithTheirTensor(ConvEngine engine) {
        Random r = new Random(4);
        float[] data = TestData.uniform(r, 2 * 4 * 6 * 6, 1);
        try (Tensor w = TestData.random(r, 1, 3, 4, 3, 3)) {
            for (int way = 0; way < 2; way++) {
                Tensor flat = Tensor.of(data, data.length);
                Tensor x = way == 0 ? Tensor.wrap(flat.pointer(), 2, 4, 6, 6) : flat.reshape(2, 4, 6, 6);
                try (Tensor y = engine.forward(P, x, w, null); Tensor ref = ConvEngines.naive().forward(P, Tensor.of(data, 2, 4, 6, 6), w, null)) {
                    assertTrue(TestData.relErr(y.toArray(), ref.toArray()) < 1e-4);
                    flat.close();
                    IllegalStateException e = assertThrows(IllegalStateException.class, () -> engine.forward(P, x, w, null, y));
                    assertTrue(e.getMessage().contains("closed"), e.getMessage());
                }
                x.close();
            }
        }
    }

    @Test
    void reshapeAndViewShareMemoryAndCheckTheirBounds() {
        float[] data = new float[24];
        for (int i = 0; i < data.length; i++) {
            data[i] = i;
        }
        try (Tensor t = Tensor.of(data, 2, 3, 4)) {
            try (Tensor r = t.reshape(6, 4); Tensor second = t.view(12, 1, 3, 4)) {
                assertArrayEquals(new int[] {6, 4}, r.shape());
                assertEquals(12f, second.toArray()[0]);
                second.fill(-1f);
                assertEquals(-1f, t.toArray()[23]);
                assertEquals(-1f, r.toArray()[12]);
                assertTrue(second.overlaps(t) && second.overlaps(r) && !second.overlaps(t.view(0, 12)));
                try (Tensor nested = second.reshape(12)) {
                    assertEquals(-1f, nested.toArray()[0]);
                }
            }
            assertFalse(t.isClosed(), "closing a view closed its tensor");
            assertEquals(-1f, t.toArray()[12]);
            assertThrows(IllegalArgumentException.class, () -> t.reshape(5, 5));
            assertThrows(IllegalArgumentException.class, () -> t.view(13, 12));
            assertThrows(IllegalArgumentException.class, () -> t.view(-1, 2));
        }
    }

    /** A tensor closed while one of its buffers is still held: closed at once, memory kept until the buffer goes. */
    @Test
    void aStaleBufferNeverReachesFreedMemory() throws Exception {
        long before = Pointer.totalBytes();
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 4);
        FloatBuffer stale = t.buffer();
        FloatPointer stalePointer = t.pointer();
        t.close();
        assertTrue(t.isClosed());
        assertThrows(IllegalStateException.class, t::toArray);
        assertTrue(Pointer.totalBytes() - before >= 16, "closed while a buffer of it is held: the memory must stay");
        assertEquals(3f, stale.get(2), "the memory a live buffer covers is still allocated");
        assertEquals(4f, stalePointer.get(3));
        stale = null;
        stalePointer = null;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (Pointer.totalBytes() > before && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertTrue(Pointer.totalBytes() <= before, "the memory was not freed once its buffers were collected");
    }

    /** Direct buffers made by Java and foreign memory vouched for with a buffer are wrapped as before. */
    @Test
    void foreignBuffersStillWrap() {
        FloatBuffer b = ByteBuffer.allocateDirect(4 * 16).order(ByteOrder.nativeOrder()).asFloatBuffer();
        try (Tensor t = Tensor.wrap(b, 4, 4); Tensor u = Tensor.wrap(b.duplicate().position(8), 2, 4)) {
            t.fill(3f);
            assertEquals(3f, b.get(15));
            assertTrue(t.overlaps(u));
        }
    }
}
