package dev.conv4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Tensors in every layout: sizes, the memory order of each, reorders between any two, and what refuses a layout. */
class LayoutTest {
    private static final Layout[] ALL = Layout.values();

    @Test
    void storageSizeAndOffsetFollowEachLayout() {
        int[] s = {2, 17, 3, 5};
        assertEquals(2 * 17 * 15, Layout.NCHW.storageSize(s));
        assertEquals(2 * 17 * 15, Layout.NHWC.storageSize(s));
        assertEquals(2 * 32 * 15, Layout.NCHW16C.storageSize(s));
        assertEquals(2 * 16 * 15, Layout.NCHW16C.storageSize(2, 16, 3, 5));
        assertEquals(7, Layout.NCHW.storageSize(7));
        // (n, c, h, w) = (1, 16, 2, 3): pixel 13 of 15
        assertEquals((1 * 17 + 16) * 15 + 13, Layout.NCHW.offset(s, 1, 16, 2, 3));
        assertEquals((1 * 15 + 13) * 17 + 16, Layout.NHWC.offset(s, 1, 16, 2, 3));
        assertEquals(((1 * 2 + 1) * 15 + 13) * 16 + 0, Layout.NCHW16C.offset(s, 1, 16, 2, 3));
        expect(() -> Layout.NHWC.storageSize(3, 4), "rank 4", "NHWC");
        expect(() -> Layout.NCHW.offset(s, 0, 17, 0, 0), "outside");
        expect(() -> Tensor.zeros(Layout.NCHW16C, 5), "rank 4");
        expect(() -> Tensor.zeros((Layout) null, 1, 1, 1, 1), "layout");
    }

    @Test
    void aTensorKeepsItsLogicalShapeAndCountsItsMemory() {
        try (Tensor t = Tensor.zeros(Layout.NCHW16C, 2, 17, 3, 5)) {
            assertEquals(Layout.NCHW16C, t.layout());
            assertArrayEquals(new int[] {2, 17, 3, 5}, t.shape());
            assertEquals(2 * 17 * 15, t.size());
            assertEquals(2 * 32 * 15, t.storageSize());
            assertEquals(2 * 32 * 15, t.toArray().length);
            assertEquals(2 * 32 * 15, t.buffer().limit());
            assertEquals(Layout.NCHW, Tensor.zeros(3).layout());
            assertTrue(t.toString().contains("NCHW16C"), t.toString());
        }
    }

    /** Every pair of layouts, channel counts that do and do not fill blocks of 16, planes that take one tile and many. */
    @Test
    void reordersRoundTripAndMatchTheDefinition() {
        Random r = new Random(5);
        int[][] shapes = {{1, 1, 3, 4}, {2, 15, 5, 3}, {1, 16, 4, 4}, {2, 17, 3, 5}, {1, 33, 40, 41}, {2, 70, 6, 7},
            {1, 3, 1, 1}, {1, 130, 9, 2}};
        for (int[] s : shapes) {
            try (Tensor ref = TestData.random(r, 1, s)) {
                float[] logical = ref.toArray();
                for (Layout a : ALL) {
                    try (Tensor ta = ref.toLayout(a); Tensor slow = TestData.slowReorder(ref, a)) {
                        assertArrayEquals(slow.toArray(), ta.toArray(), a + " " + java.util.Arrays.toString(s));
                        assertPaddingZero(ta);
                        for (Layout b : ALL) {
                            try (Tensor tb = ta.toLayout(b); Tensor back = tb.toLayout(Layout.NCHW)) {
                                assertEquals(b, tb.layout());
                                assertPaddingZero(tb);
                                assertArrayEquals(logical, back.toArray(), a + " -> " + b + " " + java.util.Arrays.toString(s));
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void aReorderOverwritesGarbageAndZeroesPadding() {
        Random r = new Random(6);
        int[] s = {2, 17, 6, 5};
        try (Tensor ref = TestData.random(r, 1, s)) {
            for (Layout from : ALL) {
                for (Layout to : ALL) {
                    try (Tensor src = TestData.garbage(from, s); Tensor dst = TestData.garbage(to, s)) {
                        ref.copyTo(src); // a reorder into memory holding NaN everywhere, padding included
                        Tensor.reorder(src, dst);
                        assertPaddingZero(dst);
                        assertArrayEquals(ref.toArray(), TestData.logical(dst), from + " -> " + to);
                    }
                }
            }
        }
    }

    @Test
    void arraysAreInMemoryOrderAndPaddingStaysZero() {
        int[] s = {1, 17, 1, 2};
        float[] mem = new float[64];
        for (int i = 0; i < mem.length; i++) {
            mem[i] = i + 1;
        }
        try (Tensor t = Tensor.of(Layout.NCHW16C, mem, s)) {
            float[] a = t.toArray();
            assertEquals(64, a.length);
            assertEquals(1f, a[0]);
            assertEquals(33f, a[32], "channel 16 of pixel 0 opens the second block");
            assertEquals(0f, a[33], "padding channels are zeroed whatever the data held");
            t.copyFrom(mem);
            assertEquals(0f, t.toArray()[63]);
            t.fill(2.5f);
            assertPaddingZero(t);
            assertEquals(2.5f, t.toArray()[32]);
            expect(() -> t.copyFrom(new float[34]), "34", "64");
        }
        try (Tensor t = Tensor.of(Layout.NHWC, new float[] {1, 2, 3, 4, 5, 6}, 1, 3, 1, 2)) {
            // pixel 0 holds channels 0, 1, 2: element (0, 1, 0, 1) is the second pixel's channel 1
            assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, TestData.logical(t));
        }
        expect(() -> Tensor.of(Layout.NCHW16C, new float[34], s), "34", "64", "NCHW16C");
    }

    @Test
    void reshapeAndPlainViewsRefuseOtherLayoutsAndLayoutViewsWork() {
        Random r = new Random(7);
        int[] s = {3, 5, 4, 2};
        try (Tensor nchw = TestData.random(r, 1, s); Tensor nhwc = nchw.toLayout(Layout.NHWC)) {
            expect(() -> nhwc.reshape(3, 40), "NHWC", "toLayout");
            expect(() -> nhwc.view(0, 1, 5, 4, 2), "NHWC", "view(offset, Layout.NHWC");
            int image = 5 * 4 * 2;
            for (int i = 0; i < 3; i++) {
                try (Tensor one = nhwc.view((long) i * image, Layout.NHWC, 1, 5, 4, 2);
                     Tensor ref = nchw.view((long) i * image, 1, 5, 4, 2)) {
                    assertEquals(Layout.NHWC, one.layout());
                    assertArrayEquals(ref.toArray(), TestData.logical(one));
                }
            }
            expect(() -> nhwc.view(image, Layout.NCHW16C, 3, 5, 4, 2), "outside");
        }
    }

    @Test
    void wrapNeedsTheStorageSizeAndOverlapCountsIt() {
        int[] s = {1, 17, 2, 2};
        FloatBuffer small = ByteBuffer.allocateDirect(4 * 100).order(ByteOrder.nativeOrder()).asFloatBuffer();
        expect(() -> Tensor.wrap(Layout.NCHW16C, small, s), "100", "128", "NCHW16C");
        FloatBuffer big = ByteBuffer.allocateDirect(4 * 256).order(ByteOrder.nativeOrder()).asFloatBuffer();
        try (Tensor a = Tensor.wrap(Layout.NCHW16C, big, s); Tensor b = Tensor.wrap(Layout.NCHW16C, big.position(100), s);
             Tensor c = Tensor.wrap(Layout.NCHW16C, big.position(128), s)) {
            assertTrue(a.overlaps(b), "the padding channels are memory of the tensor too");
            assertFalse(a.overlaps(c));
            assertEquals(128, a.storageSize());
        }
        try (Tensor owner = Tensor.zeros(300)) {
            org.bytedeco.javacpp.FloatPointer p = owner.pointer();
            try (Tensor v = Tensor.wrap(Layout.NCHW16C, p.position(200), 1, 3, 2, 2)) {
                assertEquals(64, v.storageSize());
            }
            expect(() -> Tensor.wrap(Layout.NCHW16C, owner.pointer().position(200), s), "NCHW16C", "128");
        } catch (UnsupportedOperationException noJavaCpp) {
            // tensors live in direct buffers on this platform: no pointers
        }
    }

    /** A tensor's own memory handed out and wrapped again, in a layout: a view that lives with it, bounded by its storage. */
    @Test
    void wrappedBuffersOfATensorAreViewsBoundedByItsStorage() {
        int[] s = {1, 17, 2, 3};
        Tensor t = Tensor.zeros(Layout.NCHW16C, s);
        FloatBuffer b = t.buffer();
        assertEquals(192, b.limit(), "the buffer covers the padding channels too");
        Tensor v = Tensor.wrap(Layout.NCHW16C, b, s);
        v.fill(3f);
        assertEquals(3f, t.toArray()[0]);
        assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(Layout.NCHW16C, b.position(8), s),
                "184 floats from position 8 are too few for 192");
        Tensor tail = Tensor.wrap(Layout.NHWC, b.position(96), 1, 16, 2, 3);
        assertTrue(tail.overlaps(v));
        t.close();
        assertThrows(IllegalStateException.class, v::toArray);
        assertThrows(IllegalStateException.class, () -> tail.toLayout(Layout.NCHW));
        assertThrows(IllegalStateException.class, () -> Tensor.wrap(Layout.NCHW16C, b.position(0), s));
    }

    @Test
    void reorderRefusesMismatchesSharingAndClosedTensors() {
        try (Tensor a = Tensor.zeros(Layout.NHWC, 1, 2, 3, 4); Tensor b = Tensor.zeros(1, 2, 4, 3); Tensor big = Tensor.zeros(48)) {
            expect(() -> Tensor.reorder(a, b), "[1, 2, 3, 4] NHWC", "[1, 2, 4, 3]", "differ");
            Tensor x = big.view(0, Layout.NCHW16C, 1, 2, 1, 1);
            Tensor y = big.view(8, Layout.NCHW, 1, 2, 1, 1);
            expect(() -> Tensor.reorder(x, y), "shares memory");
            Tensor closed = Tensor.zeros(Layout.NHWC, 1, 2, 3, 4);
            closed.close();
            assertThrows(IllegalStateException.class, () -> Tensor.reorder(closed, a));
            assertThrows(IllegalStateException.class, () -> closed.toLayout(Layout.NCHW));
            expect(() -> Tensor.reorder(null, a), "src");
        }
    }

    @Test
    void otherRanksAreNchwOnly() {
        try (Tensor v = Tensor.of(new float[] {1, 2, 3}, 3); Tensor w = Tensor.zeros(3)) {
            v.copyTo(w);
            assertArrayEquals(new float[] {1, 2, 3}, w.toArray());
            expect(() -> v.toLayout(Layout.NHWC), "rank 4");
        }
    }

    private static void assertPaddingZero(Tensor t) {
        if (t.layout() != Layout.NCHW16C) {
            return;
        }
        int[] s = t.shape();
        float[] a = t.toArray();
        int blocks = (s[1] + 15) / 16, p = s[2] * s[3];
        for (int n = 0; n < s[0]; n++) {
            for (int c = s[1]; c < blocks * 16; c++) {
                for (int q = 0; q < p; q++) {
                    int at = ((n * blocks + c / 16) * p + q) * 16 + c % 16;
                    assertEquals(0, Float.floatToRawIntBits(a[at]), "padding channel " + c + " of pixel " + q + " is " + a[at]);
                }
            }
        }
    }

    private static void expect(Executable call, String... words) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "message '" + e.getMessage() + "' should mention '" + w + "'");
        }
    }
}
