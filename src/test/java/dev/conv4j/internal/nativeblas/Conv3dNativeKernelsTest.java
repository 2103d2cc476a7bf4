package dev.conv4j.internal.nativeblas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Conv3dParams;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/** The native 3-D band passes compute, and their checked entry refuses anything out of bounds before native code runs. */
class Conv3dNativeKernelsTest {
    /** One channel of 2x3x3, a 2x3x3 kernel padded by 1 on height and width: output 1x3x3. */
    private static final Conv3dGeometry G = Conv3dGeometry.of(Conv3dParams.builder().padding(0, 1, 1).build(),
            new int[] {1, 1, 2, 3, 3}, new int[] {1, 1, 2, 3, 3});

    @Test
    void computesABandWithPaddingAndAddsIntoY() {
        assertTrue(NativeLibrary.isAvailable(), () -> NativeLibrary.describe(NativeLibrary.failure()));
        float[] w = new float[18];
        w[3] = 1f;      // plane 0: the left neighbour
        w[9 + 7] = 10f; // plane 1: ten times the neighbour below
        try (FloatPointer x = new FloatPointer(1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 11f, 12f, 13f, 14f, 15f, 16f, 17f, 18f, 19f);
             FloatPointer wp = new FloatPointer(w); FloatPointer b = new FloatPointer(0.5f);
             FloatPointer y = new FloatPointer(9L); FloatPointer col = new FloatPointer(NativeKernels.volumeColumns(G, 1, 3))) {
            NativeKernels.volumeForwardBand(G, x, wp, b, y, col, null, 0, 0, 0, 2, false);
            NativeKernels.volumeForwardBand(G, x, wp, b, y, col, null, 0, 0, 2, 1, false);
            float[] got = new float[9];
            y.get(got);
            assertArrayEquals(new float[] {140.5f, 151.5f, 162.5f, 170.5f, 184.5f, 195.5f, 0.5f, 7.5f, 8.5f}, got);
            NativeKernels.volumeForwardBand(G, x, wp, null, y, col, null, 0, 0, 0, 3, true);
            y.get(got);
            assertEquals(280.5f, got[0]);
            assertEquals(16.5f, got[8]);
        }
    }

    @Test
    void refusesBandsAndMemoryOutsideTheGeometry() {
        try (FloatPointer x = new FloatPointer(18L); FloatPointer w = new FloatPointer(18L); FloatPointer y = new FloatPointer(9L);
             FloatPointer col = new FloatPointer(NativeKernels.volumeColumns(G, 1, 3)); FloatPointer small = new FloatPointer(17L);
             FloatPointer tiny = new FloatPointer(8L)) {
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeForwardBand(G, small, w, null, y, col, null, 0, 0, 0, 3, false));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeForwardBand(G, x, small, null, y, col, null, 0, 0, 0, 3, false));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeForwardBand(G, x, w, null, y, small, null, 0, 0, 0, 3, false));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeForwardBand(G, x, w, null, tiny, col, null, 0, 0, 0, 3, false));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeForwardBand(G, x, w, null, y, col, null, 0, 0, 2, 2, false));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeForwardBand(G, x, w, null, y, col, null, 1, 0, 0, 3, false));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeForwardBand(G, x, w, null, y, col, null, 0, 1, 0, 3, false));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeBackwardDataBand(G, y, w, small, col, null, 0, 0, 0, 1, 0, 3, true));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeBackwardDataBand(G, y, w, x, col, null, 0, 0, 0, 2, 0, 3, true));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeBackwardWeightsBand(G, x, y, small, col, null, 0, 0, 0, 1, 0, 3, true));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeBackwardWeightsBand(G, x, tiny, w, col, null, 0, 0, 0, 1, 0, 3, true));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.volumeChannelSums(G, y, y, 0, 2, false));
        }
    }
}
