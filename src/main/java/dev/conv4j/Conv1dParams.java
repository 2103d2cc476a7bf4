package dev.conv4j;

import dev.conv4j.Conv2dParams.AutoPad;

/**
 * The hyper-parameters of a 1-D convolution (PyTorch's {@code Conv1d}, ONNX's {@code Conv} on N×C×L):
 * stride, zero padding (left, right), dilation and groups. Immutable.
 *
 * <p>Shapes: x is N×C×L, w O×(C/groups)×K, the bias O, y N×O×OL with
 * {@code OL = (L + left + right - (d·(K - 1) + 1)) / s + 1}. A 1-D convolution is a 2-D one of height
 * 1, and runs on the 2-D kernels on views of the same memory ({@link #asConv2d()}): no copies.
 */
public final class Conv1dParams {

    /** Stride 1, no padding, dilation 1, one group. */
    public static final Conv1dParams DEFAULT = builder().build();

    private final Conv2dParams conv;

    private Conv1dParams(Conv2dParams conv) {
        this.conv = conv;
    }

    /** A builder with the defaults of {@link #DEFAULT}. */
    public static Builder builder() {
        return new Builder();
    }

    public int stride() { return conv.strideW(); }
    public int dilation() { return conv.dilationW(); }
    public int groups() { return conv.groups(); }
    public AutoPad autoPad() { return conv.autoPad(); }

    /** The explicit padding {left, right}. */
    public int[] explicitPadding() {
        int[] p = conv.explicitPadding();
        return new int[] {p[2], p[3]};
    }

    /** The same convolution in 2-D, on N×C×1×L: what the engines run. */
    public Conv2dParams asConv2d() {
        return conv;
    }

    /**
     * The output shape N×O×OL for an input N×C×L and weights O×(C/groups)×K.
     *
     * @throws IllegalArgumentException if the shapes do not fit these parameters
     */
    public int[] outputShape(int[] inputShape, int[] weightShape) {
        int[] y = conv.outputShape(dev.conv4j.internal.OneD.lift(inputShape, "input", "N, C, L"), dev.conv4j.internal.OneD.lift(weightShape, "weight", "O, C/groups, K"));
        return new int[] {y[0], y[1], y[3]};
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Conv1dParams && ((Conv1dParams) o).conv.equals(conv);
    }

    @Override
    public int hashCode() {
        return conv.hashCode() + 1;
    }

    @Override
    public String toString() {
        int[] p = explicitPadding();
        return "Conv1dParams{stride " + stride() + (autoPad() != AutoPad.NOTSET ? " autoPad " + autoPad()
                : " pad (" + p[0] + "," + p[1] + ")") + " dilation " + dilation() + " groups " + groups() + "}";
    }

    /** Builds {@link Conv1dParams}; {@link #build()} checks the values. */
    public static final class Builder {
        private int stride = 1, dilation = 1, left, right, groups = 1;
        private AutoPad autoPad = AutoPad.NOTSET;
        private ConvAlgorithm algorithm = ConvAlgorithm.AUTO;

        private Builder() {
        }

        public Builder stride(int s) {
            stride = s;
            return this;
        }

        /** The same zero padding at both ends. */
        public Builder padding(int p) {
            return padding(p, p);
        }

        /** Explicit, possibly asymmetric, zero padding. Clears any {@link AutoPad} mode. */
        public Builder padding(int left, int right) {
            this.left = left;
            this.right = right;
            autoPad = AutoPad.NOTSET;
            return this;
        }

        /** Automatic padding, as ONNX's {@code auto_pad} (see {@link Conv2dParams.AutoPad}). */
        public Builder autoPad(AutoPad mode) {
            if (mode == null) {
                throw new IllegalArgumentException("autoPad must not be null");
            }
            autoPad = mode;
            if (mode != AutoPad.NOTSET) {
                left = right = 0;
            }
            return this;
        }

        public Builder dilation(int d) {
            dilation = d;
            return this;
        }

        public Builder groups(int g) {
            groups = g;
            return this;
        }

        /** The forward algorithm (AUTO by default); see {@link ConvAlgorithm}. */
        public Builder algorithm(ConvAlgorithm a) {
            if (a == null) {
                throw new IllegalArgumentException("algorithm must not be null");
            }
            algorithm = a;
            return this;
        }

        /** @throws IllegalArgumentException naming the first out-of-range value */
        public Conv1dParams build() {
            if (stride < 1) {
                throw new IllegalArgumentException("stride must be at least 1, got " + stride);
            }
            if (dilation < 1) {
                throw new IllegalArgumentException("dilation must be at least 1, got " + dilation);
            }
            if (left < 0 || right < 0) {
                throw new IllegalArgumentException("padding must not be negative, got (left " + left + ", right " + right + ")");
            }
            Conv2dParams.Builder b = Conv2dParams.builder().stride(1, stride).dilation(1, dilation).groups(groups)
                    .algorithm(algorithm).padding(0, 0, left, right);
            if (autoPad != AutoPad.NOTSET) {
                b.autoPad(autoPad);
            }
            return new Conv1dParams(b.build());
        }
    }
}
