package dev.conv4j.internal.transposed;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.internal.engine.Holds;
import java.util.Arrays;

/**
 * A 2-D transposed convolution of given shapes, run on a convolution engine.
 *
 * <p>A transposed convolution is the input gradient of a convolution: with weights C_in×(C_out/g)×KH×KW
 * read as a convolution's O×(C/g)×KH×KW (the same memory), its forward pass is that convolution's
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
public final class Transposed2d {
    private final int n, cin, h, w, cout, kh, kw, groups;
    private final Axis rows, cols;
    /** The convolution: input N×C_out×(staged or output size), weights as given, output N×C_in×H×W. */
    private final Conv2dParams conv;
    private final ConvGeometry convGeometry;

    private Transposed2d(int[] x, int[] wt, Axis rows, Axis cols, int groups) {
        n = x[0];
        cin = x[1];
        h = x[2];
        w = x[3];
        cout = wt[1] * groups;
        kh = wt[2];
        kw = wt[3];
        this.groups = groups;
        this.rows = rows;
        this.cols = cols;
        if (empty()) {
            conv = null;
            convGeometry = null;
            return;
        }
        conv = Conv2dParams.builder().stride(rows.stride, cols.stride).dilation(rows.dilation, cols.dilation)
                .padding(rows.padBefore, rows.padAfter, cols.padBefore, cols.padAfter).groups(groups).build();
        convGeometry = ConvGeometry.of(conv, new int[] {n, cout, rows.size, cols.size}, wt);
        if (!Arrays.equals(convGeometry.outputShape(), x)) {
            throw new IllegalStateException("internal: the convolution of " + this + " gives "
                    + Arrays.toString(convGeometry.outputShape()) + ", not the input " + Arrays.toString(x));
        }
    }

    /**
     * Validates the shapes against the parameters.
     *
     * @throws IllegalArgumentException naming the parameter and the shapes
     */
    public static Transposed2d of(ConvTranspose2dParams p, int[] inputShape, int[] weightShape) {
        if (p == null) {
            throw new IllegalArgumentException("params must not be null");
        }
        check(inputShape, "input", "N, C_in, H, W");
        check(weightShape, "weight", "C_in, C_out/groups, KH, KW");
        int g = p.groups();
        String context = " (input " + Arrays.toString(inputShape) + ", weight " + Arrays.toString(weightShape) + ", groups "
                + g + ")";
        if (weightShape[0] != inputShape[1]) {
            throw new IllegalArgumentException("weight dimension 0 must be the input channels C_in = " + inputShape[1]
                    + " but is " + weightShape[0] + context);
        }
        if (inputShape[1] % g != 0) {
            throw new IllegalArgumentException("groups " + g + " does not divide the input channels C_in=" + inputShape[1] + context);
        }
        if ((long) weightShape[1] * g > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the output channels C_out = " + ((long) weightShape[1] * g) + " exceed "
                    + Integer.MAX_VALUE + context);
        }
        int[] pad = p.padding(inputShape[2], inputShape[3], weightShape[2], weightShape[3]);
        try {
            Axis rows = Axis.of("height", inputShape[2], weightShape[2], p.strideH(), p.dilationH(), p.outputPaddingH(), pad[0], pad[1]);
            Axis cols = Axis.of("width", inputShape[3], weightShape[3], p.strideW(), p.dilationW(), p.outputPaddingW(), pad[2], pad[3]);
            return new Transposed2d(inputShape, weightShape, rows, cols, g);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + context + ", " + p, e);
        }
    }

    private static void check(int[] shape, String name, String dims) {
        if (shape == null) {
            throw new IllegalArgumentException(name + " shape must not be null");
        }
        if (shape.length != 4) {
            throw new IllegalArgumentException(name + " must have rank 4 (" + dims + ") but has shape " + Arrays.toString(shape));
        }
        for (int d : shape) {
            if (d < 1) {
                throw new IllegalArgumentException(name + " shape " + Arrays.toString(shape) + " has a dimension below 1");
            }
        }
    }

    public int[] inputShape() {
        return new int[] {n, cin, h, w};
    }

    public int[] weightShape() {
        return new int[] {cin, cout / groups, kh, kw};
    }

    public int[] outputShape() {
        return new int[] {n, cout, rows.out, cols.out};
    }

    /** The convolution this runs on (null when no input reaches the output); its input has {@link #convInputShape()}. */
    public Conv2dParams convolution() {
        return conv;
    }

    /** N×C_out×rows×cols of the convolution's input: the output's shape, or the staged window's. */
    public int[] convInputShape() {
        return new int[] {n, cout, rows.size, cols.size};
    }

    /** True when the convolution's input is a staged window rather than the output itself. */
    public boolean staged() {
        return !rows.direct || !cols.direct;
    }

    /** True when no input reaches the output: it holds the bias alone. */
    public boolean empty() {
        return rows.empty || cols.empty;
    }

    /** Multiply-adds of one pass, doubled (those of the convolution it runs on). */
    public double flops() {
        return convGeometry == null ? 0 : convGeometry.flops();
    }

    /** Checks the weights and bias (which may be null) given to a plan. */
    public void checkWeights(Tensor wt, Tensor bias) {
        checkShape(wt, "w", weightShape());
        checkBias(bias, "bias");
    }

    /** Checks the tensors of a forward pass: shapes, and y sharing no memory with the inputs. */
    public void checkForward(Tensor x, Tensor wt, Tensor bias, Tensor y) {
        checkShape(x, "x", inputShape());
        checkShape(wt, "w", weightShape());
        checkBias(bias, "bias");
        checkShape(y, "y", outputShape());
        checkApart(y, "y", x, "x", wt, "w", bias, "bias");
    }

    /** y = convTranspose(x, w) + bias, on {@code engine}'s kernels; or, with a plan, on the plan's. */
    public void forward(ConvEngine engine, Conv2dPlan plan, Tensor x, Tensor wt, Tensor bias, Tensor y, Tensor stage) {
        Holds.acquire(x, "x", wt, "w", bias, "bias", y, "y");
        try {
            checkForward(x, wt, bias, y);
            forwardHeld(engine, plan, x, wt, bias, y, stage);
        } finally {
            Holds.release(x, wt, bias, y);
        }
    }

    private void forwardHeld(ConvEngine engine, Conv2dPlan plan, Tensor x, Tensor wt, Tensor bias, Tensor y, Tensor stage) {
        if (empty()) {
            Channels.fill(y, bias);
            return;
        }
        if (!staged()) {
            if (bias != null) {
                Channels.fill(y, bias);
            }
            backwardData(engine, plan, x, wt, y, bias != null);
            return;
        }
        Tensor z = stage != null ? stage : Tensor.zeros(convInputShape());
        try {
            backwardData(engine, plan, x, wt, z, false);
            Channels.fill(y, bias);
            Channels.addWindow(z, y, rows.shift, cols.shift);
        } finally {
            if (z != stage) {
                z.close();
            }
        }
    }

    /** gx = dL/dx for the output gradient gy (added to gx when {@code accumulate}). */
    public void backwardData(ConvEngine engine, Conv2dPlan plan, Tensor gy, Tensor wt, Tensor gx, boolean accumulate, Tensor stage) {
        Holds.acquire(gy, "gy", wt, "w", gx, "gx", null, null);
        try {
            checkShape(gy, "gy", outputShape());
            checkShape(wt, "w", weightShape());
            checkShape(gx, "gx", inputShape());
            checkApart(gx, "gx", gy, "gy", wt, "w", null, null);
            backwardDataHeld(engine, plan, gy, wt, gx, accumulate, stage);
        } finally {
            Holds.release(gy, wt, gx, null);
        }
    }

    private void backwardDataHeld(ConvEngine engine, Conv2dPlan plan, Tensor gy, Tensor wt, Tensor gx, boolean accumulate,
            Tensor stage) {
        if (empty()) {
            if (!accumulate) {
                gx.fill(0f);
            }
            return;
        }
        Tensor in = staged() ? window(gy, stage) : gy;
        try {
            if (plan != null) {
                if (accumulate) {
                    plan.forward(in, wt, null, gx, Activation.NONE, gx);
                } else {
                    plan.forward(in, wt, (Tensor) null, gx);
                }
            } else if (accumulate) {
                engine.forward(conv, in, wt, null, gx, Activation.NONE, gx);
            } else {
                engine.forward(conv, in, wt, (Tensor) null, gx);
            }
        } finally {
            release(in, gy, stage);
        }
    }

    /** gw = dL/dw and gbias = dL/dbias (gbias may be null), overwritten or added to when {@code accumulate}. */
    public void backwardWeights(ConvEngine engine, Conv2dPlan plan, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
            boolean accumulate, Tensor stage) {
        Holds.acquire(x, "x", gy, "gy", gw, "gw", gbias, "gbias");
        try {
            checkShape(x, "x", inputShape());
            checkShape(gy, "gy", outputShape());
            checkShape(gw, "gw", weightShape());
            checkBias(gbias, "gbias");
            checkApart(gw, "gw", x, "x", gy, "gy", gbias, "gbias");
            if (gbias != null) {
                checkApart(gbias, "gbias", x, "x", gy, "gy", null, null);
            }
            backwardWeightsHeld(engine, plan, x, gy, gw, gbias, accumulate, stage);
        } finally {
            Holds.release(x, gy, gw, gbias);
        }
    }

    private void backwardWeightsHeld(ConvEngine engine, Conv2dPlan plan, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
            boolean accumulate, Tensor stage) {
        if (empty()) {
            if (!accumulate) {
                gw.fill(0f);
            }
        } else {
            Tensor in = staged() ? window(gy, stage) : gy;
            try {
                if (plan != null) {
                    plan.backwardWeights(in, x, gw, null, accumulate);
                } else {
                    engine.backwardWeights(conv, in, x, gw, null, accumulate);
                }
            } finally {
                release(in, gy, stage);
            }
        }
        if (gbias != null) {
            Channels.sums(gy, gbias, accumulate);
        }
    }

    private void backwardData(ConvEngine engine, Conv2dPlan plan, Tensor x, Tensor wt, Tensor into, boolean accumulate) {
        if (plan != null) {
            plan.backwardData(x, wt, into, accumulate);
        } else {
            engine.backwardData(conv, x, wt, into, accumulate);
        }
    }

    /** The part of gy the convolution reads, as an NCHW tensor ({@code stage} when given). */
    private Tensor window(Tensor gy, Tensor stage) {
        Tensor z = stage != null ? stage : Tensor.zeros(convInputShape());
        try {
            Channels.copyWindow(gy, z, rows.shift, cols.shift);
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
            checkShape(b, name, new int[] {cout});
        }
    }

    private static void checkShape(Tensor t, String name, int[] expected) {
        if (t == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        t.checkOpen();
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(name + " must have shape " + Arrays.toString(expected) + " but has "
                    + Arrays.toString(t.shape()) + " (" + t.layout() + ")");
        }
        if (expected.length != 4 && t.layout() != Layout.NCHW) {
            throw new IllegalArgumentException(name + " must be a plain vector");
        }
    }

    private static void checkApart(Tensor out, String outName, Tensor a, String an, Tensor b, String bn, Tensor c, String cn) {
        Tensor[] ins = {a, b, c};
        String[] names = {an, bn, cn};
        for (int i = 0; i < 3; i++) {
            if (ins[i] != null && out.overlaps(ins[i])) {
                throw new IllegalArgumentException(outName + " " + Arrays.toString(out.shape()) + " shares memory with "
                        + names[i] + " " + Arrays.toString(ins[i].shape()) + ": an output must not overlap an input");
            }
        }
    }

    @Override
    public String toString() {
        return "transposed x" + Arrays.toString(inputShape()) + " w" + Arrays.toString(weightShape()) + " -> y"
                + Arrays.toString(outputShape());
    }
}
