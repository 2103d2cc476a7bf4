package dev.conv4j;

import java.util.Objects;

/**
 * The hyper-parameters of a 2-D convolution: stride, zero padding, dilation and groups. Immutable.
 *
 * <p>Padding is either explicit (top, bottom, left, right; asymmetric allowed) or automatic
 * ({@link AutoPad}), resolved against the input and kernel size exactly as ONNX's {@code auto_pad}
 * and TensorFlow's {@code padding="SAME"/"VALID"} define it. Dilation 1 means a dense kernel (as in
 * PyTorch and ONNX). Output sizes use floor: {@code OH = (H + top + bottom - (dh*(KH-1)+1)) / sh + 1}.
 *
 * <pre>{@code
 * Conv2dParams p = Conv2dParams.builder().stride(2).padding(1).build();
 * Conv2dParams same = Conv2dParams.same(1);          // TensorFlow "SAME" / ONNX SAME_UPPER
 * }</pre>
 */
public final class Conv2dParams {

    /** Automatic padding modes, as ONNX {@code auto_pad} defines them. */
    public enum AutoPad {
        /** The explicit padding of the builder is used. */
        NOTSET,
        /** Output size {@code ceil(in / stride)}; an odd extra padding pixel goes at the end (TensorFlow "SAME"). */
        SAME_UPPER,
        /** Output size {@code ceil(in / stride)}; an odd extra padding pixel goes at the beginning. */
        SAME_LOWER,
        /** No padding. */
        VALID
    }

    /** Stride 1, no padding, dilation 1, one group. */
    public static final Conv2dParams DEFAULT = builder().build();

    private final int strideH, strideW;
    private final int padTop, padBottom, padLeft, padRight;
    private final int dilationH, dilationW;
    private final int groups;
    private final AutoPad autoPad;
    private final ConvAlgorithm algorithm;

    private Conv2dParams(Builder b) {
        strideH = b.strideH;
        strideW = b.strideW;
        padTop = b.padTop;
        padBottom = b.padBottom;
        padLeft = b.padLeft;
        padRight = b.padRight;
        dilationH = b.dilationH;
        dilationW = b.dilationW;
        groups = b.groups;
        autoPad = b.autoPad;
        algorithm = b.algorithm;
    }

    /** A builder starting from stride 1, no padding, dilation 1, one group. */
    public static Builder builder() {
        return new Builder();
    }

    /** "Same" padding (ONNX SAME_UPPER, TensorFlow SAME) with the given stride: output = ceil(input / stride). */
    public static Conv2dParams same(int stride) {
        return builder().stride(stride).autoPad(AutoPad.SAME_UPPER).build();
    }

    /** "Same" padding with stride 1: the output has the input's spatial size. */
    public static Conv2dParams same() {
        return same(1);
    }

    /** "Valid" convolution (no padding) with the given stride. */
    public static Conv2dParams valid(int stride) {
        return builder().stride(stride).autoPad(AutoPad.VALID).build();
    }

    /** "Valid" convolution (no padding) with stride 1. */
    public static Conv2dParams valid() {
        return valid(1);
    }

    /** A builder holding this object's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.strideH = strideH;
        b.strideW = strideW;
        b.padTop = padTop;
        b.padBottom = padBottom;
        b.padLeft = padLeft;
        b.padRight = padRight;
        b.dilationH = dilationH;
        b.dilationW = dilationW;
        b.groups = groups;
        b.autoPad = autoPad;
        b.algorithm = algorithm;
        return b;
    }

    public int strideH() { return strideH; }
    public int strideW() { return strideW; }
    public int dilationH() { return dilationH; }
    public int dilationW() { return dilationW; }
    public int groups() { return groups; }
    public AutoPad autoPad() { return autoPad; }
    /** The forward algorithm asked for (see {@link ConvAlgorithm}); AUTO unless set. */
    public ConvAlgorithm algorithm() { return algorithm; }

    /** The explicit padding {top, bottom, left, right}; all zero when {@link #autoPad()} is not NOTSET. */
    public int[] explicitPadding() {
        return new int[] {padTop, padBottom, padLeft, padRight};
    }

    /**
     * The padding {top, bottom, left, right} applied to an input of spatial size {@code h x w}
     * with a kernel of size {@code kh x kw}: the explicit padding, or the automatic one resolved.
     */
    public int[] padding(int h, int w, int kh, int kw) {
        switch (autoPad) {
            case NOTSET:
                return explicitPadding();
            case VALID:
                return new int[4];
            default:
                int[] ph = samePad(h, kh, strideH, dilationH, autoPad == AutoPad.SAME_UPPER);
                int[] pw = samePad(w, kw, strideW, dilationW, autoPad == AutoPad.SAME_UPPER);
                return new int[] {ph[0], ph[1], pw[0], pw[1]};
        }
    }

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
     * The output shape {N, O, OH, OW} for an input {N, C, H, W} and weight {O, C/groups, KH, KW}.
     *
     * @throws IllegalArgumentException if the shapes are not valid for these parameters, naming the problem
     */
    public int[] outputShape(int[] inputShape, int[] weightShape) {
        return ConvGeometry.of(this, inputShape, weightShape).outputShape();
    }

    /** Throws IllegalArgumentException naming the first value that is out of range. */
    private void check() {
        if (strideH < 1 || strideW < 1) {
            throw new IllegalArgumentException("stride must be at least 1, got (" + strideH + ", " + strideW + ")");
        }
        if (dilationH < 1 || dilationW < 1) {
            throw new IllegalArgumentException("dilation must be at least 1, got (" + dilationH + ", " + dilationW + ")");
        }
        if (padTop < 0 || padBottom < 0 || padLeft < 0 || padRight < 0) {
            throw new IllegalArgumentException("padding must not be negative, got (top " + padTop + ", bottom "
                    + padBottom + ", left " + padLeft + ", right " + padRight + ")");
        }
        if (groups < 1) {
            throw new IllegalArgumentException("groups must be at least 1, got " + groups);
        }
        Objects.requireNonNull(autoPad, "autoPad");
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Conv2dParams)) {
            return false;
        }
        Conv2dParams p = (Conv2dParams) o;
        return strideH == p.strideH && strideW == p.strideW && padTop == p.padTop && padBottom == p.padBottom
                && padLeft == p.padLeft && padRight == p.padRight && dilationH == p.dilationH
                && dilationW == p.dilationW && groups == p.groups && autoPad == p.autoPad && algorithm == p.algorithm;
    }

    @Override
    public int hashCode() {
        int h = 31 * (31 * (31 * (31 * (31 + strideH) + strideW) + padTop) + padBottom) + padLeft;
        h = 31 * (31 * (31 * (31 * (31 * h + padRight) + dilationH) + dilationW) + groups) + autoPad.ordinal();
        return 31 * h + algorithm.ordinal(); // computed in place: a call looks it up without allocating
    }

    @Override
    public String toString() {
        String pad = autoPad == AutoPad.NOTSET
                ? "padding=(" + padTop + "," + padBottom + "," + padLeft + "," + padRight + ")"
                : "autoPad=" + autoPad;
        return "Conv2dParams{stride=(" + strideH + "," + strideW + "), " + pad + ", dilation=(" + dilationH
                + "," + dilationW + "), groups=" + groups + (algorithm == ConvAlgorithm.AUTO ? "" : ", " + algorithm) + "}";
    }

    /** Builds {@link Conv2dParams}; {@link #build()} rejects out-of-range values. */
    public static final class Builder {
        private int strideH = 1, strideW = 1;
        private int padTop, padBottom, padLeft, padRight;
        private int dilationH = 1, dilationW = 1;
        private int groups = 1;
        private AutoPad autoPad = AutoPad.NOTSET;
        private ConvAlgorithm algorithm = ConvAlgorithm.AUTO;

        private Builder() {
        }

        /** The forward algorithm (AUTO by default); see {@link ConvAlgorithm}. */
        public Builder algorithm(ConvAlgorithm a) {
            if (a == null) {
                throw new IllegalArgumentException("algorithm must not be null");
            }
            algorithm = a;
            return this;
        }

        /** The same stride along height and width. */
        public Builder stride(int s) {
            return stride(s, s);
        }

        public Builder stride(int sh, int sw) {
            strideH = sh;
            strideW = sw;
            return this;
        }

        /** The same explicit zero padding on all four sides. */
        public Builder padding(int p) {
            return padding(p, p, p, p);
        }

        /** Symmetric explicit padding: {@code ph} rows above and below, {@code pw} columns left and right. */
        public Builder padding(int ph, int pw) {
            return padding(ph, ph, pw, pw);
        }

        /** Explicit, possibly asymmetric, zero padding. Clears any {@link AutoPad} mode. */
        public Builder padding(int top, int bottom, int left, int right) {
            padTop = top;
            padBottom = bottom;
            padLeft = left;
            padRight = right;
            autoPad = AutoPad.NOTSET;
            return this;
        }

        /** Automatic padding, resolved per input; NOTSET returns to the explicit padding. */
        public Builder autoPad(AutoPad mode) {
            if (mode == null) {
                throw new IllegalArgumentException("autoPad must not be null");
            }
            autoPad = mode;
            if (mode != AutoPad.NOTSET) {
                padTop = padBottom = padLeft = padRight = 0;
            }
            return this;
        }

        /** The same dilation along height and width (1 = dense kernel). */
        public Builder dilation(int d) {
            return dilation(d, d);
        }

        public Builder dilation(int dh, int dw) {
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
        public Conv2dParams build() {
            Conv2dParams p = new Conv2dParams(this);
            p.check();
            return p;
        }
    }
}
