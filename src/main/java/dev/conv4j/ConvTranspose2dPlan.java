package dev.conv4j;

/**
 * A 2-D transposed convolution of fixed shapes, prepared for repeated calls: the shapes are checked
 * once, the plan owns its workspace and a copy of the weights given to {@link #prepackWeights}.
 * Obtained from {@link ConvEngine#plan(ConvTranspose2dParams, int[], int[])}; every call validates
 * the tensors it is given against the planned shapes. A plan runs one call at a time (concurrent calls
 * wait); close it to release its memory.
 */
public interface ConvTranspose2dPlan extends AutoCloseable {

    /** N×C_in×H×W of x. */
    int[] inputShape();

    /** C_in×(C_out/groups)×KH×KW of the weights. */
    int[] weightShape();

    /** N×C_out×OH×OW of y. */
    int[] outputShape();

    /** Bytes of off-heap memory the plan owns: workspaces, staging and the weights it holds. */
    long workspaceBytes();

    /** Copies the weights (and the bias, which may be null) into the plan; again whenever they change. */
    void prepackWeights(Tensor w, Tensor bias);

    /** {@code y = convTranspose(x, prepacked weights) + prepacked bias}. */
    void forward(Tensor x, Tensor y);

    /** {@code y = convTranspose(x, w) + bias}, with the weights passed per call (bias may be null). */
    void forward(Tensor x, Tensor w, Tensor bias, Tensor y);

    /** The input gradient; overwrites gx, or adds to it when {@code accumulate}. */
    void backwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate);

    /** The weight and bias gradients (gbias may be null); overwrite, or add when {@code accumulate}. */
    void backwardWeights(Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate);

    /** Releases the plan's memory. Idempotent. */
    @Override
    void close();
}
