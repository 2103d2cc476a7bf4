package dev.conv4j.internal.volume;

import dev.conv4j.Conv3dGeometry;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * vol2col and col2vol in Java, the same loops as {@code native/volume/vol2col.c}: the column matrix of
 * channels [c0, c0+cn) of an image over output rows [r0, r0+rows) (counted through the OD·OH rows of
 * each channel) has cn·KD·KH·KW rows and rows·OW columns, held as an array of rows for {@code Gemm}.
 */
final class Vol2col {
    private Vol2col() {
    }

    /**
     * Fills the rows of {@code cols} (one per channel and kernel tap, rows·OW columns each) from the cn
     * input volumes starting at {@code xoff} of {@code x}.
     */
    static void vol2col(Conv3dGeometry g, FloatBuffer x, int xoff, int cn, int r0, int rows, float[][] cols) {
        int ow = g.ow, volume = g.inVolume(), tap = 0;
        for (int c = 0; c < cn; c++) {
            int xc = xoff + c * volume;
            for (int a = 0; a < g.kd; a++) {
                for (int p = 0; p < g.kh; p++) {
                    for (int q = 0; q < g.kw; q++, tap++) {
                        float[] col = cols[tap];
                        int iw0 = q * g.dilationW - g.padLeft;
                        int lo = firstValid(iw0, g.strideW, ow), hi = endValid(iw0, g.strideW, g.w, ow, lo);
                        int zo = r0 / g.oh, yo = r0 % g.oh;
                        for (int r = 0, k = 0; r < rows; r++, k += ow) {
                            int row = row(g, xc, zo, yo, a, p);
                            if (++yo == g.oh) {
                                yo = 0;
                                zo++;
                            }
                            if (row < 0) {
                                Arrays.fill(col, k, k + ow, 0f);
                                continue;
                            }
                            Arrays.fill(col, k, k + lo, 0f);
                            if (g.strideW == 1) {
                                if (hi > lo) {
                                    x.get(row + (lo + iw0), col, k + lo, hi - lo);
                                }
                            } else {
                                for (int j = lo; j < hi; j++) {
                                    col[k + j] = x.get(row + (j * g.strideW + iw0));
                                }
                            }
                            Arrays.fill(col, k + hi, k + ow, 0f);
                        }
                    }
                }
            }
        }
    }

    /** Adds the rows of {@code cols} back onto the cn volumes of {@code x} (from index 0). */
    static void col2vol(Conv3dGeometry g, float[][] cols, int cn, int r0, int rows, float[] x) {
        int ow = g.ow, volume = g.inVolume(), tap = 0;
        for (int c = 0; c < cn; c++) {
            int xc = c * volume;
            for (int a = 0; a < g.kd; a++) {
                for (int p = 0; p < g.kh; p++) {
                    for (int q = 0; q < g.kw; q++, tap++) {
                        float[] col = cols[tap];
                        int iw0 = q * g.dilationW - g.padLeft;
                        int lo = firstValid(iw0, g.strideW, ow), hi = endValid(iw0, g.strideW, g.w, ow, lo);
                        int zo = r0 / g.oh, yo = r0 % g.oh;
                        for (int r = 0, k = 0; r < rows; r++, k += ow) {
                            int row = row(g, xc, zo, yo, a, p);
                            if (++yo == g.oh) {
                                yo = 0;
                                zo++;
                            }
                            if (row < 0) {
                                continue;
                            }
                            for (int j = lo; j < hi; j++) {
                                x[row + (j * g.strideW + iw0)] += col[k + j];
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * The index of the first element of the input row that tap (a, p) reads for output plane zo, row
     * yo, from the channel's volume at {@code xc}; -1 in the padding.
     */
    private static int row(Conv3dGeometry g, int xc, int zo, int yo, int a, int p) {
        int id = zo * g.strideD - g.padFront + a * g.dilationD;
        int ih = yo * g.strideH - g.padTop + p * g.dilationH;
        return id < 0 || id >= g.d || ih < 0 || ih >= g.h ? -1 : xc + (id * g.h + ih) * g.w;
    }

    /** The first output column whose input column {@code iw0 + j*sw} is not left of the row. */
    private static int firstValid(int iw0, int sw, int ow) {
        // in long: with a huge padding and a huge stride, -iw0 + sw would wrap around
        return (int) Math.min(ow, iw0 >= 0 ? 0 : (-(long) iw0 + sw - 1) / sw);
    }

    /** One past the last output column whose input column lies inside the row. */
    private static int endValid(int iw0, int sw, int w, int ow, int lo) {
        long hi = iw0 > w - 1 ? 0 : Math.min(ow, ((long) w - 1 - iw0) / sw + 1);
        return (int) Math.max(lo, hi);
    }
}
