package dev.conv4j.internal.engine;

import dev.conv4j.ConvGeometry;
import java.nio.FloatBuffer;

/**
 * im2col and col2im in Java, the same loops as {@code native/im2col/}: the column matrix
 * of channels [c0, c0+cn) of an image over output rows [oh0, oh0+rows) has cn·KH·KW rows and
 * rows·OW columns, held as an array of rows (see {@link Gemm} for why).
 */
final class Im2col {
    private Im2col() {
    }

    /**
     * Fills the rows of {@code col} (one per channel and kernel tap, rows·OW columns each) from the
     * image plane block starting at {@code xoff} of {@code x}.
     */
    static void im2col(ConvGeometry g, FloatBuffer x, int xoff, int cn, int oh0, int rows, float[][] cols) {
        int ow = g.ow, tap = 0;
        for (int c = 0; c < cn; c++) {
            int xc = xoff + c * g.h * g.w;
            for (int p = 0; p < g.kh; p++) {
                for (int q = 0; q < g.kw; q++, tap++) {
                    float[] col = cols[tap];
                    int iw0 = q * g.dilationW - g.padLeft;
                    int lo = firstValid(iw0, g.strideW, ow), hi = endValid(iw0, g.strideW, g.w, ow, lo);
                    for (int r = 0, k = 0; r < rows; r++, k += ow) {
                        int ih = (oh0 + r) * g.strideH - g.padTop + p * g.dilationH;
                        if (ih < 0 || ih >= g.h) {
                            java.util.Arrays.fill(col, k, k + ow, 0f);
                            continue;
                        }
                        int src = xc + ih * g.w + iw0;
                        java.util.Arrays.fill(col, k, k + lo, 0f);
                        if (g.strideW == 1) {
                            if (hi > lo) {
                                x.get(src + lo, col, k + lo, hi - lo);
                            }
                        } else {
                            for (int j = lo; j < hi; j++) {
                                col[k + j] = x.get(src + j * g.strideW);
                            }
                        }
                        java.util.Arrays.fill(col, k + hi, k + ow, 0f);
                    }
                }
            }
        }
    }

    /** Adds the rows of {@code cols} back onto the image block {@code x} (cn planes of H·W, from index 0). */
    static void col2im(ConvGeometry g, float[][] cols, int cn, int oh0, int rows, float[] x) {
        int ow = g.ow, tap = 0;
        for (int c = 0; c < cn; c++) {
            int xc = c * g.h * g.w;
            for (int p = 0; p < g.kh; p++) {
                for (int q = 0; q < g.kw; q++, tap++) {
                    float[] col = cols[tap];
                    int iw0 = q * g.dilationW - g.padLeft;
                    int lo = firstValid(iw0, g.strideW, ow), hi = endValid(iw0, g.strideW, g.w, ow, lo);
                    for (int r = 0, k = 0; r < rows; r++, k += ow) {
                        int ih = (oh0 + r) * g.strideH - g.padTop + p * g.dilationH;
                        if (ih < 0 || ih >= g.h) {
                            continue;
                        }
                        int dst = xc + ih * g.w + iw0;
                        if (g.strideW == 1) {
                            for (int j = lo; j < hi; j++) {
                                x[dst + j] += col[k + j];
                            }
                        } else {
                            for (int j = lo; j < hi; j++) {
                                x[dst + j * g.strideW] += col[k + j];
                            }
                        }
                    }
                }
            }
        }
    }

    /** The first output column whose input column {@code iw0 + j*sw} is not left of the image. */
    private static int firstValid(int iw0, int sw, int ow) {
        // in long: with a huge padding and a huge stride, -iw0 + sw would wrap around
        return (int) Math.min(ow, iw0 >= 0 ? 0 : (-(long) iw0 + sw - 1) / sw);
    }

    /** One past the last output column whose input column lies inside the image. */
    private static int endValid(int iw0, int sw, int w, int ow, int lo) {
        long hi = iw0 > w - 1 ? 0 : Math.min(ow, ((long) w - 1 - iw0) / sw + 1);
        return (int) Math.max(lo, hi);
    }
}
