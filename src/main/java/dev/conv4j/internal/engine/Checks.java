package dev.conv4j.internal.engine;

import dev.conv4j.Activation;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import java.util.Arrays;

/**
 * The argument checks of every pass, for the engines' per-call API and for plans alike: shapes against
 * the geometry, layouts, and outputs that must not share memory with what the pass reads. Dimensions are
 * compared one by one, so a passing check allocates nothing; a failing one names the tensor, its shape,
 * its layout and the shape it must have.
 *
 * <p>Two families: the {@code *AnyLayout} checks hold activations to their logical shape in any
 * {@link Layout}, for code that stages what it cannot run ({@link LayoutRunner}); {@link #input},
 * {@link #output} and the pass checks without the suffix also demand NCHW, for code that hands the
 * tensors' memory to kernels that read NCHW. Weights are OIHW, NCHW of their shape, everywhere.
 */
public final class Checks {
    private Checks() {
    }

    /** x (or gx) in NCHW: N x C x H x W. */
    public static void input(Tensor t, String name, ConvGeometry g) {
        shape(t, name, g, g.n, g.c, g.h, g.w);
        nchw(t, name);
    }

    /** x (or gx) in any layout: logically N x C x H x W. */
    public static void inputAnyLayout(Tensor t, String name, ConvGeometry g) {
        shape(t, name, g, g.n, g.c, g.h, g.w);
    }

    /** w (or gw): O x C/groups x KH x KW, in NCHW (OIHW) order. */
    public static void weights(Tensor t, String name, ConvGeometry g) {
        shape(t, name, g, g.o, g.cg, g.kh, g.kw);
        if (t.layout() != Layout.NCHW) {
            throw new IllegalArgumentException(name + " " + describe(t) + " must be NCHW: weights are always OIHW,"
                    + " (O, C/groups, KH, KW) in row-major order; reorder them with toLayout(Layout.NCHW)");
        }
    }

    /** y and gy in NCHW: N x O x OH x OW. */
    public static void output(Tensor t, String name, ConvGeometry g) {
        shape(t, name, g, g.n, g.o, g.oh, g.ow);
        nchw(t, name);
    }

    /** y, gy and a residual in any layout: logically N x O x OH x OW. */
    public static void outputAnyLayout(Tensor t, String name, ConvGeometry g) {
        shape(t, name, g, g.n, g.o, g.oh, g.ow);
    }

    /** bias or gbias, when given: O. */
    public static void bias(Tensor b, String name, ConvGeometry g) {
        if (b != null && (b.rank() != 1 || b.dim(0) != g.o)) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(b.shape()) + " but must be ["
                    + g.o + "] for " + g);
        }
    }

    /** The forward pass's checks over NCHW memory, once x and w are known to fit g. */
    public static void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        bias(bias, "bias", g);
        output(y, "y", g);
        nchw(x, "x");
        disjoint(y, "y", x, "x");
        disjoint(y, "y", w, "w");
        disjoint(y, "y", bias, "bias");
    }

    /**
     * The fused forward pass's checks in any layout, once x (and w, unless null: a plan's prepacked
     * weights) are known to fit g: the activation, the bias, y and the residual (y's shape, any layout),
     * and memory: y shares none with x, w or the bias, and the residual is y itself or shares none with it.
     */
    public static void forwardAnyLayout(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        if (act == null) {
            throw new IllegalArgumentException("act must not be null (Activation.NONE for none)");
        }
        bias(bias, "bias", g);
        outputAnyLayout(y, "y", g);
        if (residual != null) {
            shape(residual, "residual", g, g.n, g.o, g.oh, g.ow);
        }
        disjoint(y, "y", x, "x");
        disjoint(y, "y", w, "w");
        disjoint(y, "y", bias, "bias");
        if (residual != null && residual.overlaps(y) && !TensorMemory.sameMemory(residual, y)) {
            throw new IllegalArgumentException("residual must be y itself (an in-place sum) or share no memory with it,"
                    + " but residual " + describe(residual) + " partly overlaps y " + describe(y));
        }
    }

    /** The input-gradient pass's checks over NCHW memory, once gx and w are known to fit g. */
    public static void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx) {
        output(gy, "gy", g);
        nchw(gx, "gx");
        disjoint(gx, "gx", gy, "gy");
        disjoint(gx, "gx", w, "w");
    }

    /** The input-gradient pass's checks in any layout, once gx and w are known to fit g. */
    public static void backwardDataAnyLayout(ConvGeometry g, Tensor gy, Tensor w, Tensor gx) {
        outputAnyLayout(gy, "gy", g);
        disjoint(gx, "gx", gy, "gy");
        disjoint(gx, "gx", w, "w");
    }

    /** The weight-gradient pass's checks over NCHW memory, once x and gw are known to fit g. */
    public static void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias) {
        output(gy, "gy", g);
        nchw(x, "x");
        backwardWeightsAnyLayout(g, x, gy, gw, gbias);
    }

    /** The weight-gradient pass's checks in any layout, once x and gw are known to fit g. */
    public static void backwardWeightsAnyLayout(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias) {
        outputAnyLayout(gy, "gy", g);
        bias(gbias, "gbias", g);
        disjoint(gw, "gw", x, "x");
        disjoint(gw, "gw", gy, "gy");
        disjoint(gw, "gw", gbias, "gbias");
        if (gbias != null) {
            disjoint(gbias, "gbias", x, "x");
            disjoint(gbias, "gbias", gy, "gy");
        }
    }

    /** Rejects a null tensor, naming it. */
    public static void present(Tensor t, String name) {
        if (t == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
    }

    /** A tensor's shape and layout for messages: {@code [1, 3, 8, 8] NHWC}. */
    public static String describe(Tensor t) {
        return Arrays.toString(t.shape()) + " " + t.layout();
    }

    private static void nchw(Tensor t, String name) {
        if (t.layout() != Layout.NCHW) {
            throw new IllegalArgumentException(name + " " + describe(t) + " must be NCHW here: this plan hands tensors to"
                    + " kernels that read NCHW; reorder it with toLayout(Layout.NCHW), or use the engine's per-call methods"
                    + " or the plan's forward(x, residual, act, y), which take every layout");
        }
    }

    private static void shape(Tensor t, String name, ConvGeometry g, int d0, int d1, int d2, int d3) {
        present(t, name);
        if (t.rank() != 4 || t.dim(0) != d0 || t.dim(1) != d1 || t.dim(2) != d2 || t.dim(3) != d3) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(t.shape()) + " (" + t.layout()
                    + ") but must be " + Arrays.toString(new int[] {d0, d1, d2, d3}) + " for " + g);
        }
    }

    private static void disjoint(Tensor out, String outName, Tensor in, String inName) {
        if (in != null && out.overlaps(in)) {
            throw new IllegalArgumentException(outName + " must not share memory with " + inName
                    + " (the output " + outName + " " + describe(out) + " overlaps " + inName + " " + describe(in) + ")");
        }
    }
}
