package dev.conv4j;

import dev.conv4j.Conv2dParams.AutoPad;
import java.util.Arrays;

/**
 * The hyper-parameters of a 3-D transposed convolution (PyTorch's {@code ConvTranspose3d}, ONNX's
 * {@code ConvTranspose} on N×C×D×H×W): stride, padding, output padding, dilation, groups, and ONNX's
 * {@code auto_pad} and {@code output_shape}, each per axis (depth, height, width). Immutable.
 *
 * <p>Shapes: x is N×C_in×D×H×W, the weights C_in×(C_out/groups)×KD×KH×KW (PyTorch's layout), the bias
 * C_out, y N×C_out×OD×OH×OW with, per axis, {@code out = (in - 1)·s + d·(k - 1) + 1 + outputPadding
 * - padBegin - padEnd}; the rules are those of {@link ConvTranspose2dParams}, along three axes.
 */
public final class ConvTranspose3dParams {

    /** Stride 1, no padding, no output padding, dilation 1, one group. */
    public static final ConvTranspose3dParams DEFAULT = builder().build();

    private final int[] stride, padding, outputPadding, dilation, outputSize;
    private final int groups;
    private final AutoPad autoPad;

    private ConvTranspose3dParams(Builder b) {
        stride = b.stride.clone();
        padding = b.padding.clone();
        outputPadding = b.outputPadding.clone();
        dilation = b.dilation.clone();
        outputSize = b.outputSize == null ? null : b.outputSize.clone();
        groups = b.groups;
        autoPad = b.autoPad;
    }

    /** A builder with the defaults of {@link #DEFAULT}. */
    public static Builder builder() {
        return new Builder();
    }

    /** {sd, sh, sw}. */
    public int[] stride() { return stride.clone(); }
    /** {dd, dh, dw}. */
    public int[] dilation() { return dilation.clone(); }
    /** {depth, height, width} positions added at the end of each axis. */
    public int[] outputPadding() { return outputPadding.clone(); }
    public int groups() { return groups; }
    public AutoPad autoPad() { return autoPad; }

    /** The explicit padding {front, back, top, bottom, left, right} (zeros when it is derived). */
    public int[] explicitPadding() {
        return padding.clone();
    }

    /** The requested output size {OD, OH, OW} (ONNX's {@code output_shape}), or null. */
    public int[] outputSize() {
        return outputSize == null ? null : outputSize.clone();
    }

    /**
     * The padding {front, back, top, bottom, left, right} for an input of D×H×W and a kernel of
     * KD×KH×KW: explicit, or derived as {@link ConvTranspose2dParams#padding} derives it (may be negative).
     */
    public int[] padding(int[] inputSize, int[] kernel) {
        int[] pad = new int[6];
        for (int a = 0; a < 3; a++) {
            if (outputSize == null && (autoPad == AutoPad.NOTSET || autoPad == AutoPad.VALID)) {
                pad[2 * a] = autoPad == AutoPad.VALID ? 0 : padding[2 * a];
                pad[2 * a + 1] = autoPad == AutoPad.VALID ? 0 : padding[2 * a + 1];
                continue;
            }
            long target = outputSize != null ? outputSize[a] : (long) inputSize[a] * stride[a];
            long total = (long) (inputSize[a] - 1) * stride[a] + (long) dilation[a] * (kernel[a] - 1) + 1 + outputPadding[a] - target;
            long half = Math.floorDiv(total, 2);
            long begin = autoPad == AutoPad.SAME_UPPER ? half : total - half;
            if (begin != (int) begin || total - begin != (int) (total - begin)) {
                throw new IllegalArgumentException("derived padding " + begin + ", " + (total - begin) + " does not fit an int ("
                        + this + ")");
            }
            pad[2 * a] = (int) begin;
            pad[2 * a + 1] = (int) (total - begin);
        }
        return pad;
    }

    /**
     * The output shape N×C_out×OD×OH×OW for an input N×C_in×D×H×W and weights C_in×(C_out/groups)×KD×KH×KW.
     *
     * @throws IllegalArgumentException if the shapes do not fit these parameters
     */
    public int[] outputShape(int[] inputShape, int[] weightShape) {
        return dev.conv4j.internal.Transposes.outputShape(this, inputShape, weightShape);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ConvTranspose3dParams)) {
            return false;
        }
        ConvTranspose3dParams p = (ConvTranspose3dParams) o;
        return Arrays.equals(stride, p.stride) && Arrays.equals(padding, p.padding) && Arrays.equals(outputPadding, p.outputPadding)
                && Arrays.equals(dilation, p.dilation) && Arrays.equals(outputSize, p.outputSize) && groups == p.groups
                && autoPad == p.autoPad;
    }

    @Override
    public int hashCode() {
        // Arrays.hashCode of arrays allocates nothing: a call looks the parameters up without allocating
        int h = 31 * Arrays.hashCode(stride) + Arrays.hashCode(padding);
        h = 31 * (31 * h + Arrays.hashCode(outputPadding)) + Arrays.hashCode(dilation);
        return 31 * (31 * (31 * h + Arrays.hashCode(outputSize)) + groups) + autoPad.ordinal();
    }

    @Override
    public String toString() {
        String pad = outputSize != null ? "output size " + Arrays.toString(outputSize)
                : autoPad != AutoPad.NOTSET ? "autoPad " + autoPad : "pad " + Arrays.toString(padding);
        return "ConvTranspose3dParams{stride " + Arrays.toString(stride) + " " + pad + " output padding "
                + Arrays.toString(outputPadding) + " dilation " + Arrays.toString(dilation) + " groups " + groups + "}";
    }

    /** Builds {@link ConvTranspose3dParams}; {@link #build()} checks the values. */
    public static final class Builder {
        private int[] stride = {1, 1, 1}, padding = new int[6], outputPadding = new int[3], dilation = {1, 1, 1};
        private int[] outputSize;
        private int groups = 1;
        private AutoPad autoPad = AutoPad.NOTSET;

        private Builder() {
        }

        /** The same stride along every axis. */
        public Builder stride(int s) {
            return stride(s, s, s);
        }

        public Builder stride(int sd, int sh, int sw) {
            stride = new int[] {sd, sh, sw};
            return this;
        }

        /** The same padding on all six sides (PyTorch's {@code padding}). */
        public Builder padding(int p) {
            return padding(p, p, p);
        }

        /** Symmetric padding per axis. */
        public Builder padding(int pd, int ph, int pw) {
            return padding(pd, pd, ph, ph, pw, pw);
        }

        /** Explicit, possibly asymmetric, padding. Clears {@link AutoPad} and the output size. */
        public Builder padding(int front, int back, int top, int bottom, int left, int right) {
            padding = new int[] {front, back, top, bottom, left, right};
            autoPad = AutoPad.NOTSET;
            outputSize = null;
            return this;
        }

        /** The same output padding along every axis. */
        public Builder outputPadding(int p) {
            return outputPadding(p, p, p);
        }

        public Builder outputPadding(int pd, int ph, int pw) {
            outputPadding = new int[] {pd, ph, pw};
            return this;
        }

        /** Derived padding, as {@link ConvTranspose2dParams.Builder#autoPad}. */
        public Builder autoPad(AutoPad mode) {
            if (mode == null) {
                throw new IllegalArgumentException("autoPad must not be null");
            }
            autoPad = mode;
            if (mode != AutoPad.NOTSET) {
                padding = new int[6];
            }
            return this;
        }

        /** The output size (ONNX's {@code output_shape}); the padding is derived from it. */
        public Builder outputSize(int od, int oh, int ow) {
            if (od < 1 || oh < 1 || ow < 1) {
                throw new IllegalArgumentException("output size must be at least 1 along every axis, got (" + od + ", " + oh
                        + ", " + ow + ")");
            }
            outputSize = new int[] {od, oh, ow};
            padding = new int[6];
            return this;
        }

        /** The same dilation along every axis. */
        public Builder dilation(int d) {
            return dilation(d, d, d);
        }

        public Builder dilation(int dd, int dh, int dw) {
            dilation = new int[] {dd, dh, dw};
            return this;
        }

        public Builder groups(int g) {
            groups = g;
            return this;
        }

        /** @throws IllegalArgumentException naming the first out-of-range value */
        public ConvTranspose3dParams build() {
            for (int v : stride) {
                if (v < 1) {
                    throw new IllegalArgumentException("stride must be at least 1, got " + Arrays.toString(stride));
                }
            }
            for (int v : dilation) {
                if (v < 1) {
                    throw new IllegalArgumentException("dilation must be at least 1, got " + Arrays.toString(dilation));
                }
            }
            for (int v : padding) {
                if (v < 0) {
                    throw new IllegalArgumentException("padding must not be negative, got " + Arrays.toString(padding));
                }
            }
            for (int v : outputPadding) {
                if (v < 0) {
                    throw new IllegalArgumentException("output padding must not be negative, got " + Arrays.toString(outputPadding));
                }
            }
            if (groups < 1) {
                throw new IllegalArgumentException("groups must be at least 1, got " + groups);
            }
            return new ConvTranspose3dParams(this);
        }
    }
}
