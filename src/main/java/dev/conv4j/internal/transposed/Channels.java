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
        int[] s = t.shape();
        FloatBuffer out = buffer(t, "the output");
        FloatBuffer b = buffer(bias, "bias");
        int n = s[0], c = s[1];
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
                        long base = Layout.NCHW16C.offset(s, img, ch, 0, 0);
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
        int[] s = gy.shape();
        int n = s[0], c = s[1];
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
     * Adds the NCHW tensor {@code z} (N×C×ZH×ZW) into the rows and columns of {@code t} (N×C×H×W, any
     * layout) that start at {@code (rowShift, colShift)}: {@code t[n, c, r + rowShift, q + colShift] += z[n, c, r, q]}.
     */
    static void addWindow(Tensor z, Tensor t, int rowShift, int colShift) {
        if (t.layout() != Layout.NCHW) {
            try (Tensor nchw = t.toLayout(Layout.NCHW)) {
                addWindow(z, nchw, rowShift, colShift);
                Tensor.reorder(nchw, t);
            }
            return;
        }
        int[] zs = z.shape(), ts = t.shape();
        FloatBuffer src = buffer(z, "the staged output"), dst = buffer(t, "the output");
        for (int plane = 0; plane < zs[0] * zs[1]; plane++) {
            for (int r = 0; r < zs[2]; r++) {
                int from = (plane * zs[2] + r) * zs[3];
                int to = (plane * ts[2] + r + rowShift) * ts[3] + colShift;
                for (int q = 0; q < zs[3]; q++) {
                    dst.put(to + q, dst.get(to + q) + src.get(from + q));
                }
            }
        }
    }

    /** The window of {@code t} (any layout) that starts at {@code (rowShift, colShift)}, copied into the NCHW tensor {@code z}. */
    static void copyWindow(Tensor t, Tensor z, int rowShift, int colShift) {
        if (t.layout() != Layout.NCHW) {
            try (Tensor nchw = t.toLayout(Layout.NCHW)) {
                copyWindow(nchw, z, rowShift, colShift);
            }
            return;
        }
        int[] zs = z.shape(), ts = t.shape();
        FloatBuffer src = buffer(t, "gy"), dst = buffer(z, "the staged gradient");
        for (int plane = 0; plane < zs[0] * zs[1]; plane++) {
            for (int r = 0; r < zs[2]; r++) {
                dst.put((plane * zs[2] + r) * zs[3], src, (plane * ts[2] + r + rowShift) * ts[3] + colShift, zs[3]);
            }
        }
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
