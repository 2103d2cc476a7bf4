package dev.conv4j.internal.volume;

import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Tensor;

/**
 * One engine's 3-D convolution passes, on a validated {@link Conv3dGeometry} and tensors that
 * {@link Volumes} has acquired and checked against it (shapes, plain NCDHW memory, outputs sharing no
 * memory with inputs). Reach them through {@link Volumes}, which does that first; implementations
 * trust their arguments.
 */
public interface Conv3dKernels {

    /**
     * {@code y = conv(x, w) + bias}, or with {@code accumulate} {@code y += conv(x, w) + bias} (the input
     * gradient of a transposed convolution is a convolution added into gx); {@code bias} may be null.
     */
    void forward(Conv3dGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y, boolean accumulate);

    /** {@code gx (+)= conv-transpose(gy, w)}, the gradient of the input. */
    void backwardData(Conv3dGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate);

    /**
     * {@code gw (+)=} the sum over the batch of {@code gy ⊗ x}, and {@code gbias (+)=} the sums of gy per
     * output channel (in double, one value at a time in index order, on every engine); {@code gbias} may be null.
     */
    void backwardWeights(Conv3dGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate);
}
