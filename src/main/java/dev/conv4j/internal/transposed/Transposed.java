package dev.conv4j.internal.transposed;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose3dParams;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.internal.engine.Holds;
import dev.conv4j.internal.volume.Volumes;
import java.util.Arrays;

/**
 * A transposed convolution (2-D or 3-D) of given shapes, and its three passes on a {@link Lowering}.
 *
 * <p>A transposed convolution is the input gradient of a convolution: with weights C_in×(C_out/g)×K…
 * read as a convolution's O×(C/g)×K… (the same memory), its forward pass is that convolution's
 * backward-data pass from x into y, its input gradient the convolution's forward pass from gy, and its
 * weight gradient the convolution's weight gradient with x and gy in each other's places. So every
 * engine runs it on the kernels it already has for the three passes, in every layout they take.
 * {@link Axis} finds the convolution; where the output reaches outside the full result (output padding
 * beyond the stride, negative derived padding), the convolution's input is a staged NCHW window that
 * is moved to or from y.
 *
 * <p>The bias is written into y before the convolution's input gradient is added to it, which gives
 * {@code (float) (sum + bias)} with one rounding of the float sum, on every engine and layout.
 */
public final class Transposed {
    private final int n, cout, groups;
    private final Axis[] axes;
    private final Conv2dParams conv2d;
    private final Conv3dParams conv3d;
    /** The shapes, made once: a plan's calls compare tensors with them without allocating. */
    private final int[] inputShape, weightShape, outputShape, biasShape, convInputShape;

    private Transposed(int[] x, int[] wt, Axis[] axes, int groups) {
        n = x[0];
        cout = wt[1] * groups;
        this.groups = groups;
        this.axes = axes;
        inputShape = x.clone();
        weightShape = wt.clone();
        outputShape = shapeOf(cout, axes, true);
        biasShape = new int[] {cout};
        convInputShape = shapeOf(cout, axes, false);
        checkElements(inputShape, "the input x");
        checkElements(outputShape, "the output y");
        conv2d = axes.length == 2 && !empty() ? Conv2dParams.builder().stride(axes[0].stride, axes[1].stride)
                .dilation(axes[0].dilation, axes[1].dilation)
                .padding(axes[0].padBefore, axes[0].padAfter, axes[1].padBefore, axes[1].padAfter).groups(groups).build() : null;
        conv3d = axes.length == 3 && !empty() ? Conv3dParams.builder().stride(axes[0].stride, axes[1].stride, axes[2].stride)
                .dilation(axes[0].dilation, axes[1].dilation, axes[2].dilation)
                .padding(axes[0].padBefore, axes[0].padAfter, axes[1].padBefore, axes[1].padAfter, axes[2].padBefore,
                        axes[2].padAfter).groups(groups).build() : null;
        if (!empty()) {
            int[] y = conv2d != null ? ConvGeometry.of(conv2d, convInputShape(), wt).outputShape()
                    : Conv3dGeometry.of(conv3d, convInputShape(), wt).outputShape();
            if (!Arrays.equals(y, x)) {
                throw new IllegalStateException("internal: the convolution of " + this + " gives " + Arrays.toString(y));
            }
        }
    }

    /**
     * Validates 2-D shapes against the parameters.
     *
     * @throws IllegalArgumentException naming the parameter and the shapes
     */
    public static Transposed of(ConvTranspose2dParams p, int[] inputShape, int[] weightShape) {
        checkParams(p);
        check(inputShape, weightShape, 2, p.groups(), "N, C_in, H, W", "C_in, C_out/groups, KH, KW");
        java.util.function.Supplier<String> context = () -> context(inputShape, weightShape, p.groups()) + ", " + p;
        int[] pad = withContext(() -> p.padding(inputShape[2], inputShape[3], weightShape[2], weightShape[3]), context);
        int[] s = {p.strideH(), p.strideW()}, d = {p.dilationH(), p.dilationW()}, op = {p.outputPaddingH(), p.outputPaddingW()};
        return build(inputShape, weightShape, s, d, op, pad, p.groups(), context, "height", "width");
    }

    /**
     * Validates 3-D shapes against the parameters.
     *
     * @throws IllegalArgumentException naming the parameter and the shapes
     */
    public static Transposed of(ConvTranspose3dParams p, int[] inputShape, int[] weightShape) {
        checkParams(p);
        check(inputShape, weightShape, 3, p.groups(), "N, C_in, D, H, W", "C_in, C_out/groups, KD, KH, KW");
        java.util.function.Supplier<String> context = () -> context(inputShape, weightShape, p.groups()) + ", " + p;
        int[] pad = withContext(() -> p.padding(Arrays.copyOfRange(inputShape, 2, 5), Arrays.copyOfRange(weightShape, 2, 5)),
                context);
        return build(inputShape, weightShape, p.stride(), p.dilation(), p.outputPadding(), pad, p.groups(), context, "depth",
                "height", "width");
    }

    private static Transposed build(int[] x, int[] wt, int[] s, int[] d, int[] op, int[] pad, int groups,
            java.util.function.Supplier<String> context,
            String... names) {
        return withContext(() -> {
            Axis[] axes = new Axis[names.length];
            for (int a = 0; a < axes.length; a++) {
                axes[a] = Axis.of(names[a], x[2 + a], wt[2 + a], s[a], d[a], op[a], pad[2 * a], pad[2 * a + 1]);
            }
            return new Transposed(x, wt, axes, groups);
        }, context);
    }

    /** Runs {@code s}, adding the shapes and parameters to the message of a refusal (built only then). */
    private static <T> T withContext(java.util.function.Supplier<T> s, java.util.function.Supplier<String> context) {
        try {
            return s.get();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + context.get(), e);
        }
    }

    private static void checkParams(Object p) {
        if (p == null) {
            throw new IllegalArgumentException("params must not be null");
        }
    }

    /** Checks ranks, channels and groups (the padding is resolved after). */
    private static void check(int[] x, int[] wt, int rank, int g, String xDims, String wDims) {
        checkShape(x, "input", rank + 2, xDims);
        checkShape(wt, "weight", rank + 2, wDims);
        String context = context(x, wt, g);
        if (wt[0] != x[1]) {
            throw new IllegalArgumentException("weight dimension 0 must be the input channels C_in = " + x[1] + " but is "
                    + wt[0] + context);
        }
        if (x[1] % g != 0) {
            throw new IllegalArgumentException("groups " + g + " does not divide the input channels C_in=" + x[1] + context);
        }
        if ((long) wt[1] * g > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the output channels C_out = " + ((long) wt[1] * g) + " exceed "
                    + Integer.MAX_VALUE + context);
        }
    }

    private static void checkShape(int[] shape, String name, int rank, String dims) {
        if (shape == null) {
            throw new IllegalArgumentException(name + " shape must not be null");
        }
        if (shape.length != rank) {
            throw new IllegalArgumentException(name + " must have rank " + rank + " (" + dims + ") but has shape "
                    + Arrays.toString(shape));
        }
        for (int d : shape) {
            if (d < 1) {
                throw new IllegalArgumentException(name + " shape " + Arrays.toString(shape) + " has a dimension below 1");
            }
        }
    }

    private static String context(int[] x, int[] wt, int g) {
        return " (input " + Arrays.toString(x) + ", weight " + Arrays.toString(wt) + ", groups " + g + ")";
    }

    public int[] inputShape() {
        return inputShape.clone();
    }

    public int[] weightShape() {
        return weightShape.clone();
    }

    public int[] outputShape() {
        return outputShape.clone();
    }

    /** N×C_out×… of the convolution's input: the output's shape, or the staged window's. */
    public int[] convInputShape() {
        return convInputShape.clone();
    }

    private int[] shapeOf(int channels, Axis[] axes, boolean output) {
        int[] s = new int[2 + axes.length];
        s[0] = n;
        s[1] = channels;
        for (int a = 0; a < axes.length; a++) {
            s[2 + a] = output ? axes[a].out : axes[a].size;
        }
        return s;
    }

    /** Refuses a tensor no conv4j tensor can be: more elements than an int counts (the sizes of BLAS and the kernels). */
    private static void checkElements(int[] shape, String name) {
        long count = 1;
        for (int d : shape) {
            count *= d;
            if (count > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(name + " " + Arrays.toString(shape) + " would have more than "
                        + Integer.MAX_VALUE + " elements: it does not fit the 32-bit sizes of BLAS and the native kernels");
            }
        }
    }

    /** The 2-D convolution this runs on (null for 3-D, or when no input reaches the output). */
    public Conv2dParams convolution2d() {
        return conv2d;
    }

    /** True when the convolution's input is a staged window rather than the output itself. */
    public boolean staged() {
        for (Axis a : axes) {
            if (!a.direct) {
                return true;
            }
        }
        return false;
    }

    /** True when no input reaches the output: it holds the bias alone. */
    public boolean empty() {
        for (Axis a : axes) {
            if (a.empty) {
                return true;
            }
        }
        return false;
    }

    // The convolution's passes: a plan's lowering when given, else the engine's own entry points
    // (called directly, so that a per-call pass allocates nothing).

    private void lowBackwardData(ConvEngine e, Lowering low, Tensor gy, Tensor wt, Tensor gx, boolean accumulate) {
        if (low != null) {
            low.backwardData(gy, wt, gx, accumulate);
        } else if (conv2d != null) {
            e.backwardData(conv2d, gy, wt, gx, accumulate);
        } else {
            Volumes.backwardData(e, conv3d, gy, wt, gx, accumulate);
        }
    }

    private void lowForward(ConvEngine e, Lowering low, Tensor x, Tensor wt, Tensor y, boolean accumulate) {
        if (low != null) {
            low.forward(x, wt, y, accumulate);
        } else if (conv2d != null) {
            // the fused form adds y to the convolution in place: y = (float) conv + y
            e.forward(conv2d, x, wt, null, accumulate ? y : null, Activation.NONE, y);
        } else {
            Volumes.forward(e, conv3d, x, wt, null, y, accumulate);
        }
    }

    private void lowBackwardWeights(ConvEngine e, Lowering low, Tensor x, Tensor gy, Tensor gw, boolean accumulate) {
        if (low != null) {
            low.backwardWeights(x, gy, gw, accumulate);
        } else if (conv2d != null) {
            e.backwardWeights(conv2d, x, gy, gw, null, accumulate);
        } else {
            Volumes.backwardWeights(e, conv3d, x, gy, gw, null, accumulate);
        }
    }

    private int[] shifts() {
        int[] s = new int[axes.length];
        for (int a = 0; a < axes.length; a++) {
            s[a] = axes[a].shift;
        }
        return s;
    }

    /** True when {@code in} has the input's shape and {@code w} the weights' (null or closed: false). */
    public boolean hasShapes(Tensor in, Tensor w) {
        return in != null && w != null && hasShape(in, inputShape) && hasShape(w, weightShape);
    }

    /** Checks the weights and bias (which may be null) given to a plan. */
    public void checkWeights(Tensor wt, Tensor bias) {
        checkShape(wt, "w", weightShape);
        checkBias(bias, "bias");
    }

    /**
     * y = convTranspose(x, w) + bias on the plan's {@code low}, or on {@code e}'s passes when {@code low}
     * is null; {@code stage} is the staged window's tensor, or null.
     */
    public void forward(ConvEngine e, Lowering low, Tensor x, Tensor wt, Tensor bias, Tensor y, Tensor stage) {
        Holds.acquire(x, "x", wt, "w", bias, "bias", y, "y");
        try {
            checkShape(x, "x", inputShape);
            checkWeights(wt, bias);
            checkShape(y, "y", outputShape);
            checkApart(y, "y", x, "x", wt, "w", bias, "bias");
            if (empty()) {
                Channels.fill(y, bias);
            } else if (!staged()) {
                if (bias != null) {
                    Channels.fill(y, bias);
                }
                lowBackwardData(e, low, x, wt, y, bias != null);
            } else {
                Tensor z = stage != null ? stage : Tensor.zeros(convInputShape);
                try {
                    lowBackwardData(e, low, x, wt, z, false);
                    Channels.fill(y, bias);
                    Channels.addWindow(z, y, shifts());
                } finally {
                    if (z != stage) {
                        z.close();
                    }
                }
            }
        } finally {
            Holds.release(x, wt, bias, y);
        }
    }

    /** gx = dL/dx for the output gradient gy (added to gx when {@code accumulate}). */
    public void backwardData(ConvEngine e, Lowering low, Tensor gy, Tensor wt, Tensor gx, boolean accumulate, Tensor stage) {
        Holds.acquire(gy, "gy", wt, "w", gx, "gx", null, null);
        try {
            checkShape(gy, "gy", outputShape);
            checkShape(wt, "w", weightShape);
            checkShape(gx, "gx", inputShape);
            checkApart(gx, "gx", gy, "gy", wt, "w", null, null);
            if (empty()) {
                if (!accumulate) {
                    gx.fill(0f);
                }
                return;
            }
            Tensor in = staged() ? window(gy, stage) : gy;
            try {
                lowForward(e, low, in, wt, gx, accumulate);
            } finally {
                release(in, gy, stage);
            }
        } finally {
            Holds.release(gy, wt, gx, null);
        }
    }

    /** gw = dL/dw and gbias = dL/dbias (gbias may be null), overwritten or added to when {@code accumulate}. */
    public void backwardWeights(ConvEngine e, Lowering low, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate, Tensor stage) {
        Holds.acquire(x, "x", gy, "gy", gw, "gw", gbias, "gbias");
        try {
            checkShape(x, "x", inputShape);
            checkShape(gy, "gy", outputShape);
            checkShape(gw, "gw", weightShape);
            checkBias(gbias, "gbias");
            checkApart(gw, "gw", x, "x", gy, "gy", gbias, "gbias");
            if (gbias != null) {
                checkApart(gbias, "gbias", x, "x", gy, "gy", null, null);
            }
            if (empty()) {
                if (!accumulate) {
                    gw.fill(0f);
                }
            } else {
                Tensor in = staged() ? window(gy, stage) : gy;
                try {
                    lowBackwardWeights(e, low, in, x, gw, accumulate);
                } finally {
                    release(in, gy, stage);
                }
            }
            if (gbias != null) {
                Channels.sums(gy, gbias, accumulate);
            }
        } finally {
            Holds.release(x, gy, gw, gbias);
        }
    }

    /** The part of gy the convolution reads, as an NCHW tensor ({@code stage} when given). */
    private Tensor window(Tensor gy, Tensor stage) {
        Tensor z = stage != null ? stage : Tensor.zeros(convInputShape);
        try {
            Channels.copyWindow(gy, z, shifts());
            return z;
        } catch (RuntimeException | Error e) {
            if (z != stage) {
                z.close();
            }
            throw e;
        }
    }

    private static void release(Tensor in, Tensor gy, Tensor stage) {
        if (in != gy && in != stage) {
            in.close();
        }
    }

    private void checkBias(Tensor b, String name) {
        if (b != null) {
            checkShape(b, name, biasShape);
        }
    }

    private static void checkShape(Tensor t, String name, int[] expected) {
        if (t == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        t.checkOpen();
        if (!hasShape(t, expected)) {
            throw new IllegalArgumentException(name + " must have shape " + Arrays.toString(expected) + " but has "
                    + Arrays.toString(t.shape()) + " (" + t.layout() + ")");
        }
        if (expected.length != 4 && t.layout() != Layout.NCHW) {
            throw new IllegalArgumentException(name + " must be NCHW (row-major) but is " + t.layout());
        }
    }

    private static boolean hasShape(Tensor t, int[] shape) {
        if (t.rank() != shape.length) {
            return false;
        }
        for (int i = 0; i < shape.length; i++) {
            if (t.dim(i) != shape[i]) {
                return false;
            }
        }
        return true;
    }

    private static void checkApart(Tensor out, String outName, Tensor a, String an, Tensor b, String bn, Tensor c, String cn) {
        checkApart(out, outName, a, an);
        checkApart(out, outName, b, bn);
        checkApart(out, outName, c, cn);
    }

    private static void checkApart(Tensor out, String outName, Tensor in, String inName) {
        if (in != null && out.overlaps(in)) {
            throw new IllegalArgumentException(outName + " " + Arrays.toString(out.shape()) + " shares memory with "
                    + inName + " " + Arrays.toString(in.shape()) + ": an output must not overlap an input");
        }
    }

    @Override
    public String toString() {
        return "transposed x" + Arrays.toString(inputShape()) + " w" + Arrays.toString(weightShape()) + " -> y"
                + Arrays.toString(outputShape());
    }
}
