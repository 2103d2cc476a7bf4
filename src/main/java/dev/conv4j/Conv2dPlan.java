package dev.conv4j;

/**
 * One convolution layer prepared for repeated calls: the parameters and shapes are validated once,
 * the work is cut into units once, the workspace is sized and allocated once and owned by the plan,
 * and the weights can be prepacked (copied, and for Winograd transformed) so that a forward call
 * does nothing but compute. After the first call, calls allocate nothing on the Java heap. All of
 * the plan's memory is its own, whatever JavaCPP {@code PointerScope} was open when it was made.
 *
 * <pre>{@code
 * try (Conv2dPlan plan = ConvEngines.fastest().plan(params, new int[] {1, 64, 56, 56}, new int[] {64, 64, 3, 3})) {
 *     plan.prepackWeights(w, b);
 *     for (Request r : requests) {
 *         plan.forward(r.x(), r.y());
 *     }
 * }
 * }</pre>
 *
 * <p>A plan runs one call at a time: concurrent calls on the same plan wait for each other (use one
 * plan per serving thread to run in parallel). Tensors passed to it must have exactly the planned
 * (logical) shapes; activations may be in any {@link Layout}, as for {@link ConvEngine}, and a plan that
 * stages a layout its kernels do not run keeps the staging tensors, so its calls stay free of
 * allocation (they count in {@link #workspaceBytes()}). {@link #close()} releases the workspace and
 * the prepacked weights; using a closed plan throws {@link IllegalStateException}.
 */
public interface Conv2dPlan extends AutoCloseable {

    /** The planned sizes. */
    ConvGeometry geometry();

    /** Bytes of off-heap memory the plan owns: workspaces and prepacked weights. */
    long workspaceBytes();

    /**
     * Copies the weights (O×C/G×KH×KW) and bias (O, may be null) into the plan, transformed for the
     * algorithm it uses, for {@link #forward(Tensor, Tensor)}. Call again after the weights change.
     */
    void prepackWeights(Tensor w, Tensor bias);

    /** {@code y = conv(x, prepacked weights) + prepacked bias}; the same as {@code forward(x, null, Activation.NONE, y)}. */
    void forward(Tensor x, Tensor y);

    /**
     * The fused forward pass with the prepacked weights: {@code y = act(conv(x, w) + bias + residual)},
     * element by element as {@link ConvEngine#forward(Conv2dParams, Tensor, Tensor, Tensor, Tensor, Activation, Tensor)}
     * defines it; {@code residual} may be null or y itself.
     */
    default void forward(Tensor x, Tensor residual, Activation act, Tensor y) {
        dev.conv4j.internal.Backend.forward(this, x, null, null, false, residual, act, y);
    }

    /** {@code y = conv(x, w) + bias}, with weights passed per call; bias may be null. */
    void forward(Tensor x, Tensor w, Tensor bias, Tensor y);

    /** The fused forward pass with weights passed per call (bias may be null), as {@link #forward(Tensor, Tensor, Activation, Tensor)}. */
    default void forward(Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        dev.conv4j.internal.Backend.forward(this, x, w, bias, true, residual, act, y);
    }

    /** The input gradient; overwrites gx, or adds to it when {@code accumulate}. */
    void backwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate);

    /** The weight and bias gradients (gbias may be null); overwrite, or add when {@code accumulate}. */
    void backwardWeights(Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate);

    /** Releases the plan's memory. Idempotent. */
    @Override
    void close();
}
