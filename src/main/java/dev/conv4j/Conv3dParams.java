package dev.conv4j;

import dev.conv4j.Conv2dParams.AutoPad;
import java.util.Objects;

/**
 * The hyper-parameters of a 3-D convolution (video, volumes): stride, zero padding, dilation and
 * groups along depth, height and width. Immutable.
 *
 * <p>Shapes: x is N×C×D×H×W, w is O×(C/groups)×KD×KH×KW, bias is O, y is N×O×OD×OH×OW, all plain
 * row-major (NCDHW) tensors. Padding is either explicit (front, back, top, bottom, left, right;
 * asymmetric allowed) or automatic ({@link AutoPad}, resolved against the input and kernel size as
 * ONNX's {@code auto_pad} defines it, on each of the three axes). Dilation 1 means a dense kernel.
 * Output sizes use floor, as in PyTorch: {@code OD = (D + front + back - (dd*(KD-1)+1)) / sd + 1}, and
 * likewise OH and OW.
 *
 * <pre>{@code
 * Conv3dParams p = Conv3dParams.builder().stride(1, 2, 2).padding(1).build();
 * try (Tensor y = engine.forward(p, x, w, bias)) { ... }     // x [N, C, D, H, W], w [O, C, 3, 3, 3]
 * }</pre>
 */
public final class Conv3dParams {

    /** Stride 1, no padding, dilation 1, one group. */
    public static final Conv3dParams DEFAULT = builder().build();

    private final int strideD, strideH, strideW;
    private final int padFront, padBack, padTop, padBottom, padLeft, padRight;
    private final int dilationD, dilationH, dilationW;
    private final int groups;
    private final AutoPad autoPad;

    private Conv3dParams(Builder b) {
        strideD = b.strideD;
        strideH = b.strideH;
        strideW = b.strideW;
        padFront = b.padFront;
        padBack = b.padBack;
        padTop = b.padTop;
        padBottom = b.padBottom;
        padLeft = b.padLeft;
        padRight = b.padRight;
        dilationD = b.dilationD;
        dilationH = b.dilationH;
        dilationW = b.dilationW;
        groups = b.groups;
        autoPad = b.autoPad;
    }

    /** A builder starting from stride 1, no padding, dilation 1, one group. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this object's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.strideD = strideD;
        b.strideH = strideH;
        b.strideW = strideW;
        b.padFront = padFront;
        b.padBack = padBack;
        b.padTop = padTop;
        b.padBottom = padBottom;
        b.padLeft = padLeft;
        b.padRight = padRight;
        b.dilationD = dilationD;
        b.dilationH = dilationH;
        b.dilationW = dilationW;
        b.groups = groups;
        b.autoPad = autoPad;
        return b;
    }

    public int strideD() { return strideD; }
    public int strideH() { return strideH; }
    public int strideW() { return strideW; }
    public int dilationD() { return dilationD; }
    public int dilationH() { return dilationH; }
    public int dilationW() { return dilationW; }
    public int groups() { return groups; }
    public AutoPad autoPad() { return autoPad; }

    /** The explicit padding {front, back, top, bottom, left, right}; all zero when {@link #autoPad()} is not NOTSET. */
    public int[] explicitPadding() {
        return new int[] {padFront, padBack, padTop, padBottom, padLeft, padRight};
    }

    /**
     * The padding {front, back, top, bottom, left, right} applied to an input of spatial size
     * {@code d x h x w} with a kernel of size {@code kd x kh x kw}: the explicit padding, or the
     * automatic one resolved.
     *
     * @throws IllegalArgumentException if an automatic padding does not fit an int
     */
    public int[] padding(int d, int h, int w, int kd, int kh, int kw) {
        switch (autoPad) {
            case NOTSET:
                return explicitPadding();
            case VALID:
                return new int[6];
            default:
                boolean upper = autoPad == AutoPad.SAME_UPPER;
                int[] pd = samePad(d, kd, strideD, dilationD, upper);
                int[] ph = samePad(h, kh, strideH, dilationH, upper);
                int[] pw = samePad(w, kw, strideW, dilationW, upper);
                return new int[] {pd[0], pd[1], ph[0], ph[1], pw[0], pw[1]};
        }
    }

    /** ONNX's SAME padding of one axis: output {@code ceil(in / s)}, the odd pixel at the end (upper) or the beginning. */
    private static int[] samePad(int in, int k, int s, int d, boolean upper) {
        long effK = (long) d * (k - 1) + 1;
        long out = (in + (long) s - 1) / s;
        long total = Math.max(0, (out - 1) * s + effK - in);
        long small = total / 2, big = total - small;
        if (big > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("same padding of " + total + " does not fit an int");
        }
        return upper ? new int[] {(int) small, (int) big} : new int[] {(int) big, (int) small};
    }

    /**
     * The output shape {N, O, OD, OH, OW} for an input {N, C, D, H, W} and a weight
     * {O, C/groups, KD, KH, KW}.
     *
     * @throws IllegalArgumentException if the shapes are not valid for these parameters, naming the problem
     */
    public int[] outputShape(int[] inputShape, int[] weightShape) {
        return Conv3dGeometry.of(this, inputShape, weightShape).outputShape();
    }

    /** Throws IllegalArgumentException naming the first value that is out of range. */
    private void check() {
        if (strideD < 1 || strideH < 1 || strideW < 1) {
            throw new IllegalArgumentException("stride must be at least 1, got (" + strideD + ", " + strideH + ", " + strideW + ")");
        }
        if (dilationD < 1 || dilationH < 1 || dilationW < 1) {
            throw new IllegalArgumentException("dilation must be at least 1, got (" + dilationD + ", " + dilationH + ", "
                    + dilationW + ")");
        }
        if (padFront < 0 || padBack < 0 || padTop < 0 || padBottom < 0 || padLeft < 0 || padRight < 0) {
            throw new IllegalArgumentException("padding must not be negative, got (front " + padFront + ", back " + padBack
                    + ", top " + padTop + ", bottom " + padBottom + ", left " + padLeft + ", right " + padRight + ")");
        }
        if (groups < 1) {
            throw new IllegalArgumentException("groups must be at least 1, got " + groups);
        }
        Objects.requireNonNull(autoPad, "autoPad");
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Conv3dParams)) {
            return false;
        }
        Conv3dParams p = (Conv3dParams) o;
        return strideD == p.strideD && strideH == p.strideH && strideW == p.strideW && padFront == p.padFront
                && padBack == p.padBack && padTop == p.padTop && padBottom == p.padBottom && padLeft == p.padLeft
                && padRight == p.padRight && dilationD == p.dilationD && dilationH == p.dilationH
                && dilationW == p.dilationW && groups == p.groups && autoPad == p.autoPad;
    }

    @Override
    public int hashCode() {
        // computed in place: a call looks its geometry up by it without allocating
        int h = 31 * (31 * (31 + strideD) + strideH) + strideW;
        h = 31 * (31 * (31 * (31 * (31 * (31 * h + padFront) + padBack) + padTop) + padBottom) + padLeft) + padRight;
        h = 31 * (31 * (31 * h + dilationD) + dilationH) + dilationW;
        return 31 * (31 * h + groups) + autoPad.ordinal();
    }

    @Override
    public String toString() {
        String pad = autoPad == AutoPad.NOTSET
                ? "padding=(" + padFront + "," + padBack + "," + padTop + "," + padBottom + "," + padLeft + "," + padRight + ")"
                : "autoPad=" + autoPad;
        return "Conv3dParams{stride=(" + strideD + "," + strideH + "," + strideW + "), " + pad + ", dilation=(" + dilationD
                + "," + dilationH + "," + dilationW + "), groups=" + groups + "}";
    }

    /** Builds {@link Conv3dParams}; {@link #build()} rejects out-of-range values. */
    public static final class Builder {
        private int strideD = 1, strideH = 1, strideW = 1;
        private int padFront, padBack, padTop, padBottom, padLeft, padRight;
        private int dilationD = 1, dilationH = 1, dilationW = 1;
        private int groups = 1;
        private AutoPad autoPad = AutoPad.NOTSET;

        private Builder() {
        }

        /** The same stride along depth, height and width. */
        public Builder stride(int s) {
            return stride(s, s, s);
        }

        public Builder stride(int sd, int sh, int sw) {
            strideD = sd;
            strideH = sh;
            strideW = sw;
            return this;
        }

        /** The same explicit zero padding on all six sides. */
        public Builder padding(int p) {
            return padding(p, p, p, p, p, p);
        }

        /** Symmetric explicit padding: {@code pd} planes in front and behind, {@code ph} rows above and below, {@code pw} columns left and right. */
        public Builder padding(int pd, int ph, int pw) {
            return padding(pd, pd, ph, ph, pw, pw);
        }

        /** Explicit, possibly asymmetric, zero padding. Clears any {@link AutoPad} mode. */
        public Builder padding(int front, int back, int top, int bottom, int left, int right) {
            padFront = front;
            padBack = back;
            padTop = top;
            padBottom = bottom;
            padLeft = left;
            padRight = right;
            autoPad = AutoPad.NOTSET;
            return this;
        }

        /** Automatic padding on all three axes, resolved per input; NOTSET returns to the explicit padding. */
        public Builder autoPad(AutoPad mode) {
            if (mode == null) {
                throw new IllegalArgumentException("autoPad must not be null");
            }
            autoPad = mode;
            if (mode != AutoPad.NOTSET) {
                padFront = padBack = padTop = padBottom = padLeft = padRight = 0;
            }
            return this;
        }

        /** The same dilation along depth, height and width (1 = dense kernel). */
        public Builder dilation(int d) {
            return dilation(d, d, d);
        }

        public Builder dilation(int dd, int dh, int dw) {
            dilationD = dd;
            dilationH = dh;
            dilationW = dw;
            return this;
        }

        /** Number of groups; C and O must both be divisible by it. Depthwise: groups = C. */
        public Builder groups(int g) {
            groups = g;
            return this;
        }

        /** @throws IllegalArgumentException naming the first out-of-range value */
        public Conv3dParams build() {
            Conv3dParams p = new Conv3dParams(this);
            p.check();
            return p;
        }
    }
}
