package dev.conv4j.internal.transposed;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.Tensor;

/**
 * The plan of the convolution a transposed convolution runs on, as its three passes; x and y of the
 * transposed operation are its gy and x. (A per-call pass calls the engine's entry points directly.)
 */
public interface Lowering {

    /** The convolution's input gradient of {@code gy} into {@code gx} (added when {@code accumulate}). */
    void backwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate);

    /** The convolution's forward pass without bias into {@code y} (added when {@code accumulate}). */
    void forward(Tensor x, Tensor w, Tensor y, boolean accumulate);

    /** The convolution's weight gradient (added when {@code accumulate}). */
    void backwardWeights(Tensor x, Tensor gy, Tensor gw, boolean accumulate);

    /** A 2-D convolution on a plan's kernels and workspace. */
    static Lowering of(Conv2dPlan plan) {
        return new Lowering() {
            public void backwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
                plan.backwardData(gy, w, gx, accumulate);
            }

            public void forward(Tensor x, Tensor w, Tensor y, boolean accumulate) {
                plan.forward(x, w, null, accumulate ? y : null, Activation.NONE, y);
            }

            public void backwardWeights(Tensor x, Tensor gy, Tensor gw, boolean accumulate) {
                plan.backwardWeights(x, gy, gw, null, accumulate);
            }
        };
    }
}
