package dev.conv4j.examples.resnet;

import dev.conv4j.examples.Parameter;
import java.util.HashMap;
import java.util.Map;

/**
 * Batch normalization over the channels of N×C×H×W activations (Ioffe and Szegedy, 2015), as
 * PyTorch's {@code BatchNorm2d} computes it, optionally followed by a ReLU ({@code relu}), the
 * pair ResNets use everywhere.
 *
 * <p>In training each channel is normalized by the mean and (biased) variance of its values in the
 * batch, then scaled by {@code weight} (γ) and shifted by {@code bias} (β); the running averages
 * used at inference move a tenth of the way to the batch's statistics (the variance unbiased) at
 * every step. In inference the running averages stand in for the batch's, which makes the layer an
 * affine map per channel that {@link dev.conv4j.BatchNorm#fold} folds into the convolution before it.
 *
 * <p>Sums run in double per channel, within a plane in several float partial sums (they keep the adds
 * independent, which is what makes the loop fast), each channel on one thread: the results do not
 * depend on the thread count. The passes over the data are as few as the statistics allow (the
 * activations of a batch do not fit in a cache, so each pass costs a trip to memory): one for both
 * moments, one to normalize (with the ReLU, and a residual block's shortcut, in the same loop), two
 * back. The normalized values are not stored: backward recomputes them from the input. The layer
 * owns its output and gradient arrays, one set per batch size.
 */
final class BatchNorm {
    static final double EPS = 1e-5, MOMENTUM = 0.1;

    private final String name;
    private final int channels;
    private final boolean relu;
    private final Parameter weight, bias;
    /** The running averages: not trained, but saved and loaded with the model. */
    final float[] runningMean, runningVar;
    private final float[] mean, invStd;
    private final ChannelLoop loop;
    private final Map<Integer, Buffers> buffers = new HashMap<>();

    BatchNorm(String name, int channels, boolean relu, ChannelLoop loop) {
        this.name = name;
        this.channels = channels;
        this.relu = relu;
        this.loop = loop;
        weight = new Parameter(name + ".weight", channels);
        bias = new Parameter(name + ".bias", channels);
        runningMean = new float[channels];
        runningVar = new float[channels];
        mean = new float[channels];
        invStd = new float[channels];
        java.util.Arrays.fill(weight.value, 1f);
        java.util.Arrays.fill(runningVar, 1f);
    }

    String name() {
        return name;
    }

    Parameter weight() {
        return weight;
    }

    Parameter bias() {
        return bias;
    }

    /**
     * Normalizes {@code x} (n×C×hw) by the batch's statistics into the layer's own output array,
     * which it returns, and updates the running averages. {@code x} must stay unchanged until the
     * backward pass, which reads it again.
     */
    float[] forwardTraining(float[] x, int n, int hw) {
        return forwardTraining(x, null, n, hw);
    }

    /**
     * As {@link #forwardTraining(float[], int, int)}, adding {@code residual} (n×C×hw, or null) to the
     * normalized values before the ReLU: the end of a residual block in one pass over the data.
     */
    float[] forwardTraining(float[] x, float[] residual, int n, int hw) {
        Buffers b = buffers(n, hw);
        b.x = x;
        float[] y = b.y, gamma = weight.value, beta = bias.value;
        long count = (long) n * hw;
        loop.forEach(channels, c -> {
            // one pass for both moments, about a value of the channel so that no large mean cancels
            float shift = x[c * hw];
            double sum = 0, squares = 0;
            for (int i = 0; i < n; i++) {
                int o = (i * channels + c) * hw;
                sum += shiftedSum(x, o, hw, shift);
                squares += shiftedSquares(x, o, hw, shift);
            }
            double centred = sum / count;
            double var = Math.max(0, squares / count - centred * centred);
            float m = (float) (shift + centred);
            float inv = (float) (1 / Math.sqrt(var + EPS));
            mean[c] = m;
            invStd[c] = inv;
            float scale = gamma[c] * inv, offset = beta[c] - m * scale;
            for (int i = 0; i < n; i++) {
                int o = (i * channels + c) * hw;
                if (residual != null) {
                    for (int k = o; k < o + hw; k++) {
                        y[k] = Math.max(x[k] * scale + offset + residual[k], 0f);
                    }
                } else if (relu) {
                    for (int k = o; k < o + hw; k++) {
                        y[k] = Math.max(x[k] * scale + offset, 0f);
                    }
                } else {
                    for (int k = o; k < o + hw; k++) {
                        y[k] = x[k] * scale + offset;
                    }
                }
            }
            runningMean[c] = (float) ((1 - MOMENTUM) * runningMean[c] + MOMENTUM * m);
            double unbiased = count > 1 ? var * count / (count - 1) : var;
            runningVar[c] = (float) ((1 - MOMENTUM) * runningVar[c] + MOMENTUM * unbiased);
        });
        return y;
    }

    /** Applies the running averages to {@code x} (n×C×hw), into the layer's own output array. */
    float[] forwardInference(float[] x, int n, int hw) {
        return forwardInference(x, null, n, hw);
    }

    /** As {@link #forwardInference(float[], int, int)}, adding {@code residual} (or null) before the ReLU. */
    float[] forwardInference(float[] x, float[] residual, int n, int hw) {
        Buffers b = buffers(n, hw);
        float[] y = b.y;
        loop.forEach(channels, c -> {
            float scale = (float) (weight.value[c] / Math.sqrt(runningVar[c] + EPS));
            float shift = bias.value[c] - runningMean[c] * scale;
            for (int i = 0; i < n; i++) {
                int o = (i * channels + c) * hw;
                if (residual != null) {
                    for (int k = o; k < o + hw; k++) {
                        y[k] = Math.max(x[k] * scale + shift + residual[k], 0f);
                    }
                } else {
                    for (int k = o; k < o + hw; k++) {
                        float v = x[k] * scale + shift;
                        y[k] = relu ? Math.max(v, 0f) : v;
                    }
                }
            }
        });
        return y;
    }

    /**
     * The backward pass of the last {@link #forwardTraining} of batch size n: writes the gradients of
     * γ and β, and returns the input gradient (the layer's own array) for the output gradient {@code gy}.
     * With a ReLU the gradient first passes only where the output is positive; that masked gradient
     * stays available from {@link #maskedGradient} (a residual block's shortcut needs it too).
     */
    float[] backward(float[] gy, int n, int hw) {
        Buffers b = buffers(n, hw);
        float[] gx = b.gx, x = b.x, y = b.y, g = relu ? b.masked : gy;
        long count = (long) n * hw;
        loop.forEach(channels, c -> {
            double sumG = 0, sumGX = 0;
            for (int i = 0; i < n; i++) {
                int o = (i * channels + c) * hw;
                if (relu) {
                    Gradients.passWhereActive(y, gy, g, o, o + hw);
                }
                sumG += sum(g, o, hw);
                sumGX += dot(g, x, o, hw);
            }
            // sum(g · xhat) = invStd · (sum(g · x) − mean · sum(g)): xhat is not kept, it is x again
            float m = mean[c], inv = invStd[c];
            double sumGH = inv * (sumGX - m * sumG);
            bias.grad[c] = (float) sumG;
            weight.grad[c] = (float) sumGH;
            float k1 = weight.value[c] * inv;
            float meanG = (float) (sumG / count), meanGH = (float) (sumGH / count);
            for (int i = 0; i < n; i++) {
                int o = (i * channels + c) * hw;
                for (int k = o; k < o + hw; k++) {
                    gx[k] = k1 * (g[k] - meanG - (x[k] - m) * inv * meanGH);
                }
            }
        });
        return gx;
    }

    /** The gradient after the ReLU's mask from the last {@link #backward} of batch size n (layers with a ReLU). */
    float[] maskedGradient(int n, int hw) {
        if (!relu) {
            throw new IllegalStateException(name + " has no ReLU");
        }
        return buffers(n, hw).masked;
    }

    /** The per-channel scale and shift the running averages make of the layer, for folding. */
    float[][] inferenceAffine() {
        float[] scale = new float[channels], shift = new float[channels];
        for (int c = 0; c < channels; c++) {
            scale[c] = (float) (weight.value[c] / Math.sqrt(runningVar[c] + EPS));
            shift[c] = bias.value[c] - runningMean[c] * scale[c];
        }
        return new float[][] {scale, shift};
    }

    private Buffers buffers(int n, int hw) {
        Buffers b = buffers.computeIfAbsent(n, k -> new Buffers(k * channels * hw));
        if (b.y.length != n * channels * hw) {
            throw new IllegalArgumentException(name + ": expected " + b.y.length / n / channels
                    + " values per channel plane, got " + hw);
        }
        return b;
    }

    private final class Buffers {
        final float[] y, gx, masked;
        /** The input of the last training pass, read again by backward. */
        float[] x;

        Buffers(int size) {
            y = new float[size];
            gx = new float[size];
            masked = relu ? new float[size] : null;
        }
    }

    static double sum(float[] a, int from, int len) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int k = from, end = from + len;
        for (; k + 8 <= end; k += 8) {
            s0 += a[k];
            s1 += a[k + 1];
            s2 += a[k + 2];
            s3 += a[k + 3];
            s4 += a[k + 4];
            s5 += a[k + 5];
            s6 += a[k + 6];
            s7 += a[k + 7];
        }
        double s = (double) ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        for (; k < end; k++) {
            s += a[k];
        }
        return s;
    }

    private static double shiftedSum(float[] a, int from, int len, float m) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int k = from, end = from + len;
        for (; k + 4 <= end; k += 4) {
            s0 += a[k] - m;
            s1 += a[k + 1] - m;
            s2 += a[k + 2] - m;
            s3 += a[k + 3] - m;
        }
        double s = (double) (s0 + s1) + (s2 + s3);
        for (; k < end; k++) {
            s += a[k] - m;
        }
        return s;
    }

    private static double shiftedSquares(float[] a, int from, int len, float m) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int k = from, end = from + len;
        for (; k + 4 <= end; k += 4) {
            float d0 = a[k] - m, d1 = a[k + 1] - m, d2 = a[k + 2] - m, d3 = a[k + 3] - m;
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }
        double s = (double) (s0 + s1) + (s2 + s3);
        for (; k < end; k++) {
            float d = a[k] - m;
            s += d * d;
        }
        return s;
    }

    private static double dot(float[] a, float[] b, int from, int len) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int k = from, end = from + len;
        for (; k + 4 <= end; k += 4) {
            s0 += a[k] * b[k];
            s1 += a[k + 1] * b[k + 1];
            s2 += a[k + 2] * b[k + 2];
            s3 += a[k + 3] * b[k + 3];
        }
        double s = (double) (s0 + s1) + (s2 + s3);
        for (; k < end; k++) {
            s += a[k] * b[k];
        }
        return s;
    }
}
