package dev.conv4j;

import java.util.Arrays;

/**
 * Folding an inference-mode batch normalization into the convolution before it, so that a network
 * runs one fused forward pass per block instead of a convolution and a normalization.
 *
 * <p>Batch normalization after a convolution computes, per output channel o,
 * {@code bn(y) = (y − mean[o]) · γ[o] / √(var[o] + ε) + β[o]}. With {@code s = γ[o] / √(var[o] + ε)}, the
 * normalized convolution is the convolution with weights {@code w' = w · s} (every weight of output
 * channel o) and bias {@code b' = (b − mean[o]) · s + β[o]} (b = 0 without a bias). The result equals
 * the unfolded pair up to float32 rounding (the products are rounded once, in a different place).
 */
public final class BatchNorm {
    private BatchNorm() {
    }

    /**
     * Writes the folded weights and bias. Each value is computed in double from the float inputs and
     * rounded once: {@code s = γ / √(var + ε)}, {@code w' = (float) (w · s)},
     * {@code b' = (float) ((b − mean) · s + β)}. Every input is read in full before any output is
     * written, so {@code wOut} may be {@code w} and {@code biasOut} may be {@code bias} (in place).
     *
     * @param w       weights O×(C/groups)×KH×KW (OIHW, NCHW layout)
     * @param bias    the convolution's bias [O], or null for none
     * @param gamma   the normalization's scale γ [O]
     * @param beta    its shift β [O]
     * @param mean    its running mean [O]
     * @param var     its running variance [O]
     * @param eps     the ε added to the variance (PyTorch's default is 1e-5), finite and at least 0
     * @param wOut    the folded weights, w's shape; may be w
     * @param biasOut the folded bias [O]; may be bias
     * @throws IllegalArgumentException naming the argument when a tensor is null (but bias), a shape does
     *                                  not fit, ε is negative or not finite, {@code var + ε} is not positive
     *                                  for some channel, or wOut and biasOut share memory
     * @throws IllegalStateException    if a tensor is closed
     */
    public static void fold(Tensor w, Tensor bias, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps,
                            Tensor wOut, Tensor biasOut) {
        Tensor[] all = {w, bias, gamma, beta, mean, var, wOut, biasOut};
        String[] names = {"w", "bias", "gamma", "beta", "mean", "var", "wOut", "biasOut"};
        for (int i = 0; i < all.length; i++) {
            if (all[i] == null && i != 1) {
                throw new IllegalArgumentException(names[i] + " must not be null");
            }
        }
        int held = 0;
        try {
            for (; held < all.length; held++) {
                if (all[held] != null) {
                    try {
                        all[held].acquire();
                    } catch (IllegalStateException e) {
                        throw new IllegalStateException(names[held] + ": " + e.getMessage(), e);
                    }
                }
            }
            foldAcquired(w, bias, gamma, beta, mean, var, eps, wOut, biasOut);
        } finally {
            for (int i = held - 1; i >= 0; i--) {
                if (all[i] != null) {
                    all[i].release();
                }
            }
        }
    }

    private static void foldAcquired(Tensor w, Tensor bias, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps,
                                     Tensor wOut, Tensor biasOut) {
        int[] ws = w.shape();
        if (ws.length != 4 || w.layout() != Layout.NCHW) {
            throw new IllegalArgumentException("w must be OIHW weights of rank 4 in NCHW layout, but is "
                    + Arrays.toString(ws) + " " + w.layout());
        }
        int o = ws[0];
        checkVector(bias, "bias", o);
        checkVector(gamma, "gamma", o);
        checkVector(beta, "beta", o);
        checkVector(mean, "mean", o);
        checkVector(var, "var", o);
        checkVector(biasOut, "biasOut", o);
        if (!Arrays.equals(wOut.shape(), ws) || wOut.layout() != Layout.NCHW) {
            throw new IllegalArgumentException("wOut has shape " + Arrays.toString(wOut.shape()) + " " + wOut.layout()
                    + " but must be w's, " + Arrays.toString(ws) + " NCHW");
        }
        if (!(eps >= 0) || Double.isInfinite(eps)) {
            throw new IllegalArgumentException("eps must be finite and at least 0, got " + eps);
        }
        if (wOut.overlaps(biasOut)) {
            throw new IllegalArgumentException("wOut and biasOut must not share memory");
        }
        float[] wt = w.toArray(), g = gamma.toArray(), be = beta.toArray(), m = mean.toArray(), v = var.toArray();
        float[] b = bias == null ? null : bias.toArray();
        double[] scale = new double[o];
        for (int i = 0; i < o; i++) {
            double d = (double) v[i] + eps;
            if (!(d > 0)) {
                throw new IllegalArgumentException("var + eps must be positive, but is " + d + " for channel " + i
                        + " (var " + v[i] + ", eps " + eps + ")");
            }
            scale[i] = g[i] / Math.sqrt(d);
        }
        int per = wt.length / o;
        float[] wf = new float[wt.length], bf = new float[o];
        for (int i = 0; i < o; i++) {
            for (int k = i * per; k < (i + 1) * per; k++) {
                wf[k] = (float) (wt[k] * scale[i]);
            }
            bf[i] = (float) (((b == null ? 0.0 : b[i]) - m[i]) * scale[i] + be[i]);
        }
        wOut.copyFrom(wf);
        biasOut.copyFrom(bf);
    }

    private static void checkVector(Tensor t, String name, int o) {
        if (t != null && (t.rank() != 1 || t.dim(0) != o)) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(t.shape()) + " but must be [" + o
                    + "], one value per output channel of w");
        }
    }
}
