package dev.conv4j.internal.volume;

import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Tensor;

/**
 * The reference 3-D passes: direct loops over the definition, accumulating in double, as the naive
 * engine does in 2-D.
 *
 * <p>{@code y[n,o,z,i,j] = b[o] + sum over c,a,p,q of xpad[n, g·C/G + c, z·sd + a·dd, i·sh + p·dh, j·sw + q·dw] · w[o,c,a,p,q]},
 * where {@code g = o / (O/G)} and {@code xpad} is x surrounded by the padding as real zeros: a padded
 * position contributes {@code 0 · w}, so a NaN or infinite weight makes every output whose window covers
 * padding NaN, as im2col + GEMM does. The backward passes scatter each output gradient back along the
 * same index map; the input gradient at padded positions is discarded. The sums are rounded to float once,
 * after adding what an accumulating pass adds to. Slow by design: every other engine is checked against
 * it. It copies the tensors to heap arrays, so it needs heap for them.
 */
final class NaiveVolume implements Conv3dKernels {
    static final NaiveVolume INSTANCE = new NaiveVolume();

    private NaiveVolume() {
    }

    @Override
    public void forward(Conv3dGeometry g, Tensor xt, Tensor wt, Tensor bt, Tensor yt, boolean accumulate) {
        float[] x = xt.toArray(), w = wt.toArray(), b = bt == null ? null : bt.toArray();
        float[] y = accumulate ? yt.toArray() : new float[g.n * g.o * g.outVolume()];
        for (int n = 0; n < g.n; n++) {
            for (int o = 0; o < g.o; o++) {
                int c0 = (o / g.og) * g.cg;
                for (int z = 0; z < g.od; z++) {
                    for (int i = 0; i < g.oh; i++) {
                        for (int j = 0; j < g.ow; j++) {
                            double sum = b == null ? 0 : b[o];
                            for (int c = 0; c < g.cg; c++) {
                                for (int a = 0; a < g.kd; a++) {
                                    int id = z * g.strideD - g.padFront + a * g.dilationD;
                                    for (int p = 0; p < g.kh; p++) {
                                        int ih = i * g.strideH - g.padTop + p * g.dilationH;
                                        for (int q = 0; q < g.kw; q++) {
                                            int iw = j * g.strideW - g.padLeft + q * g.dilationW;
                                            sum += xpad(g, x, n, c0 + c, id, ih, iw) * w[wIndex(g, o, c, a, p, q)];
                                        }
                                    }
                                }
                            }
                            int at = yIndex(g, n, o, z, i, j);
                            y[at] = (float) (accumulate ? y[at] + sum : sum);
                        }
                    }
                }
            }
        }
        yt.copyFrom(y);
    }

    @Override
    public void backwardData(Conv3dGeometry g, Tensor gyt, Tensor wt, Tensor gxt, boolean accumulate) {
        float[] gy = gyt.toArray(), w = wt.toArray();
        double[] gx = new double[g.n * g.c * g.inVolume()];
        for (int n = 0; n < g.n; n++) {
            for (int o = 0; o < g.o; o++) {
                int c0 = (o / g.og) * g.cg;
                for (int z = 0; z < g.od; z++) {
                    for (int i = 0; i < g.oh; i++) {
                        for (int j = 0; j < g.ow; j++) {
                            double d = gy[yIndex(g, n, o, z, i, j)];
                            for (int c = 0; c < g.cg; c++) {
                                for (int a = 0; a < g.kd; a++) {
                                    int id = z * g.strideD - g.padFront + a * g.dilationD;
                                    if (id < 0 || id >= g.d) {
                                        continue;
                                    }
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
                                            gx[xIndex(g, n, c0 + c, id, ih, iw)] += d * w[wIndex(g, o, c, a, p, q)];
                                        }
                                    }
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
    public void backwardWeights(Conv3dGeometry g, Tensor xt, Tensor gyt, Tensor gwt, Tensor gbt, boolean accumulate) {
        float[] x = xt.toArray(), gy = gyt.toArray();
        double[] gw = new double[g.o * g.k];
        double[] gb = new double[g.o];
        for (int n = 0; n < g.n; n++) {
            for (int o = 0; o < g.o; o++) {
                int c0 = (o / g.og) * g.cg;
                for (int z = 0; z < g.od; z++) {
                    for (int i = 0; i < g.oh; i++) {
                        for (int j = 0; j < g.ow; j++) {
                            double d = gy[yIndex(g, n, o, z, i, j)];
                            gb[o] += d; // for each channel: image by image, positions in order, as every engine sums
                            for (int c = 0; c < g.cg; c++) {
                                for (int a = 0; a < g.kd; a++) {
                                    int id = z * g.strideD - g.padFront + a * g.dilationD;
                                    for (int p = 0; p < g.kh; p++) {
                                        int ih = i * g.strideH - g.padTop + p * g.dilationH;
                                        for (int q = 0; q < g.kw; q++) {
                                            int iw = j * g.strideW - g.padLeft + q * g.dilationW;
                                            gw[wIndex(g, o, c, a, p, q)] += d * xpad(g, x, n, c0 + c, id, ih, iw);
                                        }
                                    }
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
        float[] out = accumulate ? t.toArray() : new float[sums.length];
        for (int i = 0; i < sums.length; i++) {
            out[i] = (float) (accumulate ? out[i] + sums[i] : sums[i]);
        }
        t.copyFrom(out);
    }

    /** The zero-padded input: a padded position is a real 0, multiplied like any other element (0 · Inf = NaN). */
    private static double xpad(Conv3dGeometry g, float[] x, int n, int c, int id, int ih, int iw) {
        return id < 0 || id >= g.d || ih < 0 || ih >= g.h || iw < 0 || iw >= g.w ? 0.0 : x[xIndex(g, n, c, id, ih, iw)];
    }

    private static int xIndex(Conv3dGeometry g, int n, int c, int d, int h, int w) {
        return (((n * g.c + c) * g.d + d) * g.h + h) * g.w + w;
    }

    private static int wIndex(Conv3dGeometry g, int o, int c, int a, int p, int q) {
        return (((o * g.cg + c) * g.kd + a) * g.kh + p) * g.kw + q;
    }

    private static int yIndex(Conv3dGeometry g, int n, int o, int z, int i, int j) {
        return (((n * g.o + o) * g.od + z) * g.oh + i) * g.ow + j;
    }
}
