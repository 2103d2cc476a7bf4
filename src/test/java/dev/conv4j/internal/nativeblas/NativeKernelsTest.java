package dev.conv4j.internal.nativeblas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvGeometry;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/** The native library is built from native/ and called; its checked entry refuses anything out of bounds. */
class NativeKernelsTest {
    private static final ConvGeometry G = ConvGeometry.of(Conv2dParams.builder().padding(1).build(),
            new int[] {1, 1, 3, 3}, new int[] {1, 1, 3, 3});

    @Test
    void loadsAndComputesA3x3ConvolutionWithPadding() {
        assertTrue(NativeLibrary.isAvailable(), () -> NativeLibrary.describe(NativeLibrary.failure()));
        try (FloatPointer x = new FloatPointer(1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f);
             FloatPointer w = new FloatPointer(0f, 0f, 0f, 1f, 0f, 0f, 0f, 0f, 0f); // picks the left neighbour
             FloatPointer y = new FloatPointer(9L); FloatPointer col = new FloatPointer(81L)) {
            NativeKernels.forwardBand(G, x, w, null, y, col, null, 0, 0, 0, 1, 0, 3);
            float[] got = new float[9];
            y.get(got);
            assertArrayEquals(new float[] {0, 1, 2, 0, 4, 5, 0, 7, 8}, got);
        }
    }

    @Test
    void refusesPointersTooSmallForTheGeometry() {
        try (FloatPointer x = new FloatPointer(8L); FloatPointer w = new FloatPointer(9L);
             FloatPointer y = new FloatPointer(9L); FloatPointer col = new FloatPointer(81L); FloatPointer small = new FloatPointer(80L)) {
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.forwardBand(G, x, w, null, y, col, null, 0, 0, 0, 1, 0, 3));
            try (FloatPointer x9 = new FloatPointer(9L)) {
                assertThrows(IllegalArgumentException.class, () -> NativeKernels.forwardBand(G, x9, w, null, y, small, null, 0, 0, 0, 1, 0, 3));
                assertThrows(IllegalArgumentException.class, () -> NativeKernels.forwardBand(G, x9, w, null, y, col, null, 1, 0, 0, 1, 0, 3));
                assertThrows(IllegalArgumentException.class, () -> NativeKernels.forwardBand(G, x9, w, null, y, col, null, 0, 0, 0, 1, 2, 2));
                assertThrows(IllegalArgumentException.class, () -> NativeKernels.forwardBand(G, x9, w, null, y, col, null, 0, 0, 0, 2, 0, 3));
                assertThrows(IllegalArgumentException.class, () -> NativeKernels.forwardBand(G, x9, w, null, y, col, null, 0, 1, 0, 1, 0, 3));
                assertThrows(IllegalArgumentException.class, () -> NativeKernels.fill(y, 5, 5, 0f));
                assertThrows(IllegalArgumentException.class, () -> NativeKernels.backwardDataBand(G, y, w, x, col, null, 0, 0, 0, 1, 0, 3, true));
            }
        }
    }

    @Test
    void refusesAPackingBufferTooSmallForTheKernel() {
        long pack = NativeKernels.gemmPackSize();
        if (pack == 0) {
            return; // no AVX-512 here: the buffer is never passed on
        }
        try (FloatPointer x = new FloatPointer(9L); FloatPointer w = new FloatPointer(9L); FloatPointer y = new FloatPointer(9L);
             FloatPointer col = new FloatPointer(81L); FloatPointer small = new FloatPointer(pack - 1)) {
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.forwardBand(G, x, w, null, y, col, small, 0, 0, 0, 1, 0, 3));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.backwardDataBand(G, y, w, x, col, small, 0, 0, 0, 1, 0, 3, true));
            assertThrows(IllegalArgumentException.class,
                    () -> NativeKernels.backwardWeightsBand(G, x, y, w, col, small, 0, 0, 0, 1, 0, 1, 0, 3, false));
        }
    }

    @Test
    void ownGemmFollowsTheSwitches() {
        if (System.getenv("CONV4J_NO_AVX512") != null || "openblas".equals(System.getProperty("conv4j.gemm"))) {
            assertEquals(0, NativeKernels.gemmPackSize(), "switched off, no packing buffer: every product goes to OpenBLAS");
        }
        assertEquals(0, NativeKernels.gemmPackSize(8, 16, false), "narrow products of an untransposed A go to OpenBLAS");
    }
}
