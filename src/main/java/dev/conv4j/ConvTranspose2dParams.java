package dev.conv4j;

import dev.conv4j.Conv2dParams.AutoPad;
import java.util.Arrays;

/**
 * The hyper-parameters of a 2-D transposed convolution (PyTorch's {@code ConvTranspose2d}, ONNX's
 * {@code ConvTranspose}): stride, padding, output padding, dilation, groups, and ONNX's
 * {@code auto_pad} and {@code output_shape}. Immutable.
 *
 * <p>Shapes: x is N×C_in×H×W, the weights are in PyTorch's layout C_in×(C_out/groups)×KH×KW, the
 * bias C_out, and y N×C_out×OH×OW with
 * {@code OH = (H - 1)·sh + dh·(KH - 1) + 1 + outputPaddingH - top - bottom} (the same for OW).
 * Each input pixel scatters its weighted kernel into the output: output row
 * {@code i·sh + p·dh - top} receives {@code x[i]·w[p]}. Padding crops the full output at its edges,
 * and output padding adds rows and columns at the bottom and right (they receive whatever the
 * full output has there, else only the bias).
 *
 * <p>Padding is explicit (asymmetric allowed), or derived as ONNX derives it: {@link AutoPad#SAME_UPPER}
 * and {@link AutoPad#SAME_LOWER} ask for {@code OH = H·sh}; {@link #builder()}{@code .outputSize(oh, ow)}
 * (ONNX's {@code output_shape}) asks for a given size. The total padding
 * {@code (H - 1)·sh + dh·(KH - 1) + 1 + outputPaddingH - OH} is then split as ONNX splits it: the
 * smaller half at the beginning for SAME_UPPER, at the end otherwise. A negative total (an output
 * larger than the full one) extends the output with rows that receive only the bias.
 *
 * <pre>{@code
 * // a DCGAN / U-Net up-sampling layer: 2x the spatial size
 * ConvTranspose2dParams up = ConvTranspose2dParams.builder().stride(2).padding(1).build();   // kernel 4x4
 * }</pre>
 */
public final class ConvTranspose2dParams {

    /** Stride 1, no padding, no output padding, dilation 1, one group. */
    public static final ConvTranspose2dParams DEFAULT = builder().build();

    private final int strideH, strideW;
    private final int padTop, padBottom, padLeft, padRight;
    private final int outputPaddingH, outputPaddingW;
    private final int dilationH, dilationW;
    private final int groups;
    private final AutoPad autoPad;
    private final int outputH, outputW;

    private ConvTranspose2dParams(Builder b) {
        strideH = b.strideH;
        strideW = b.strideW;
        padTop = b.padTop;
        padBottom = b.padBottom;
        padLeft = b.padLeft;
        padRight = b.padRight;
        outputPaddingH = b.outputPaddingH;
        outputPaddingW = b.outputPaddingW;
        dilationH = b.dilationH;
        dilationW = b.dilationW;
        groups = b.groups;
        autoPad = b.autoPad;
        outputH = b.outputH;
        outputW = b.outputW;
    }

    /** A builder with the defaults of {@link #DEFAULT}. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these parameters. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.strideH = strideH;
        b.strideW = strideW;
        b.padTop = padTop;
        b.padBottom = padBottom;
        b.padLeft = padLeft;
        b.padRight = padRight;
        b.outputPaddingH = outputPaddingH;
        b.outputPaddingW = outputPaddingW;
        b.dilationH = dilationH;
        b.dilationW = dilationW;
        b.groups = groups;
        b.autoPad = autoPad;
        b.outputH = outputH;
        b.outputW = outputW;
        return b;
    }

    public int strideH() { return strideH; }
    public int strideW() { return strideW; }
    public int dilationH() { return dilationH; }
    public int dilationW() { return dilationW; }
    public int groups() { return groups; }
    public int outputPaddingH() { return outputPaddingH; }
    public int outputPaddingW() { return outputPaddingW; }
    public AutoPad autoPad() { return autoPad; }

    /** The explicit padding {top, bottom, left, right} (zeros when it is derived). */
    public int[] explicitPadding() {
        return new int[] {padTop, padBottom, padLeft, padRight};
    }

    /** The requested output size {OH, OW} (ONNX's {@code output_shape}), or null when it follows from the padding. */
    public int[] outputSize() {
        return outputH == 0 ? null : new int[] {outputH, outputW};
    }

    /**
     * The padding {top, bottom, left, right} for an input of H×W and a kernel of KH×KW: the explicit
     * padding, or the one {@link AutoPad} or {@link Builder#outputSize} derive. Derived padding may be
     * negative (the output extends past the full one).
     */
    public int[] padding(int h, int w, int kh, int kw) {
        long[] ph = axisPadding(h, kh, strideH, dilationH, outputPaddingH, padTop, padBottom, outputH);
        long[] pw = axisPadding(w, kw, strideW, dilationW, outputPaddingW, padLeft, padRight, outputW);
        long[] all = {ph[0], ph[1], pw[0], pw[1]};
        int[] pad = new int[4];
        for (int i = 0; i < 4; i++) {
            if (all[i] > Integer.MAX_VALUE || all[i] < Integer.MIN_VALUE) {
                throw new IllegalArgumentException("derived padding " + Arrays.toString(all) + " does not fit an int (input "
                        + h + " x " + w + ", kernel " + kh + " x " + kw + ", " + this + ")");
            }
            pad[i] = (int) all[i];
        }
        return pad;
    }

    private long[] axisPadding(int in, int k, int s, int d, int op, int begin, int end, int requested) {
        if (requested == 0 && (autoPad == AutoPad.NOTSET || autoPad == AutoPad.VALID)) {
            return autoPad == AutoPad.VALID ? new long[2] : new long[] {begin, end};
        }
        long target = requested != 0 ? requested : (long) in * s;
        long total = (long) (in - 1) * s + (long) d * (k - 1) + 1 + op - target;
        long half = Math.floorDiv(total, 2);
        return autoPad == AutoPad.SAME_UPPER ? new long[] {half, total - half} : new long[] {total - half, half};
    }

    /**
     * The output shape N×C_out×OH×OW for an input N×C_in×H×W and weights C_in×(C_out/groups)×KH×KW.
     *
     * @throws IllegalArgumentException if the shapes do not fit these parameters
     */
    public int[] outputShape(int[] inputShape, int[] weightShape) {
        return dev.conv4j.internal.Transposes.outputShape(this, inputShape, weightShape);
    }

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
        if (outputPaddingH < 0 || outputPaddingW < 0) {
            throw new IllegalArgumentException("output padding must not be negative, got (" + outputPaddingH + ", "
                    + outputPaddingW + ")");
        }
        if (groups < 1) {
            throw new IllegalArgumentException("groups must be at least 1, got " + groups);
        }
        if (outputH < 0 || outputW < 0 || (outputH == 0) != (outputW == 0)) {
            throw new IllegalArgumentException("output size must be at least 1 along both axes, got (" + outputH + ", "
                    + outputW + ")");
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ConvTranspose2dParams)) {
            return false;
        }
        ConvTranspose2dParams p = (ConvTranspose2dParams) o;
        return strideH == p.strideH && strideW == p.strideW && padTop == p.padTop && padBottom == p.padBottom
                && padLeft == p.padLeft && padRight == p.padRight && outputPaddingH == p.outputPaddingH
                && outputPaddingW == p.outputPaddingW && dilationH == p.dilationH && dilationW == p.dilationW
                && groups == p.groups && autoPad == p.autoPad && outputH == p.outputH && outputW == p.outputW;
    }

    @Override
    public int hashCode() {
        // computed in place: a call looks it up without allocating
        int h = 31 * (31 * (31 * (31 * (31 * (31 + strideH) + strideW) + padTop) + padBottom) + padLeft) + padRight;
        h = 31 * (31 * (31 * (31 * (31 * h + outputPaddingH) + outputPaddingW) + dilationH) + dilationW) + groups;
        return 31 * (31 * (31 * h + autoPad.ordinal()) + outputH) + outputW;
    }

    @Override
    public String toString() {
        String pad = outputH != 0 ? "output size (" + outputH + "," + outputW + ")" + (autoPad == AutoPad.SAME_UPPER ? " upper" : "")
                : autoPad != AutoPad.NOTSET ? "autoPad " + autoPad
                : "pad (" + padTop + "," + padBottom + "," + padLeft + "," + padRight + ")";
        return "ConvTranspose2dParams{stride (" + strideH + "," + strideW + ") " + pad + " output padding ("
                + outputPaddingH + "," + outputPaddingW + ") dilation (" + dilationH + "," + dilationW + ") groups "
                + groups + "}";
    }

    /** Builds {@link ConvTranspose2dParams}; {@link #build()} checks the values. */
    public static final class Builder {
        private int strideH = 1, strideW = 1;
        private int padTop, padBottom, padLeft, padRight;
        private int outputPaddingH, outputPaddingW;
        private int dilationH = 1, dilationW = 1;
        private int groups = 1;
        private AutoPad autoPad = AutoPad.NOTSET;
        private int outputH, outputW;

        private Builder() {
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

        /** The same padding on all four sides (PyTorch's {@code padding}). */
        public Builder padding(int p) {
            return padding(p, p, p, p);
        }

        /** {@code ph} rows cropped at the top and bottom, {@code pw} columns at the left and right. */
        public Builder padding(int ph, int pw) {
            return padding(ph, ph, pw, pw);
        }

        /** Explicit, possibly asymmetric, padding (ONNX's {@code pads}). Clears {@link AutoPad} and the output size. */
        public Builder padding(int top, int bottom, int left, int right) {
            padTop = top;
            padBottom = bottom;
            padLeft = left;
            padRight = right;
            autoPad = AutoPad.NOTSET;
            outputH = outputW = 0;
            return this;
        }

        /** Rows added at the bottom and columns at the right of the output (PyTorch's and ONNX's {@code output_padding}). */
        public Builder outputPadding(int p) {
            return outputPadding(p, p);
        }

        public Builder outputPadding(int ph, int pw) {
            outputPaddingH = ph;
            outputPaddingW = pw;
            return this;
        }

        /**
         * Derived padding (ONNX's {@code auto_pad}): SAME_UPPER and SAME_LOWER give an output of
         * input × stride; VALID no padding; NOTSET the explicit padding. With {@link #outputSize} it
         * only says where an odd total padding goes.
         */
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

        /**
         * The output size (ONNX's {@code output_shape}); the padding is then derived from it (see the class
         * comment) and the explicit padding is ignored.
         */
        public Builder outputSize(int oh, int ow) {
            outputH = oh;
            outputW = ow;
            if (oh == 0 && ow == 0) {
                throw new IllegalArgumentException("output size must be at least 1 along both axes, got (0, 0)");
            }
            padTop = padBottom = padLeft = padRight = 0;
            return this;
        }

        /** The same dilation along height and width. */
        public Builder dilation(int d) {
            return dilation(d, d);
        }

        public Builder dilation(int dh, int dw) {
            dilationH = dh;
            dilationW = dw;
            return this;
        }

        /** Number of groups; C_in and C_out must both be divisible by it. */
        public Builder groups(int g) {
            groups = g;
            return this;
        }

        /** @throws IllegalArgumentException naming the first out-of-range value */
        public ConvTranspose2dParams build() {
            ConvTranspose2dParams p = new ConvTranspose2dParams(this);
            p.check();
            return p;
        }
    }
}
