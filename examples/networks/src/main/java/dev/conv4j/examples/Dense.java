package dev.conv4j.examples;

import java.util.Arrays;
import java.util.Random;

/**
 * A fully connected layer, {@code y = x·Wᵀ + b}, in plain Java. The weight {@link Parameter} is
 * laid out as PyTorch's {@code nn.Linear} lays it out, {@code [out][in]}, so a saved model loads
 * there unchanged.
 *
 * <p>Every inner loop is an "axpy", {@code y[i] += a * x[i]}, over two whole row arrays: HotSpot
 * vectorizes that form, but neither a dot product's running sum nor {@code y[yo + i] += a * x[xo + i]}
 * over offsets into flat arrays (it cannot rule out that x and y are the same array). Hence the
 * weight is kept as rows, plus a transposed copy for the forward pass, refreshed by {@link #sync()}.
 */
public final class Dense {
    private final int in, out;
    private final Parameter weight, bias;
    private final float[][] w, wt, gw;
    private final float[] xRow, yRow, gxRow;

    public Dense(String name, int in, int out) {
        this.in = in;
        this.out = out;
        weight = new Parameter(name + ".weight", out, in);
        bias = new Parameter(name + ".bias", out);
        w = new float[out][in];
        wt = new float[in][out];
        gw = new float[out][in];
        xRow = new float[in];
        yRow = new float[out];
        gxRow = new float[in];
    }

    public void init(Random r) {
        weight.initHe(in, r);
        Arrays.fill(bias.value, 0f);
        sync();
    }

    /** The weights, {@code [out][in]}. */
    public Parameter weight() {
        return weight;
    }

    /** One bias per output. */
    public Parameter bias() {
        return bias;
    }

    /** Values per input row. */
    public int inputs() {
        return in;
    }

    /** Values per output row. */
    public int outputs() {
        return out;
    }

    /** Copies the parameter values into the layer's working layouts; call after the values change. */
    public void sync() {
        for (int o = 0; o < out; o++) {
            System.arraycopy(weight.value, o * in, w[o], 0, in);
            for (int i = 0; i < in; i++) {
                wt[i][o] = w[o][i];
            }
        }
    }

    /** {@code y[b] = W·x[b] + bias} for the {@code n} rows of x ({@code n x in}) into y ({@code n x out}). */
    public void forward(float[] x, float[] y, int n) {
        for (int b = 0; b < n; b++) {
            System.arraycopy(x, b * in, xRow, 0, in);
            System.arraycopy(bias.value, 0, yRow, 0, out);
            for (int i = 0; i < in; i++) {
                float v = xRow[i];
                // inputs come from a ReLU: many are zero, and skipping them is free
                if (v != 0f) {
                    axpy(v, wt[i], yRow);
                }
            }
            System.arraycopy(yRow, 0, y, b * out, out);
        }
    }

    /**
     * Writes the gradients of the weight and bias for the output gradient {@code gy} (n x out),
     * and the input gradient into {@code gx} (n x in) unless it is null.
     */
    public void backward(float[] x, float[] gy, float[] gx, int n) {
        for (float[] row : gw) {
            Arrays.fill(row, 0f);
        }
        float[] gb = bias.grad;
        Arrays.fill(gb, 0f);
        for (int b = 0; b < n; b++) {
            System.arraycopy(x, b * in, xRow, 0, in);
            Arrays.fill(gxRow, 0f);
            for (int o = 0; o < out; o++) {
                float g = gy[b * out + o];
                if (g == 0f) {
                    continue;
                }
                gb[o] += g;
                axpy(g, xRow, gw[o]);
                if (gx != null) {
                    axpy(g, w[o], gxRow);
                }
            }
            if (gx != null) {
                System.arraycopy(gxRow, 0, gx, b * in, in);
            }
        }
        for (int o = 0; o < out; o++) {
            System.arraycopy(gw[o], 0, weight.grad, o * in, in);
        }
    }

    /** {@code y += a * x} over whole arrays of the same length. */
    private static void axpy(float a, float[] x, float[] y) {
        for (int i = 0; i < y.length; i++) {
            y[i] += a * x[i];
        }
    }
}
