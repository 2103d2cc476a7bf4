package dev.conv4j;

import java.util.Arrays;

/**
 * The fully resolved sizes of one convolution: input N×C×H×W, weight O×(C/G)×KH×KW, output
 * N×O×OH×OW, stride, the padding on each side and dilation. Creating one validates the shapes, so
 * every engine works from sizes that are known to be consistent and whose products fit in an
 * {@code int} per tensor.
 */
public final class ConvGeometry {
    public final int n, c, h, w;
    public final int o, kh, kw;
    public final int oh, ow;
    public final int strideH, strideW;
    public final int padTop, padBottom, padLeft, padRight;
    public final int dilationH, dilationW;
    public final int groups;
    /** The forward algorithm asked for. */
    public final ConvAlgorithm algorithm;
    /** Channels per group: C/G input, O/G output. */
    public final int cg, og;
    /** Rows of the column matrix of one group: (C/G)·KH·KW. */
    public final int k;

    private ConvGeometry(Conv2dParams p, int[] x, int[] wt, int[] pad, int oh, int ow) {
        n = x[0];
        c = x[1];
        h = x[2];
        w = x[3];
        o = wt[0];
        kh = wt[2];
        kw = wt[3];
        this.oh = oh;
        this.ow = ow;
        strideH = p.strideH();
        strideW = p.strideW();
        padTop = pad[0];
        padBottom = pad[1];
        padLeft = pad[2];
        padRight = pad[3];
        dilationH = p.dilationH();
        dilationW = p.dilationW();
        groups = p.groups();
        algorithm = p.algorithm();
        cg = c / groups;
        og = o / groups;
        k = cg * kh * kw;
    }

    /**
     * Resolves and validates a convolution of an input of shape {@code inputShape} (N, C, H, W) with
     * a weight of shape {@code weightShape} (O, C/groups, KH, KW).
     *
     * @throws IllegalArgumentException naming the parameter and the shapes when they do not fit
     */
    public static ConvGeometry of(Conv2dParams p, int[] inputShape, int[] weightShape) {
        if (p == null) {
            throw new IllegalArgumentException("params must not be null");
        }
        checkRank4(inputShape, "input");
        checkRank4(weightShape, "weight");
        int g = p.groups();
        int c = inputShape[1], o = weightShape[0];
        if (c % g != 0) {
            throw new IllegalArgumentException("groups " + g + " does not divide the input channels C=" + c + context(inputShape, weightShape, g));
        }
        if (o % g != 0) {
            throw new IllegalArgumentException("groups " + g + " does not divide the output channels O=" + o + context(inputShape, weightShape, g));
        }
        if (weightShape[1] != c / g) {
            throw new IllegalArgumentException("weight dimension 1 must be C/groups = " + (c / g) + " but is "
                    + weightShape[1] + context(inputShape, weightShape, g));
        }
        int[] pad = p.padding(inputShape[2], inputShape[3], weightShape[2], weightShape[3]);
        long oh = outSize(inputShape[2], pad[0], pad[1], weightShape[2], p.dilationH(), p.strideH());
        long ow = outSize(inputShape[3], pad[2], pad[3], weightShape[3], p.dilationW(), p.strideW());
        if (oh < 1 || ow < 1) {
            throw new IllegalArgumentException("the output would be empty (" + oh + " x " + ow
                    + "): the dilated kernel (" + effective(weightShape[2], p.dilationH()) + " x "
                    + effective(weightShape[3], p.dilationW()) + ") is larger than the padded input ("
                    + ((long) inputShape[2] + pad[0] + pad[1]) + " x " + ((long) inputShape[3] + pad[2] + pad[3]) + ")"
                    + context(inputShape, weightShape, g) + ", " + p);
        }
        if (exceedsInt(inputShape[0], o, oh, ow)) {
            throw new IllegalArgumentException("the output [" + inputShape[0] + ", " + o + ", " + oh + ", " + ow
                    + "] would have more than " + Integer.MAX_VALUE + " elements: it does not fit the 32-bit sizes of"
                    + " BLAS and the native kernels" + context(inputShape, weightShape, g));
        }
        // depthwise layers (one input channel per group) run on direct kernels and never build it
        if (!(c / g == 1 && g > 1) && exceedsInt(c / g, weightShape[2], weightShape[3], oh, ow)) {
            throw new IllegalArgumentException("one image's column matrix ((C/G)*KH*KW = " + (c / g) + "*" + weightShape[2]
                    + "*" + weightShape[3] + " rows x OH*OW = " + oh + "*" + ow + " columns) exceeds " + Integer.MAX_VALUE
                    + " elements: it does not fit the 32-bit sizes of BLAS and the native kernels"
                    + context(inputShape, weightShape, g));
        }
        // every engine computes input coordinates as out*stride - pad + k*dilation in int arithmetic
        if ((oh - 1) * p.strideH() + effective(weightShape[2], p.dilationH()) > Integer.MAX_VALUE
                || (ow - 1) * p.strideW() + effective(weightShape[3], p.dilationW()) > Integer.MAX_VALUE
                || (long) pad[0] + pad[1] + inputShape[2] > Integer.MAX_VALUE
                || (long) pad[2] + pad[3] + inputShape[3] > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the padded input or the strided, dilated kernel span exceeds "
                    + Integer.MAX_VALUE + " positions" + context(inputShape, weightShape, g) + ", " + p);
        }
        ConvGeometry geometry = new ConvGeometry(p, inputShape, weightShape, pad, (int) oh, (int) ow);
        if (p.algorithm().isWinograd() && !ConvAlgorithm.winogradApplies(geometry)) {
            throw new IllegalArgumentException("the " + p.algorithm() + " algorithm needs a 3x3 kernel, stride 1,"
                    + " dilation 1, one group and output sides below 2^30" + context(inputShape, weightShape, p.groups())
                    + ", " + p);
        }
        return geometry;
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

    private static void checkRank4(int[] shape, String name) {
        if (shape == null) {
            throw new IllegalArgumentException(name + " shape must not be null");
        }
        if (shape.length != 4) {
            throw new IllegalArgumentException(name + " must have rank 4 but has shape " + Arrays.toString(shape));
        }
        for (int d : shape) {
            if (d < 1) {
                throw new IllegalArgumentException(name + " shape " + Arrays.toString(shape) + " has a dimension below 1");
            }
        }
    }

    public int[] inputShape() {
        return new int[] {n, c, h, w};
    }

    public int[] weightShape() {
        return new int[] {o, cg, kh, kw};
    }

    public int[] outputShape() {
        return new int[] {n, o, oh, ow};
    }

    /** Output positions per image and channel: OH·OW. */
    public int outPlane() {
        return oh * ow;
    }

    /** Input positions per image and channel: H·W. */
    public int inPlane() {
        return h * w;
    }

    /** Multiply-adds of one pass, doubled: 2·N·O·(C/G)·KH·KW·OH·OW. */
    public double flops() {
        return 2.0 * n * o * (double) k * oh * ow;
    }

    /** True when the column matrix of an image equals its input (1x1 kernel, stride 1, no padding). */
    public boolean isPointwise() {
        return kh == 1 && kw == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padBottom == 0
                && padLeft == 0 && padRight == 0;
    }

    /** True for depthwise convolution: one input channel per group (groups = C). */
    public boolean isDepthwise() {
        return cg == 1 && groups > 1;
    }

    @Override
    public String toString() {
        return "x" + Arrays.toString(inputShape()) + " w" + Arrays.toString(weightShape()) + " -> y"
                + Arrays.toString(outputShape()) + " stride (" + strideH + "," + strideW + ") pad (" + padTop + ","
                + padBottom + "," + padLeft + "," + padRight + ") dilation (" + dilationH + "," + dilationW
                + ") groups " + groups;
    }
}
