package dev.conv4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

class TensorTest {
    @Test
    void ofCopiesAndToArrayReturnsTheData() {
        float[] data = {1, 2, 3, 4, 5, 6};
        try (Tensor t = Tensor.of(data, 2, 3)) {
            data[0] = 99;
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, t.toArray());
            assertArrayEquals(new int[] {2, 3}, t.shape());
            assertEquals(6, t.size());
            assertEquals(2, t.rank());
        }
    }

    @Test
    void zerosIsZero() {
        try (Tensor t = Tensor.zeros(3, 4)) {
            for (float v : t.toArray()) {
                assertEquals(0f, v);
            }
        }
    }

    @Test
    void wrapIsAZeroCopyViewOfADirectBuffer() {
        FloatBuffer buf = ByteBuffer.allocateDirect(4 * 10).order(ByteOrder.nativeOrder()).asFloatBuffer();
        buf.position(2);
        try (Tensor t = Tensor.wrap(buf, 2, 2)) {
            buf.put(2, 5f);
            assertEquals(5f, t.toArray()[0]);
            t.copyFrom(new float[] {1, 2, 3, 4});
            assertEquals(4f, buf.get(5));
            assertEquals(0f, buf.get(6));
        }
        assertEquals(4f, buf.get(5), "closing a view must not free or clear the buffer");
    }

    @Test
    void wrapRejectsHeapBuffersWrongOrderAndShortBuffers() {
        assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(FloatBuffer.allocate(4), 4));
        FloatBuffer swapped = ByteBuffer.allocateDirect(16).order(
                ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN).asFloatBuffer();
        assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(swapped, 4));
        FloatBuffer small = ByteBuffer.allocateDirect(12).order(ByteOrder.nativeOrder()).asFloatBuffer();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(small, 2, 2));
        assertTrue(e.getMessage().contains("3 remaining"), e.getMessage());
    }

    @Test
    void wrapOfAPointerStartsAtItsPosition() {
        try (FloatPointer p = new FloatPointer(0f, 1f, 2f, 3f, 4f, 5f)) {
            p.position(2);
            try (Tensor t = Tensor.wrap(p, 2, 2)) {
                assertArrayEquals(new float[] {2, 3, 4, 5}, t.toArray());
            }
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(p, 5));
            assertArrayEquals(new float[] {2, 3}, new float[] {p.get(0), p.get(1)}, "the pointer keeps its position");
        }
    }

    @Test
    void aClosedTensorThrows() {
        Tensor t = Tensor.zeros(2);
        t.close();
        t.close();
        assertTrue(t.isClosed());
        assertThrows(IllegalStateException.class, t::toArray);
        assertThrows(IllegalStateException.class, t::shape);
        assertThrows(IllegalStateException.class, t::size);
        assertThrows(IllegalStateException.class, t::pointer);
    }

    @Test
    void overlapIsDetectedForViewsOfTheSameMemory() {
        FloatBuffer buf = ByteBuffer.allocateDirect(4 * 8).order(ByteOrder.nativeOrder()).asFloatBuffer();
        try (Tensor a = Tensor.wrap(buf, 4); Tensor b = Tensor.wrap(buf.position(3), 4); Tensor c = Tensor.wrap(buf.position(4), 4)) {
            assertTrue(a.overlaps(b));
            assertFalse(a.overlaps(c));
        }
    }
}
