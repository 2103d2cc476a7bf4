package dev.conv4j.examples;

/** The rectifier, {@code max(0, v)}, in place on the first {@code n} values of an array. */
public final class Relu {
    private Relu() {
    }

    /** Replaces every negative value by zero. */
    public static void forward(float[] v, int n) {
        for (int i = 0; i < n; i++) {
            v[i] = Math.max(0f, v[i]);
        }
    }

    /** Zeroes the gradient where the layer's output {@code y} is zero (where its input was not positive). */
    public static void backward(float[] y, float[] g, int n) {
        for (int i = 0; i < n; i++) {
            g[i] = y[i] > 0f ? g[i] : 0f;
        }
    }
}
