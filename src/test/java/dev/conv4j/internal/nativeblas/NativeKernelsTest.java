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

    /** The Java side sizes the depthwise any-layout scratch as the kernel reads it, and refuses whatever would pass it. */
    @Test
    void depthwiseInAnyLayoutSizesItsScratchAsTheKernelAndRefusesBadArguments() {
        java.util.Random r = new java.util.Random(5);
        for (int i = 0; i < 200; i++) {
            int c = 1 + r.nextInt(40), kh = 1 + r.nextInt(7), kw = 1 + r.nextInt(7);
            Conv2dParams p = Conv2dParams.builder().groups(c).stride(1 + r.nextInt(3), 1 + r.nextInt(3))
                    .dilation(1 + r.nextInt(3), 1 + r.nextInt(3)).padding(r.nextInt(4), r.nextInt(4), r.nextInt(4), r.nextInt(4)).build();
            ConvGeometry g;
            try {
                g = ConvGeometry.of(p, new int[] {1, c, 1 + r.nextInt(300), 1 + r.nextInt(300)}, new int[] {c, 1, kh, kw});
            } catch (IllegalArgumentException empty) {
                continue;
            }
            int rows = 1 + r.nextInt(g.oh);
            assertEquals(NativeKernels.nativeDepthwiseLayoutsScratchSize(g, rows), NativeKernels.depthwiseLayoutsScratchSize(g, rows), g::toString);
        }
        if (!NativeKernels.blockedFast()) {
            return; // the generic variant has no such kernel, and the call says so
        }
        ConvGeometry g = ConvGeometry.of(Conv2dParams.builder().groups(20).padding(1).build(), new int[] {1, 20, 5, 5}, new int[] {20, 1, 3, 3});
        ConvGeometry mult = ConvGeometry.of(Conv2dParams.builder().groups(20).padding(1).build(), new int[] {1, 20, 5, 5}, new int[] {40, 1, 3, 3});
        long scratch = NativeKernels.depthwiseLayoutsScratchSize(g, 5);
        try (FloatPointer x = new FloatPointer(32 * 25L); FloatPointer w = new FloatPointer(20 * 9L); FloatPointer y = new FloatPointer(32 * 25L);
             FloatPointer s = new FloatPointer(scratch); FloatPointer small = new FloatPointer(scratch - 1); FloatPointer y20 = new FloatPointer(20 * 25L)) {
            NativeKernels.depthwiseLayouts(g, x, NativeKernels.NCHW16C, w, null, null, 0, y, NativeKernels.NCHW16C, s, 0, 0, 5, 0, 2, false, 0f, 0f);
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.depthwiseLayouts(mult, x, 0, w, null, null, 0, y, 0, s, 0, 0, 5, 0, 2, false, 0f, 0f));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.depthwiseLayouts(g, x, 3, w, null, null, 0, y, 0, s, 0, 0, 5, 0, 2, false, 0f, 0f));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.depthwiseLayouts(g, x, 2, w, null, null, 0, y20, 2, s, 0, 0, 5, 0, 2, false, 0f, 0f));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.depthwiseLayouts(g, x, 2, w, null, null, 0, y, 2, small, 0, 0, 5, 0, 2, false, 0f, 0f));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.depthwiseLayouts(g, x, 2, w, null, null, 0, y, 2, s, 0, 1, 5, 0, 2, false, 0f, 0f));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.depthwiseLayouts(g, x, 2, w, null, null, 0, y, 2, s, 0, 0, 5, 1, 2, false, 0f, 0f));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.depthwiseLayouts(g, x, 2, w, null, null, 0, y, 2, s, 1, 0, 5, 0, 2, false, 0f, 0f));
            assertThrows(IllegalArgumentException.class, () -> NativeKernels.depthwiseLayouts(g, x, 2, w, null, y20, 2, y, 2, s, 0, 0, 5, 0, 2, false, 0f, 0f));
        }
    }

    @Test
    void refusesAPackingBufferTooSmallForTheKernel() {
        long pack = NativeKernels.gemmPackSize();
        if (pack == 0) {
            return; // neither AVX-512 nor AVX2 here: the buffer is never passed on
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
        if ("generic x86-64".equals(NativeKernels.isa()) || "openblas".equals(System.getProperty("conv4j.gemm"))) {
            assertEquals(0, NativeKernels.gemmPackSize(), "switched off, no packing buffer: every product goes to OpenBLAS");
        } else {
            assertTrue(NativeKernels.gemmPackSize() > 0, "the " + NativeKernels.isa() + " variant packs for its own kernels");
        }
        assertEquals(0, NativeKernels.gemmPackSize(8, 16, false), "narrow products of an untransposed A go to OpenBLAS");
    }
}
