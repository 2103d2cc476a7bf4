package dev.conv4j;

/**
 * The activation a fused forward pass applies to each output: a clamp to {@code [min, max]}.
 * {@link ConvEngine#forward(Conv2dParams, Tensor, Tensor, Tensor, Tensor, Activation, Tensor)} computes,
 * for every output element,
 *
 * <pre>{@code
 * acc = (float) (conv(x, w) + bias)          // as the unfused forward pass: one float per output
 * v   = residual == null ? acc : acc + r     // one float addition, rounded to nearest
 * y   = v < min ? min : (v > max ? max : v)  // apply(v)
 * }</pre>
 *
 * <p>The clamp compares as IEEE 754 does, so a NaN is neither below {@code min} nor above {@code max}
 * and stays NaN (a NaN stays NaN through every activation, as through the sum), and −0.0 is not below
 * a {@code min} of +0.0, so {@link #RELU} keeps −0.0. On x86 that is {@code min(max, max(min, v))}
 * with the bound as the first operand of {@code maxps}/{@code minps}, which return their second
 * operand when either is NaN or both are zero.
 *
 * <p>Instances are immutable and compare by their bounds.
 */
public final class Activation {
    /** No activation: {@code y = v}, bounds −∞ and +∞. */
    public static final Activation NONE = new Activation(Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, "NONE");
    /** {@code y = max(v, 0)}: bounds 0 and +∞. */
    public static final Activation RELU = new Activation(0f, Float.POSITIVE_INFINITY, "RELU");
    /** {@code y = min(max(v, 0), 6)}: bounds 0 and 6 (MobileNet's). */
    public static final Activation RELU6 = new Activation(0f, 6f, "RELU6");

    private final float min, max;
    private final String name;

    private Activation(float min, float max, String name) {
        this.min = min;
        this.max = max;
        this.name = name;
    }

    /**
     * A clamp to {@code [min, max]}; either bound may be infinite.
     *
     * @throws IllegalArgumentException if a bound is NaN or {@code min > max}
     */
    public static Activation clamp(float min, float max) {
        if (Float.isNaN(min) || Float.isNaN(max)) {
            throw new IllegalArgumentException("clamp bounds must not be NaN, got min " + min + " and max " + max);
        }
        if (min > max) {
            throw new IllegalArgumentException("clamp needs min <= max, got min " + min + " and max " + max);
        }
        return new Activation(min, max, null);
    }

    /** The lower bound (−∞ for {@link #NONE}). */
    public float min() {
        return min;
    }

    /** The upper bound (+∞ for {@link #NONE} and {@link #RELU}). */
    public float max() {
        return max;
    }

    /** The activation of one value: {@code v < min ? min : (v > max ? max : v)}; NaN stays NaN. */
    public float apply(float v) {
        return v < min ? min : v > max ? max : v;
    }

    /** True when the bounds are −∞ and +∞, so that {@link #apply} returns every value unchanged. */
    public boolean isIdentity() {
        return min == Float.NEGATIVE_INFINITY && max == Float.POSITIVE_INFINITY;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Activation && Float.floatToIntBits(((Activation) o).min) == Float.floatToIntBits(min)
                && Float.floatToIntBits(((Activation) o).max) == Float.floatToIntBits(max);
    }

    @Override
    public int hashCode() {
        return 31 * Float.floatToIntBits(min) + Float.floatToIntBits(max);
    }

    @Override
    public String toString() {
        return name != null ? name : "clamp(" + min + ", " + max + ")";
    }
}
