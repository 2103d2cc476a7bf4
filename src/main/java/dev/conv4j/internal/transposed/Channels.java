package dev.conv4j.internal.transposed;

import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.internal.engine.TensorMemory;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * Per-channel passes over an activation tensor in any layout: filling it with a bias, summing it into
 * a bias gradient, and moving a window of it to or from an NCHW tensor. They run in Java: the
 * transposed operations need them once per call, around kernels that do the real work.
 */
final class Channels {
    private Channels() {
    }

    /** {@code t[n, c, ...] = bias[c]}, or 0 where bias is null (an NCHW16C tensor's padding channels stay 0). */
    static void fill(Tensor t, Tensor bias) {
        if (bias == null) {
            t.fill(0f);
            return;
        }
        FloatBuffer out = buffer(t, "the output");
        FloatBuffer b = buffer(bias, "bias");
        int n = t.dim(0), c = t.dim(1);
        int plane = (int) (t.size() / ((long) n * c));
        switch (t.layout()) {
            case NHWC:
                for (int p = 0, i = 0; p < n * plane; p++) {
                    for (int ch = 0; ch < c; ch++) {
                        out.put(i++, b.get(ch));
                    }
                }
                break;
            case NCHW16C:
                t.fill(0f);
                for (int img = 0; img < n; img++) {
                    for (int ch = 0; ch < c; ch++) {
                        long base = (((long) img * ((c + 15) / 16) + ch / 16) * plane) * 16 + ch % 16;
                        float v = b.get(ch);
                        for (int p = 0; p < plane; p++) {
                            out.put((int) (base + 16L * p), v);
                        }
                    }
                }
                break;
            default:
                for (int img = 0, i = 0; img < n; img++) {
                    for (int ch = 0; ch < c; ch++) {
                        float v = b.get(ch);
                        for (int p = 0; p < plane; p++) {
                            out.put(i++, v);
                        }
                    }
                }
        }
    }

    /**
     * The bias gradient: per channel, the sum of {@code gy} over N and every spatial position, in double
     * and in NCHW order whatever the layout (so every layout and engine gives the same bits); it
     * overwrites {@code gbias}, or adds to it when {@code accumulate}.
     */
    static void sums(Tensor gy, Tensor gbias, boolean accumulate) {
        if (gy.layout() != Layout.NCHW) {
            try (Tensor nchw = gy.toLayout(Layout.NCHW)) {
                sums(nchw, gbias, accumulate);
            }
            return;
        }
        int n = gy.dim(0), c = gy.dim(1);
        int plane = (int) (gy.size() / ((long) n * c));
        FloatBuffer in = buffer(gy, "gy");
        FloatBuffer out = buffer(gbias, "gbias");
        for (int ch = 0; ch < c; ch++) {
            double acc = 0;
            for (int img = 0; img < n; img++) {
                int base = (img * c + ch) * plane;
                for (int p = 0; p < plane; p++) {
                    acc += in.get(base + p);
                }
            }
            out.put(ch, accumulate ? out.get(ch) + (float) acc : (float) acc);
        }
    }

    /**
     * Adds the NCHW tensor {@code z} (N×C×Z…) into the window of {@code t} (N×C×T…, any layout) that starts
     * at {@code shift} along each spatial axis: {@code t[n, c, i + shift] += z[n, c, i]}.
     */
    static void addWindow(Tensor z, Tensor t, int[] shift) {
        if (t.layout() != Layout.NCHW) {
            try (Tensor nchw = t.toLayout(Layout.NCHW)) {
                addWindow(z, nchw, shift);
                Tensor.reorder(nchw, t);
            }
            return;
        }
        FloatBuffer src = buffer(z, "the staged output"), dst = buffer(t, "the output");
        int[] zs = z.shape(), ts = t.shape();
        int len = zs[zs.length - 1];
        for (int row = 0, rows = (int) (z.size() / len); row < rows; row++) {
            int to = windowRow(zs, ts, shift, row);
            for (int q = 0; q < len; q++) {
                dst.put(to + q, dst.get(to + q) + src.get(row * len + q));
            }
        }
    }

    /** The window of {@code t} (any layout) that starts at {@code shift}, copied into the NCHW tensor {@code z}. */
    static void copyWindow(Tensor t, Tensor z, int[] shift) {
        if (t.layout() != Layout.NCHW) {
            try (Tensor nchw = t.toLayout(Layout.NCHW)) {
                copyWindow(nchw, z, shift);
            }
            return;
        }
        FloatBuffer src = buffer(t, "gy"), dst = buffer(z, "the staged gradient");
        int[] zs = z.shape(), ts = t.shape();
        int len = zs[zs.length - 1];
        for (int row = 0, rows = (int) (z.size() / len); row < rows; row++) {
            dst.put(row * len, src, windowRow(zs, ts, shift, row), len);
        }
    }

    /** Where row {@code row} of the window (of shape {@code zs}, rows along the last axis) starts in {@code t}. */
    private static int windowRow(int[] zs, int[] ts, int[] shift, int row) {
        int offset = 0, rest = row, scale = 1;
        // the spatial axes but the last, innermost first; then the plane (n, c) as one index
        for (int a = zs.length - 2; a >= 2; a--) {
            int i = rest % zs[a];
            rest /= zs[a];
            offset += (i + shift[a - 2]) * scale;
            scale *= ts[a];
        }
        return (rest * scale + offset) * ts[ts.length - 1] + shift[shift.length - 1];
    }

    private static FloatBuffer buffer(Tensor t, String name) {
        if (t.storageSize() > Tensor.MAX_BUFFER_ELEMENTS) {
            throw new IllegalArgumentException(name + " " + Arrays.toString(t.shape()) + " has " + t.storageSize()
                    + " floats, more than the " + Tensor.MAX_BUFFER_ELEMENTS + " a Java buffer addresses: too large for a"
                    + " transposed convolution's bias and padding passes");
        }
        return TensorMemory.buffer(t);
    }
}
