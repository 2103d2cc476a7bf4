package dev.conv4j.internal.engine;

import dev.conv4j.Activation;
import dev.conv4j.Tensor;

/**
 * The fused forward pass's epilogue for engines that do not fuse it into their kernels: after the
 * convolution has written {@code acc = (float) (conv + bias)}, one pass over the output computes
 * {@code y = clamp(acc + residual)} in float, the order {@link Activation} documents, so that its
 * bits are those of every engine that fuses it.
 */
public final class Epilogues {
    private Epilogues() {
    }

    /**
     * {@code out = act(acc + residual)} element by element ({@code residual} may be null: {@code act(acc)}).
     * The three have one logical shape and any layouts; {@code out} may be {@code acc} or
     * {@code residual} itself. With no residual and the identity activation it is a reorder of
     * {@code acc} into {@code out} (nothing at all when they are the same tensor). Allocates nothing for
     * tensors a Java buffer reaches.
     */
    public static void apply(Tensor acc, Tensor residual, Activation act, Tensor out) {
        boolean clamp = !act.isIdentity();
        if (residual == null && !clamp) {
            Reorder.copy(acc, out);
            return;
        }
        Reorder.combine(acc, residual, act.min(), act.max(), clamp, out);
    }

    /** True when the forward pass has an epilogue to apply: a residual or an activation other than the identity. */
    public static boolean needed(Tensor residual, Activation act) {
        return residual != null || !act.isIdentity();
    }

    /** The activation of one value, as {@link Activation#apply}: {@code v < lo ? lo : v > hi ? hi : v}. */
    public static float clamp(float v, float lo, float hi) {
        return v < lo ? lo : v > hi ? hi : v;
    }
}
