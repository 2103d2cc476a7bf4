package dev.conv4j.internal.engine;

import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import java.util.Arrays;

/**
 * The argument checks of every pass, for the engines' per-call API and for plans alike: shapes against
 * the geometry, and outputs that must not share memory with what the pass reads. Dimensions are compared
 * one by one, so a passing check allocates nothing; a failing one names the tensor, its shape and the
 * shape it must have.
 */
public final class Checks {
    private Checks() {
    }

    /** x (or gx): N x C x H x W. */
    public static void input(Tensor t, String name, ConvGeometry g) {
        shape(t, name, g, g.n, g.c, g.h, g.w);
    }

    /** w (or gw): O x C/groups x KH x KW. */
    public static void weights(Tensor t, String name, ConvGeometry g) {
        shape(t, name, g, g.o, g.cg, g.kh, g.kw);
    }

    /** y and gy: N x O x OH x OW. */
    public static void output(Tensor t, String name, ConvGeometry g) {
        shape(t, name, g, g.n, g.o, g.oh, g.ow);
    }

    /** bias or gbias, when given: O. */
    public static void bias(Tensor b, String name, ConvGeometry g) {
        if (b != null && (b.rank() != 1 || b.dim(0) != g.o)) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(b.shape()) + " but must be ["
                    + g.o + "] for " + g);
        }
    }

    /** The forward pass's checks, once x and w are known to fit g. */
    public static void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        bias(bias, "bias", g);
        output(y, "y", g);
        disjoint(y, "y", x, "x");
        disjoint(y, "y", w, "w");
        disjoint(y, "y", bias, "bias");
    }

    /** The input-gradient pass's checks, once gx and w are known to fit g. */
    public static void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx) {
        output(gy, "gy", g);
        disjoint(gx, "gx", gy, "gy");
        disjoint(gx, "gx", w, "w");
    }

    /** The weight-gradient pass's checks, once x and gw are known to fit g. */
    public static void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias) {
        output(gy, "gy", g);
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

    private static void shape(Tensor t, String name, ConvGeometry g, int d0, int d1, int d2, int d3) {
        present(t, name);
        if (t.rank() != 4 || t.dim(0) != d0 || t.dim(1) != d1 || t.dim(2) != d2 || t.dim(3) != d3) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(t.shape()) + " but must be "
                    + Arrays.toString(new int[] {d0, d1, d2, d3}) + " for " + g);
        }
    }

    private static void disjoint(Tensor out, String outName, Tensor in, String inName) {
        if (in != null && out.overlaps(in)) {
            throw new IllegalArgumentException(outName + " must not share memory with " + inName
                    + " (the output " + outName + Arrays.toString(out.shape()) + " overlaps " + inName
                    + Arrays.toString(in.shape()) + ")");
        }
    }
}
