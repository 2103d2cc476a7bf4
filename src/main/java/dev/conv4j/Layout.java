package dev.conv4j;

import java.util.Arrays;

/**
 * How a rank-4 activation tensor orders its elements in memory. The tensor's shape is always the
 * logical (N, C, H, W), whatever its layout; only the order of the elements in memory differs.
 * Activations (x, y, their gradients gx and gy, and a fused forward's residual) may have any layout,
 * and one call may mix them (x in NHWC, y in NCHW16C, ...); weights are always OIHW, which is
 * {@link #NCHW} of a shape (O, C/groups, KH, KW). A tensor of any other rank is always {@code NCHW}:
 * plain row-major order.
 *
 * <p>Padding: {@link #NCHW16C} rounds the channels up to a multiple of 16. Every tensor conv4j writes
 * holds zeros there (its factories, {@link Tensor#copyFrom(float[])}, {@link Tensor#fill(float)}, the
 * reorders and every engine's outputs), and what an input holds there is never read into a result,
 * so memory wrapped from elsewhere may hold anything in its padding.
 */
public enum Layout {
    /**
     * Row-major (N, C, H, W): each channel's H×W plane is contiguous. The layout of every tensor that
     * does not say otherwise, and PyTorch's default.
     */
    NCHW,
    /**
     * Channels last, (N, H, W, C): the C channels of one pixel are contiguous. TensorFlow's default
     * and PyTorch's {@code channels_last}.
     */
    NHWC,
    /**
     * oneDNN's blocked {@code nChw16c}: (N, ceil(C/16), H, W, 16), the channels cut into blocks of 16,
     * each block holding a pixel's 16 channels side by side. The last block is padded with zero channels
     * when C is not a multiple of 16, so the tensor occupies {@code N·ceil(C/16)·16·H·W} floats
     * ({@link #storageSize}), more than its {@linkplain Tensor#size() size}.
     */
    NCHW16C;

    /** Channels per block of {@link #NCHW16C}. */
    static final int BLOCK = 16;

    /**
     * The floats a tensor of the logical {@code shape} occupies in this layout: the product of the
     * shape, except for {@link #NCHW16C}, whose channels are rounded up to a multiple of 16.
     *
     * @throws IllegalArgumentException if the shape is null, has a dimension below 1, or is not of
     *                                  rank 4 for a layout other than NCHW
     */
    public long storageSize(int... shape) {
        check(shape);
        long n = 1;
        for (int i = 0; i < shape.length; i++) {
            n *= this == NCHW16C && i == 1 ? roundUp(shape[1]) : shape[i];
            if (n > Long.MAX_VALUE / Integer.MAX_VALUE) {
                return Long.MAX_VALUE; // far beyond any tensor; callers refuse it
            }
        }
        return n;
    }

    /**
     * The position in memory, counted in floats from the tensor's first, of the logical element
     * (n, c, h, w) of a tensor of the logical {@code shape} (N, C, H, W) in this layout.
     *
     * @throws IllegalArgumentException if the shape is not of rank 4 or an index lies outside it
     */
    public long offset(int[] shape, int n, int c, int h, int w) {
        check(shape);
        if (shape.length != 4) {
            throw new IllegalArgumentException("offset(n, c, h, w) needs a shape of rank 4 (N, C, H, W), got " + Arrays.toString(shape));
        }
        if (n < 0 || n >= shape[0] || c < 0 || c >= shape[1] || h < 0 || h >= shape[2] || w < 0 || w >= shape[3]) {
            throw new IllegalArgumentException("index (" + n + ", " + c + ", " + h + ", " + w + ") lies outside shape "
                    + Arrays.toString(shape));
        }
        long hw = (long) shape[2] * shape[3], p = (long) h * shape[3] + w;
        switch (this) {
            case NHWC:
                return ((long) n * hw + p) * shape[1] + c;
            case NCHW16C: {
                long blocks = roundUp(shape[1]) / BLOCK;
                return (((long) n * blocks + c / BLOCK) * hw + p) * BLOCK + c % BLOCK;
            }
            default:
                return ((long) n * shape[1] + c) * hw + p;
        }
    }

    /** C rounded up to whole blocks of 16. */
    static long roundUp(int c) {
        return ((long) c + BLOCK - 1) / BLOCK * BLOCK;
    }

    private void check(int[] shape) {
        if (shape == null) {
            throw new IllegalArgumentException("shape must not be null");
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 1) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + ": dimension " + i
                        + " is " + shape[i] + ", every dimension must be at least 1");
            }
        }
        if (this != NCHW && shape.length != 4) {
            throw new IllegalArgumentException("layout " + this + " is for tensors of rank 4 (N, C, H, W), but the shape is "
                    + Arrays.toString(shape) + "; tensors of other ranks are NCHW (row-major)");
        }
    }
}
