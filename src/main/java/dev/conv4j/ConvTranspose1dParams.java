package dev.conv4j;

import dev.conv4j.Conv2dParams.AutoPad;

/**
 * The hyper-parameters of a 1-D transposed convolution (PyTorch's {@code ConvTranspose1d}, ONNX's
 * {@code ConvTranspose} on N×C×L): stride, padding (left, right), output padding, dilation, groups,
 * and ONNX's {@code auto_pad} and {@code output_shape}. Immutable.
 *
 * <p>Shapes: x is N×C_in×L, the weights C_in×(C_out/groups)×K (PyTorch's layout), the bias C_out, y
 * N×C_out×OL with {@code OL = (L - 1)·s + d·(K - 1) + 1 + outputPadding - left - right}; the rules are
 * those of {@link ConvTranspose2dParams} along one axis. It runs as a 2-D transposed convolution of
 * height 1 on views of the same memory ({@link #asTranspose2d()}).
 */
public final class ConvTranspose1dParams {

    /** Stride 1, no padding, no output padding, dilation 1, one group. */
    public static final ConvTranspose1dParams DEFAULT = builder().build();

    private final ConvTranspose2dParams p;

    private ConvTranspose1dParams(ConvTranspose2dParams p) {
        this.p = p;
    }

    /** A builder with the defaults of {@link #DEFAULT}. */
    public static Builder builder() {
        return new Builder();
    }

    public int stride() { return p.strideW(); }
    public int dilation() { return p.dilationW(); }
    public int groups() { return p.groups(); }
    public int outputPadding() { return p.outputPaddingW(); }
    public AutoPad autoPad() { return p.autoPad(); }

    /** The explicit padding {left, right}. */
    public int[] explicitPadding() {
        int[] pad = p.explicitPadding();
        return new int[] {pad[2], pad[3]};
    }

    /** The requested output length (ONNX's {@code output_shape}), or 0 when it follows from the padding. */
    public int outputSize() {
        int[] s = p.outputSize();
        return s == null ? 0 : s[1];
    }

    /** The same operation in 2-D, on N×C×1×L: what the engines run. */
    public ConvTranspose2dParams asTranspose2d() {
        return p;
    }

    /**
     * The output shape N×C_out×OL for an input N×C_in×L and weights C_in×(C_out/groups)×K.
     *
     * @throws IllegalArgumentException if the shapes do not fit these parameters
     */
    public int[] outputShape(int[] inputShape, int[] weightShape) {
        int[] y = p.outputShape(dev.conv4j.internal.OneD.lift(inputShape, "input", "N, C_in, L"),
                dev.conv4j.internal.OneD.lift(weightShape, "weight", "C_in, C_out/groups, K"));
        return new int[] {y[0], y[1], y[3]};
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ConvTranspose1dParams && ((ConvTranspose1dParams) o).p.equals(p);
    }

    @Override
    public int hashCode() {
        return p.hashCode() + 2;
    }

    @Override
    public String toString() {
        int[] pad = explicitPadding();
        String padding = outputSize() != 0 ? " output size " + outputSize()
                : autoPad() != AutoPad.NOTSET ? " autoPad " + autoPad() : " pad (" + pad[0] + "," + pad[1] + ")";
        return "ConvTranspose1dParams{stride " + stride() + padding + " output padding " + outputPadding() + " dilation "
                + dilation() + " groups " + groups() + "}";
    }

    /** Builds {@link ConvTranspose1dParams}; {@link #build()} checks the values. */
    public static final class Builder {
        private int stride = 1, dilation = 1, left, right, outputPadding, groups = 1, outputSize;
        private AutoPad autoPad = AutoPad.NOTSET;

        private Builder() {
        }

        public Builder stride(int s) {
            stride = s;
            return this;
        }

        /** The same padding at both ends (PyTorch's {@code padding}). */
        public Builder padding(int p) {
            return padding(p, p);
        }

        /** Explicit, possibly asymmetric, padding (ONNX's {@code pads}). Clears {@link AutoPad} and the output size. */
        public Builder padding(int left, int right) {
            this.left = left;
            this.right = right;
            autoPad = AutoPad.NOTSET;
            outputSize = 0;
            return this;
        }

        /** Positions added at the end of the output (PyTorch's and ONNX's {@code output_padding}). */
        public Builder outputPadding(int p) {
            outputPadding = p;
            return this;
        }

        /** Derived padding, as {@link ConvTranspose2dParams.Builder#autoPad}. */
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

        /** The output length (ONNX's {@code output_shape}); the padding is derived from it. */
        public Builder outputSize(int length) {
            if (length < 1) {
                throw new IllegalArgumentException("output size must be at least 1, got " + length);
            }
            outputSize = length;
            left = right = 0;
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

        /** @throws IllegalArgumentException naming the first out-of-range value */
        public ConvTranspose1dParams build() {
            if (stride < 1) {
                throw new IllegalArgumentException("stride must be at least 1, got " + stride);
            }
            if (dilation < 1) {
                throw new IllegalArgumentException("dilation must be at least 1, got " + dilation);
            }
            if (left < 0 || right < 0) {
                throw new IllegalArgumentException("padding must not be negative, got (left " + left + ", right " + right + ")");
            }
            if (outputPadding < 0) {
                throw new IllegalArgumentException("output padding must not be negative, got " + outputPadding);
            }
            ConvTranspose2dParams.Builder b = ConvTranspose2dParams.builder().stride(1, stride).dilation(1, dilation)
                    .groups(groups).outputPadding(0, outputPadding).padding(0, 0, left, right);
            b.autoPad(autoPad);
            if (outputSize != 0) {
                b.outputSize(1, outputSize);
            }
            return new ConvTranspose1dParams(b.build());
        }
    }
}
