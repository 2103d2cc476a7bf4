package dev.conv4j.internal.engine;

import dev.conv4j.Activation;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;

/**
 * The reference engine: direct loops over the definition of convolution, accumulating in double.
 *
 * <p>{@code y[n,o,i,j] = b[o] + sum over c,p,q of xpad[n, g·C/G + c, i·sh + p·dh, j·sw + q·dw] · w[o,c,p,q]},
 * where {@code g = o / (O/G)} and {@code xpad} is x surrounded by the padding as real zeros (as PyTorch
 * defines it): a padded position contributes {@code 0 · w}, so a NaN or infinite weight makes every
 * output whose window covers padding NaN, and an infinite output gradient does the same to the weight
 * gradient. The backward passes scatter each output gradient back along the same index map, so the
 * three passes share one definition of which input touches which output; the input gradient at padded
 * positions is discarded. Slow by design: it is what every other engine is checked against. It copies
 * the tensors to heap arrays, so it needs heap for them.
 *
 * <p>It reads and writes every layout itself, through heap arrays in logical (N, C, H, W) order, so its
 * arithmetic, and its bits, are the same in every layout. Its fused forward pass is the definition of
 * the epilogue: the sum, bias included, rounded once to float, then in float the residual added and the
 * activation applied ({@code y = act((float) sum + r)}, see {@link Activation}).
 */
public final class NaiveEngine extends AbstractConvEngine {

    @Override
    public String name() {
        return "naive";
    }

    @Override
    protected boolean runsLayouts(ConvGeometry g, Pass pass, Layout in, Layout out) {
        return true;
    }

    @Override
    protected boolean fusesEpilogue(ConvGeometry g, Layout y, Layout residual, boolean inPlace, Activation act) {
        return true; // the residual is read whole before y is written
    }

    @Override
    protected void forward(ConvGeometry g, Tensor xt, Tensor wt, Tensor bt, Tensor yt) {
        forward(g, xt, wt, bt, null, Activation.NONE, yt);
    }

    @Override
    protected void forward(ConvGeometry g, Tensor xt, Tensor wt, Tensor bt, Tensor rt, Activation act, Tensor yt) {
        float[] x = logical(xt), w = wt.toArray(), b = bt == null ? null : bt.toArray();
        float[] r = rt == null ? null : logical(rt);
        float lo = act.min(), hi = act.max();
        float[] y = new float[g.n * g.o * g.oh * g.ow];
        for (int n = 0; n < g.n; n++) {
            for (int o = 0; o < g.o; o++) {
                int c0 = (o / g.og) * g.cg;
                for (int i = 0; i < g.oh; i++) {
                    for (int j = 0; j < g.ow; j++) {
                        double sum = b == null ? 0 : b[o];
                        for (int c = 0; c < g.cg; c++) {
                            for (int p = 0; p < g.kh; p++) {
                                int ih = i * g.strideH - g.padTop + p * g.dilationH;
                                for (int q = 0; q < g.kw; q++) {
                                    int iw = j * g.strideW - g.padLeft + q * g.dilationW;
                                    sum += xpad(g, x, n, c0 + c, ih, iw) * w[wIndex(g, o, c, p, q)];
                                }
                            }
                        }
                        int at = yIndex(g, n, o, i, j);
                        float acc = (float) sum;
                        float v = r == null ? acc : acc + r[at];
                        y[at] = v < lo ? lo : v > hi ? hi : v;
                    }
                }
            }
        }
        store(y, yt);
    }

    @Override
    protected void backwardData(ConvGeometry g, Tensor gyt, Tensor wt, Tensor gxt, boolean accumulate) {
        float[] gy = logical(gyt), w = wt.toArray();
        double[] gx = new double[g.n * g.c * g.h * g.w];
        for (int n = 0; n < g.n; n++) {
            for (int o = 0; o < g.o; o++) {
                int c0 = (o / g.og) * g.cg;
                for (int i = 0; i < g.oh; i++) {
                    for (int j = 0; j < g.ow; j++) {
                        double d = gy[yIndex(g, n, o, i, j)];
                        for (int c = 0; c < g.cg; c++) {
                            for (int p = 0; p < g.kh; p++) {
                                int ih = i * g.strideH - g.padTop + p * g.dilationH;
                                if (ih < 0 || ih >= g.h) {
                                    continue;
                                }
                                for (int q = 0; q < g.kw; q++) {
                                    int iw = j * g.strideW - g.padLeft + q * g.dilationW;
                                    if (iw < 0 || iw >= g.w) {
                                        continue;
                                    }
                                    gx[xIndex(g, n, c0 + c, ih, iw)] += d * w[wIndex(g, o, c, p, q)];
                                }
                            }
                        }
                    }
                }
            }
        }
        store(gx, gxt, accumulate);
    }

    @Override
    protected void backwardWeights(ConvGeometry g, Tensor xt, Tensor gyt, Tensor gwt, Tensor gbt, boolean accumulate) {
        float[] x = logical(xt), gy = logical(gyt);
        double[] gw = new double[g.o * g.cg * g.kh * g.kw];
        double[] gb = new double[g.o];
        for (int n = 0; n < g.n; n++) {
            for (int o = 0; o < g.o; o++) {
                int c0 = (o / g.og) * g.cg;
                for (int i = 0; i < g.oh; i++) {
                    for (int j = 0; j < g.ow; j++) {
                        double d = gy[yIndex(g, n, o, i, j)];
                        gb[o] += d;
                        for (int c = 0; c < g.cg; c++) {
                            for (int p = 0; p < g.kh; p++) {
                                int ih = i * g.strideH - g.padTop + p * g.dilationH;
                                for (int q = 0; q < g.kw; q++) {
                                    int iw = j * g.strideW - g.padLeft + q * g.dilationW;
                                    gw[wIndex(g, o, c, p, q)] += d * xpad(g, x, n, c0 + c, ih, iw);
                                }
                            }
                        }
                    }
                }
            }
        }
        store(gw, gwt, accumulate);
        if (gbt != null) {
            store(gb, gbt, accumulate);
        }
    }

    /** Rounds the double sums to float once, adding the tensor's current values first when accumulating. */
    private static void store(double[] sums, Tensor t, boolean accumulate) {
        float[] out = accumulate ? logical(t) : new float[sums.length];
        for (int i = 0; i < sums.length; i++) {
            out[i] = (float) (accumulate ? out[i] + sums[i] : sums[i]);
        }
        store(out, t);
    }

    /** A tensor's elements in logical (N, C, H, W) order, whatever its layout. */
    private static float[] logical(Tensor t) {
        if (t.layout() == Layout.NCHW) {
            return t.toArray();
        }
        try (Tensor nchw = t.toLayout(Layout.NCHW)) {
            return nchw.toArray();
        }
    }

    /** Writes elements given in logical order into a tensor of any layout. */
    private static void store(float[] logical, Tensor t) {
        if (t.layout() == Layout.NCHW) {
            t.copyFrom(logical);
            return;
        }
        try (Tensor nchw = Tensor.of(logical, t.shape())) {
            Reorder.copy(nchw, t);
        }
    }

    /**
     * The zero-padded input {@code xpad}: a padded position is a real 0, multiplied like any other
     * element, so {@code 0 · Inf = NaN} and {@code 0 · NaN = NaN} reach the sums exactly as in
     * im2col + GEMM, which multiplies the zeros it writes into the column matrix.
     */
    private static double xpad(ConvGeometry g, float[] x, int n, int c, int ih, int iw) {
        return ih < 0 || ih >= g.h || iw < 0 || iw >= g.w ? 0.0 : x[xIndex(g, n, c, ih, iw)];
    }

    private static int xIndex(ConvGeometry g, int n, int c, int h, int w) {
        return ((n * g.c + c) * g.h + h) * g.w + w;
    }

    private static int wIndex(ConvGeometry g, int o, int c, int p, int q) {
        return ((o * g.cg + c) * g.kh + p) * g.kw + q;
    }

    private static int yIndex(ConvGeometry g, int n, int o, int i, int j) {
        return ((n * g.o + o) * g.oh + i) * g.ow + j;
    }
}
