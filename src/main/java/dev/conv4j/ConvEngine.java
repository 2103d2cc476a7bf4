package dev.conv4j;

import dev.conv4j.internal.OneD;
import dev.conv4j.internal.Transposes;

/**
 * Runs 2-D convolution layers (and 3-D ones: see the methods that take {@link Conv3dParams}): forward,
 * and backward to the input, the weights and the bias.
 *
 * <p>Shapes: x is N×C×H×W, w is O×(C/groups)×KH×KW, bias is O, y is N×O×OH×OW (see
 * {@link Conv2dParams#outputShape}). Every method validates all of its arguments before it touches
 * memory and throws {@link IllegalArgumentException} naming the parameter, the shapes and the layouts
 * (or {@link IllegalStateException} for a closed tensor). Outputs are written in full: their previous
 * contents never matter, except where {@code accumulate} asks to add to them and for a forward pass's
 * residual that is y itself. An output must not share memory with an input.
 *
 * <p>Layouts: the activations x, y, gx, gy and a residual may each be in any {@link Layout}, mixed
 * freely within a call; shapes are always the logical (N, C, H, W). Weights and their gradient are
 * OIHW ({@link Layout#NCHW}), biases plain vectors. An engine that does not run a combination of
 * layouts in its kernels reorders through NCHW, with the same results, bit for bit, as in NCHW.
 *
 * <p>Implementations are thread-safe: one engine may be called from many threads at once.
 * Obtain them from {@link ConvEngines}.
 */
public interface ConvEngine {

    /** The engine's name: {@code naive}, {@code java} or {@code blas}. */
    String name();

    /** {@code y = conv(x, w) + bias}; {@code bias} may be null. The same as {@code forward(p, x, w, bias, null, Activation.NONE, y)}. */
    void forward(Conv2dParams p, Tensor x, Tensor w, Tensor bias, Tensor y);

    /**
     * The fused forward pass: {@code y = act(conv(x, w) + bias + residual)} in one call, each output
     * element computed as {@link Activation} defines it: {@code acc = (float) (conv + bias)}, exactly
     * the unfused pass's output, then {@code y = act.apply(acc + r)} with one float rounding for the sum
     * (a NaN stays NaN). Every engine gives those bits, whether its kernels fuse the epilogue or it runs
     * as a second pass over y.
     *
     * @param bias     O, or null
     * @param residual null, or a tensor of y's shape in any layout: a ResNet block's shortcut. It may be
     *                 y itself (the same tensor, or a view of exactly the same memory, layout and shape),
     *                 to add the convolution in place; any other overlap with y is refused
     * @param act      {@link Activation#NONE}, {@link Activation#RELU}, {@link Activation#RELU6} or a
     *                 {@link Activation#clamp}; not null
     * @throws IllegalArgumentException if an argument is null, a shape does not fit, the residual partly
     *                                  overlaps y, or y shares memory with x, w or the bias
     */
    default void forward(Conv2dParams p, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        dev.conv4j.internal.Backend.forward(this, p, x, w, bias, residual, act, y);
    }

    /** The gradient of the input, {@code gx = dL/dx} for the output gradient {@code gy}; overwrites gx. */
    default void backwardData(Conv2dParams p, Tensor gy, Tensor w, Tensor gx) {
        backwardData(p, gy, w, gx, false);
    }

    /** As {@link #backwardData(Conv2dParams, Tensor, Tensor, Tensor)}, adding to gx when {@code accumulate}. */
    void backwardData(Conv2dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate);

    /**
     * The gradients of the weight and bias, summed over the batch; overwrites gw and gbias.
     * {@code gbias} may be null when no bias gradient is wanted.
     */
    default void backwardWeights(Conv2dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias) {
        backwardWeights(p, x, gy, gw, gbias, false);
    }

    /** As {@link #backwardWeights(Conv2dParams, Tensor, Tensor, Tensor, Tensor)}, adding to gw and gbias when {@code accumulate}. */
    void backwardWeights(Conv2dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate);

    /**
     * Prepares a layer for repeated calls: validates once, owns its workspace, can prepack weights.
     *
     * @param inputShape N×C×H×W of x
     * @param weightShape O×(C/groups)×KH×KW of w
     * @throws IllegalArgumentException if the shapes do not fit the parameters
     */
    default Conv2dPlan plan(Conv2dParams p, int[] inputShape, int[] weightShape) {
        return dev.conv4j.internal.Backend.genericPlan(this, p, inputShape, weightShape);
    }

    /** Forward into a new tensor in x's layout, which the caller owns and closes. */
    default Tensor forward(Conv2dParams p, Tensor x, Tensor w, Tensor bias) {
        checkNotNull(x, "x");
        checkNotNull(w, "w");
        Tensor y = Tensor.zeros(x.layout(), ConvGeometry.of(p, x.shape(), w.shape()).outputShape());
        try {
            forward(p, x, w, bias, y);
            return y;
        } catch (RuntimeException | Error e) {
            y.close();
            throw e;
        }
    }

    /**
     * The input gradient as a new tensor of shape {@code inputShape} (needed because, with floor
     * output sizes, several input sizes give the same output size), in gy's layout.
     */
    default Tensor backwardData(Conv2dParams p, Tensor gy, Tensor w, int[] inputShape) {
        checkNotNull(gy, "gy");
        checkNotNull(w, "w");
        ConvGeometry.of(p, inputShape, w.shape());
        Tensor gx = Tensor.zeros(gy.layout(), inputShape);
        try {
            backwardData(p, gy, w, gx, false);
            return gx;
        } catch (RuntimeException | Error e) {
            gx.close();
            throw e;
        }
    }

    /** The weight gradient as a new tensor of shape {@code weightShape}. */
    default Tensor backwardWeights(Conv2dParams p, Tensor x, Tensor gy, int[] weightShape) {
        checkNotNull(x, "x");
        ConvGeometry.of(p, x.shape(), weightShape);
        Tensor gw = Tensor.zeros(weightShape);
        try {
            backwardWeights(p, x, gy, gw, null, false);
            return gw;
        } catch (RuntimeException | Error e) {
            gw.close();
            throw e;
        }
    }

    /** The bias gradient, the sums of {@code gy} (N×O×OH×OW, any layout) over N, OH and OW, as a new tensor of shape [O]. */
    Tensor backwardBias(Tensor gy);

    // ---- 1-D convolution: N×C×L, on the 2-D kernels through N×C×1×L views of the same memory ----

    /** The 1-D forward pass {@code y = conv1d(x, w) + bias} (x N×C×L, w O×(C/groups)×K, y N×O×OL); bias may be null. */
    default void forward(Conv1dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        checkParams(p);
        forward(p.asConv2d(), OneD.view(x, "x", "N, C, L"), OneD.view(w, "w", "O, C/groups, K"), bias,
                OneD.view(y, "y", "N, O, OL"));
    }

    /** The 1-D forward pass into a new N×O×OL tensor, which the caller owns and closes. */
    default Tensor forward(Conv1dParams p, Tensor x, Tensor w, Tensor bias) {
        checkParams(p);
        checkNotNull(x, "x");
        checkNotNull(w, "w");
        OneD.lift(x.shape(), "x", "N, C, L");
        OneD.lift(w.shape(), "w", "O, C/groups, K");
        return fill(Tensor.zeros(p.outputShape(x.shape(), w.shape())), y -> forward(p, x, w, bias, y));
    }

    /** The 1-D input gradient; overwrites gx (N×C×L), or adds to it when {@code accumulate}. */
    default void backwardData(Conv1dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        checkParams(p);
        backwardData(p.asConv2d(), OneD.view(gy, "gy", "N, O, OL"), OneD.view(w, "w", "O, C/groups, K"),
                OneD.view(gx, "gx", "N, C, L"), accumulate);
    }

    /** The 1-D weight and bias gradients (gbias may be null); overwrite, or add when {@code accumulate}. */
    default void backwardWeights(Conv1dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        checkParams(p);
        backwardWeights(p.asConv2d(), OneD.view(x, "x", "N, C, L"), OneD.view(gy, "gy", "N, O, OL"),
                OneD.view(gw, "gw", "O, C/groups, K"), gbias, accumulate);
    }

    // ---- transposed convolution (PyTorch's ConvTranspose2d, ONNX's ConvTranspose) ----

    /**
     * The transposed convolution {@code y = convTranspose2d(x, w) + bias}: x N×C_in×H×W, w
     * C_in×(C_out/groups)×KH×KW (PyTorch's layout), bias C_out or null, y N×C_out×OH×OW (see
     * {@link ConvTranspose2dParams}). x and y may be in any {@link Layout}; y is overwritten.
     *
     * @throws IllegalArgumentException if an argument is null, a shape does not fit, or y shares memory with an input
     */
    default void forward(ConvTranspose2dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        Transposes.forward(this, p, x, w, bias, y);
    }

    /** The transposed convolution into a new tensor in x's layout, which the caller owns and closes. */
    default Tensor forward(ConvTranspose2dParams p, Tensor x, Tensor w, Tensor bias) {
        int[] shape = Transposes.outputShape(p, shape(x, "x"), shape(w, "w"));
        return fill(Tensor.zeros(x.layout(), shape), y -> forward(p, x, w, bias, y));
    }

    /** The transposed convolution's input gradient gx (x's shape) from gy (y's shape); overwrites gx, or adds when {@code accumulate}. */
    default void backwardData(ConvTranspose2dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        Transposes.backwardData(this, p, gy, w, gx, accumulate);
    }

    /** The transposed convolution's weight and bias gradients (gbias may be null); overwrite, or add when {@code accumulate}. */
    default void backwardWeights(ConvTranspose2dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        Transposes.backwardWeights(this, p, x, gy, gw, gbias, accumulate);
    }

    /**
     * Prepares a transposed convolution for repeated calls.
     *
     * @param inputShape N×C_in×H×W of x
     * @param weightShape C_in×(C_out/groups)×KH×KW of w
     * @throws IllegalArgumentException if the shapes do not fit the parameters
     */
    default ConvTranspose2dPlan plan(ConvTranspose2dParams p, int[] inputShape, int[] weightShape) {
        return Transposes.plan(this, p, inputShape, weightShape);
    }

    // ---- 1-D transposed convolution, on the 2-D one through N×C×1×L views ----

    /** The 1-D transposed convolution (x N×C_in×L, w C_in×(C_out/groups)×K, y N×C_out×OL); bias may be null. */
    default void forward(ConvTranspose1dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        checkParams(p);
        forward(p.asTranspose2d(), OneD.view(x, "x", "N, C_in, L"), OneD.view(w, "w", "C_in, C_out/groups, K"), bias,
                OneD.view(y, "y", "N, C_out, OL"));
    }

    /** The 1-D transposed convolution into a new N×C_out×OL tensor, which the caller owns and closes. */
    default Tensor forward(ConvTranspose1dParams p, Tensor x, Tensor w, Tensor bias) {
        checkParams(p);
        checkNotNull(x, "x");
        checkNotNull(w, "w");
        OneD.lift(x.shape(), "x", "N, C_in, L");
        OneD.lift(w.shape(), "w", "C_in, C_out/groups, K");
        return fill(Tensor.zeros(p.outputShape(x.shape(), w.shape())), y -> forward(p, x, w, bias, y));
    }

    /** The 1-D transposed convolution's input gradient; overwrites gx, or adds to it when {@code accumulate}. */
    default void backwardData(ConvTranspose1dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        checkParams(p);
        backwardData(p.asTranspose2d(), OneD.view(gy, "gy", "N, C_out, OL"), OneD.view(w, "w", "C_in, C_out/groups, K"),
                OneD.view(gx, "gx", "N, C_in, L"), accumulate);
    }

    /** The 1-D transposed convolution's weight and bias gradients (gbias may be null). */
    default void backwardWeights(ConvTranspose1dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        checkParams(p);
        backwardWeights(p.asTranspose2d(), OneD.view(x, "x", "N, C_in, L"), OneD.view(gy, "gy", "N, C_out, OL"),
                OneD.view(gw, "gw", "C_in, C_out/groups, K"), gbias, accumulate);
    }

    // ---- 3-D transposed convolution (PyTorch's ConvTranspose3d), on the 3-D convolution's passes ----

    /**
     * The 3-D transposed convolution: x N×C_in×D×H×W, w C_in×(C_out/groups)×KD×KH×KW, bias C_out or null,
     * y N×C_out×OD×OH×OW (see {@link ConvTranspose3dParams}); y is overwritten.
     */
    default void forward(ConvTranspose3dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        Transposes.forward(this, p, x, w, bias, y);
    }

    /** The 3-D transposed convolution into a new tensor, which the caller owns and closes. */
    default Tensor forward(ConvTranspose3dParams p, Tensor x, Tensor w, Tensor bias) {
        int[] shape = Transposes.outputShape(p, shape(x, "x"), shape(w, "w"));
        return fill(Tensor.zeros(shape), y -> forward(p, x, w, bias, y));
    }

    /** The 3-D transposed convolution's input gradient; overwrites gx, or adds to it when {@code accumulate}. */
    default void backwardData(ConvTranspose3dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        Transposes.backwardData(this, p, gy, w, gx, accumulate);
    }

    /** The 3-D transposed convolution's weight and bias gradients (gbias may be null). */
    default void backwardWeights(ConvTranspose3dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        Transposes.backwardWeights(this, p, x, gy, gw, gbias, accumulate);
    }

    private static Tensor fill(Tensor y, java.util.function.Consumer<Tensor> pass) {
        try {
            pass.accept(y);
            return y;
        } catch (RuntimeException | Error e) {
            y.close();
            throw e;
        }
    }

    private static int[] shape(Tensor t, String name) {
        checkNotNull(t, name);
        return t.shape();
    }

    private static void checkParams(Object p) {
        if (p == null) {
            throw new IllegalArgumentException("params must not be null");
        }
    }

    private static void checkNotNull(Tensor t, String name) {
        if (t == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
    }

    /*
     * 3-D convolution (video, volumes): x N×C×D×H×W, w O×(C/groups)×KD×KH×KW, bias O, y N×O×OD×OH×OW,
     * all plain row-major (NCDHW) tensors; see Conv3dParams. Every engine runs them: naive by the
     * definition, java and blas by vol2col + GEMM on their own threads; an implementation of this
     * interface that is not one of conv4j's engines runs them on the naive passes. Arguments are
     * validated as in 2-D, before any memory is touched.
     */

    /**
     * {@code y = conv3d(x, w) + bias}; {@code bias} may be null. Overwrites y.
     *
     * @throws IllegalArgumentException if an argument is null, a shape does not fit the parameters, or y
     *                                  shares memory with x, w or the bias
     * @throws IllegalStateException    if a tensor is closed
     */
    default void forward(Conv3dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        dev.conv4j.internal.Backend.forward3d(this, p, x, w, bias, y, false);
    }

    /** The 3-D forward pass into a new tensor of shape {@link Conv3dParams#outputShape}, which the caller owns and closes. */
    default Tensor forward(Conv3dParams p, Tensor x, Tensor w, Tensor bias) {
        return dev.conv4j.internal.Backend.forward3d(this, p, x, w, bias);
    }

    /**
     * The gradient of the input of a 3-D layer, {@code gx = dL/dx} for the output gradient {@code gy}
     * (N×O×OD×OH×OW); overwrites gx, or adds to it when {@code accumulate}.
     *
     * @throws IllegalArgumentException if an argument is null, a shape does not fit, or gx shares memory with gy or w
     * @throws IllegalStateException    if a tensor is closed
     */
    default void backwardData(Conv3dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        dev.conv4j.internal.Backend.backwardData3d(this, p, gy, w, gx, accumulate);
    }

    /**
     * The gradients of the weight and bias of a 3-D layer, summed over the batch; overwrites gw and gbias,
     * or adds to them when {@code accumulate}. {@code gbias} may be null when no bias gradient is wanted.
     *
     * @throws IllegalArgumentException if an argument is null, a shape does not fit, or gw or gbias shares
     *                                  memory with another tensor of the call
     * @throws IllegalStateException    if a tensor is closed
     */
    default void backwardWeights(Conv3dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        dev.conv4j.internal.Backend.backwardWeights3d(this, p, x, gy, gw, gbias, accumulate);
    }
}
