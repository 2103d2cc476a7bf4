package dev.conv4j;

import java.util.Arrays;

/**
 * The fully resolved sizes of one 3-D convolution: input N×C×D×H×W, weight O×(C/G)×KD×KH×KW,
 * output N×O×OD×OH×OW, stride, the padding on each of the six sides and dilation. Creating one
 * validates the shapes, so every engine works from sizes that are known to be consistent and whose
 * products fit in an {@code int} per tensor and per column matrix (the 32-bit sizes of BLAS and the
 * native kernels).
 */
public final class Conv3dGeometry {
    public final int n, c, d, h, w;
    public final int o, kd, kh, kw;
    public final int od, oh, ow;
    public final int strideD, strideH, strideW;
    public final int padFront, padBack, padTop, padBottom, padLeft, padRight;
    public final int dilationD, dilationH, dilationW;
    public final int groups;
    /** Channels per group: C/G input, O/G output. */
    public final int cg, og;
    /** Rows of the column matrix of one group: (C/G)·KD·KH·KW. */
    public final int k;

    private Conv3dGeometry(Conv3dParams p, int[] x, int[] wt, int[] pad, int od, int oh, int ow) {
        n = x[0];
        c = x[1];
        d = x[2];
        h = x[3];
        w = x[4];
        o = wt[0];
        kd = wt[2];
        kh = wt[3];
        kw = wt[4];
        this.od = od;
        this.oh = oh;
        this.ow = ow;
        strideD = p.strideD();
        strideH = p.strideH();
        strideW = p.strideW();
        padFront = pad[0];
        padBack = pad[1];
        padTop = pad[2];
        padBottom = pad[3];
        padLeft = pad[4];
        padRight = pad[5];
        dilationD = p.dilationD();
        dilationH = p.dilationH();
        dilationW = p.dilationW();
        groups = p.groups();
        cg = c / groups;
        og = o / groups;
        k = cg * kd * kh * kw;
    }

    /**
     * Resolves and validates a convolution of an input of shape {@code inputShape} (N, C, D, H, W)
     * with a weight of shape {@code weightShape} (O, C/groups, KD, KH, KW).
     *
     * @throws IllegalArgumentException naming the parameter and the shapes when they do not fit
     */
    public static Conv3dGeometry of(Conv3dParams p, int[] inputShape, int[] weightShape) {
        if (p == null) {
            throw new IllegalArgumentException("params must not be null");
        }
        checkRank5(inputShape, "input", "(N, C, D, H, W)");
        checkRank5(weightShape, "weight", "(O, C/groups, KD, KH, KW)");
        int g = p.groups();
        int c = inputShape[1], o = weightShape[0];
        if (c % g != 0) {
            throw new IllegalArgumentException("groups " + g + " does not divide the input channels C=" + c
                    + context(inputShape, weightShape, g));
        }
        if (o % g != 0) {
            throw new IllegalArgumentException("groups " + g + " does not divide the output channels O=" + o
                    + context(inputShape, weightShape, g));
        }
        if (weightShape[1] != c / g) {
            throw new IllegalArgumentException("weight dimension 1 must be C/groups = " + (c / g) + " but is "
                    + weightShape[1] + context(inputShape, weightShape, g));
        }
        if (exceedsInt(inputShape) || exceedsInt(weightShape)) {
            throw new IllegalArgumentException("the " + (exceedsInt(inputShape) ? "input" : "weight") + " would have more than "
                    + Integer.MAX_VALUE + " elements, the most a tensor holds" + context(inputShape, weightShape, g));
        }
        int[] pad = p.padding(inputShape[2], inputShape[3], inputShape[4], weightShape[2], weightShape[3], weightShape[4]);
        long od = outSize(inputShape[2], pad[0], pad[1], weightShape[2], p.dilationD(), p.strideD());
        long oh = outSize(inputShape[3], pad[2], pad[3], weightShape[3], p.dilationH(), p.strideH());
        long ow = outSize(inputShape[4], pad[4], pad[5], weightShape[4], p.dilationW(), p.strideW());
        if (od < 1 || oh < 1 || ow < 1) {
            throw new IllegalArgumentException("the output would be empty (" + od + " x " + oh + " x " + ow
                    + "): the dilated kernel (" + effective(weightShape[2], p.dilationD()) + " x "
                    + effective(weightShape[3], p.dilationH()) + " x " + effective(weightShape[4], p.dilationW())
                    + ") is larger than the padded input (" + ((long) inputShape[2] + pad[0] + pad[1]) + " x "
                    + ((long) inputShape[3] + pad[2] + pad[3]) + " x " + ((long) inputShape[4] + pad[4] + pad[5]) + ")"
                    + context(inputShape, weightShape, g) + ", " + p);
        }
        if (exceedsInt(inputShape[0], o, od, oh, ow)) {
            throw new IllegalArgumentException("the output [" + inputShape[0] + ", " + o + ", " + od + ", " + oh + ", " + ow
                    + "] would have more than " + Integer.MAX_VALUE + " elements: it does not fit the 32-bit sizes of"
                    + " BLAS and the native kernels" + context(inputShape, weightShape, g));
        }
        if (exceedsInt(c / g, weightShape[2], weightShape[3], weightShape[4], od, oh, ow)) {
            throw new IllegalArgumentException("one image's column matrix ((C/G)*KD*KH*KW = " + (c / g) + "*" + weightShape[2]
                    + "*" + weightShape[3] + "*" + weightShape[4] + " rows x OD*OH*OW = " + od + "*" + oh + "*" + ow
                    + " columns) exceeds " + Integer.MAX_VALUE + " elements: it does not fit the 32-bit sizes of BLAS and"
                    + " the native kernels" + context(inputShape, weightShape, g));
        }
        // every engine computes input coordinates as out*stride - pad + k*dilation in int arithmetic
        if (spanExceedsInt(od, p.strideD(), weightShape[2], p.dilationD(), inputShape[2], pad[0], pad[1])
                || spanExceedsInt(oh, p.strideH(), weightShape[3], p.dilationH(), inputShape[3], pad[2], pad[3])
                || spanExceedsInt(ow, p.strideW(), weightShape[4], p.dilationW(), inputShape[4], pad[4], pad[5])) {
            throw new IllegalArgumentException("the padded input or the strided, dilated kernel span exceeds "
                    + Integer.MAX_VALUE + " positions" + context(inputShape, weightShape, g) + ", " + p);
        }
        return new Conv3dGeometry(p, inputShape, weightShape, pad, (int) od, (int) oh, (int) ow);
    }

    /** True when the product of the (non-negative) factors exceeds Integer.MAX_VALUE; never overflows. */
    private static boolean exceedsInt(long... factors) {
        long n = 1;
        for (long f : factors) {
            if (f != 0 && n > Integer.MAX_VALUE / f) {
                return true;
            }
            n *= f;
        }
        return n > Integer.MAX_VALUE;
    }

    private static boolean exceedsInt(int[] shape) {
        long n = 1;
        for (int s : shape) {
            n *= s;  // at most 2^31 before each step: no long overflow
            if (n > Integer.MAX_VALUE) {
                return true;
            }
        }
        return false;
    }

    private static boolean spanExceedsInt(long out, int stride, int k, int dilation, int in, int padA, int padB) {
        return (out - 1) * stride + effective(k, dilation) > Integer.MAX_VALUE || (long) padA + padB + in > Integer.MAX_VALUE;
    }

    /** Built only when a message needs it: validation runs on every call of every engine. */
    private static String context(int[] inputShape, int[] weightShape, int groups) {
        return " (input " + Arrays.toString(inputShape) + ", weight " + Arrays.toString(weightShape)
                + ", groups " + groups + ")";
    }

    private static long effective(int k, int d) {
        return (long) d * (k - 1) + 1;
    }

    private static long outSize(int in, int padA, int padB, int k, int d, int s) {
        long span = (long) in + padA + padB - effective(k, d);
        return span < 0 ? 0 : span / s + 1;
    }

    private static void checkRank5(int[] shape, String name, String dims) {
        if (shape == null) {
            throw new IllegalArgumentException(name + " shape must not be null");
        }
        if (shape.length != 5) {
            throw new IllegalArgumentException(name + " must have rank 5 " + dims + " but has shape " + Arrays.toString(shape));
        }
        for (int s : shape) {
            if (s < 1) {
                throw new IllegalArgumentException(name + " shape " + Arrays.toString(shape) + " has a dimension below 1");
            }
        }
    }

    public int[] inputShape() {
        return new int[] {n, c, d, h, w};
    }

    public int[] weightShape() {
        return new int[] {o, cg, kd, kh, kw};
    }

    public int[] outputShape() {
        return new int[] {n, o, od, oh, ow};
    }

    /** Output positions per image and channel: OD·OH·OW. */
    public int outVolume() {
        return od * oh * ow;
    }

    /** Input positions per image and channel: D·H·W. */
    public int inVolume() {
        return d * h * w;
    }

    /** Output rows of OW positions per image and channel, the unit bands are cut in: OD·OH. */
    public int outRows() {
        return od * oh;
    }

    /** Kernel taps per channel: KD·KH·KW. */
    public int taps() {
        return kd * kh * kw;
    }

    /** Multiply-adds of one pass, doubled: 2·N·O·(C/G)·KD·KH·KW·OD·OH·OW. */
    public double flops() {
        return 2.0 * n * o * (double) k * od * oh * ow;
    }

    /** True when the column matrix of an image equals its input (1x1x1 kernel, stride 1, no padding). */
    public boolean isPointwise() {
        return kd == 1 && kh == 1 && kw == 1 && strideD == 1 && strideH == 1 && strideW == 1 && padFront == 0
                && padBack == 0 && padTop == 0 && padBottom == 0 && padLeft == 0 && padRight == 0;
    }

    /** True for depthwise convolution: one input channel per group (groups = C). */
    public boolean isDepthwise() {
        return cg == 1 && groups > 1;
    }

    @Override
    public String toString() {
        return "x" + Arrays.toString(inputShape()) + " w" + Arrays.toString(weightShape()) + " -> y"
                + Arrays.toString(outputShape()) + " stride (" + strideD + "," + strideH + "," + strideW + ") pad (" + padFront
                + "," + padBack + "," + padTop + "," + padBottom + "," + padLeft + "," + padRight + ") dilation (" + dilationD
                + "," + dilationH + "," + dilationW + ") groups " + groups;
    }
}
