package dev.conv4j.engine;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import java.util.Arrays;

/**
 * Validates every call in one place, then hands the engine resolved sizes. Engines implement
 * the three passes on a {@link ConvGeometry} and tensors whose shapes are known to match it.
 */
abstract class AbstractConvEngine implements ConvEngine {

    @Override
    public final void forward(Conv2dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        checkPresent(p, x, "x", w, "w", y, "y");
        if (bias != null) {
            bias.checkOpen();
        }
        ConvGeometry g = geometry(p, x, "x", w, "w");
        checkBias(bias, "bias", g);
        checkShape(y, "y", g.outputShape(), g);
        checkDisjoint(y, "y", x, "x", w, "w", bias, "bias");
        forward(g, x, w, bias, y);
    }

    @Override
    public final void backwardData(Conv2dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        checkPresent(p, gy, "gy", w, "w", gx, "gx");
        ConvGeometry g = geometry(p, gx, "gx", w, "w");
        checkShape(gy, "gy", g.outputShape(), g);
        checkDisjoint(gx, "gx", gy, "gy", w, "w", null, null);
        backwardData(g, gy, w, gx, accumulate);
    }

    @Override
    public final void backwardWeights(Conv2dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
                                      boolean accumulate) {
        checkPresent(p, x, "x", gy, "gy", gw, "gw");
        if (gbias != null) {
            gbias.checkOpen();
        }
        ConvGeometry g = geometry(p, x, "x", gw, "gw");
        checkShape(gy, "gy", g.outputShape(), g);
        checkBias(gbias, "gbias", g);
        checkDisjoint(gw, "gw", x, "x", gy, "gy", gbias, "gbias");
        if (gbias != null) {
            checkDisjoint(gbias, "gbias", x, "x", gy, "gy", null, null);
        }
        backwardWeights(g, x, gy, gw, gbias, accumulate);
    }

    /** y = conv(x, w) + bias, all shapes already checked. */
    protected abstract void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y);

    /** gx (+)= conv-transpose(gy, w), all shapes already checked. */
    protected abstract void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate);

    /** gw (+)= sum over the batch of gy ⊗ x, gbias (+)= sums of gy, all shapes already checked. */
    protected abstract void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
                                            boolean accumulate);

    private static void checkPresent(Conv2dParams p, Tensor a, String an, Tensor b, String bn, Tensor c, String cn) {
        if (p == null) {
            throw new IllegalArgumentException("params must not be null");
        }
        checkPresent(a, an);
        checkPresent(b, bn);
        checkPresent(c, cn);
    }

    private static void checkPresent(Tensor t, String name) {
        if (t == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        t.checkOpen();
    }

    private static ConvGeometry geometry(Conv2dParams p, Tensor in, String inName, Tensor wt, String wName) {
        int[] is = in.shape(), ws = wt.shape();
        if (is.length != 4) {
            throw new IllegalArgumentException(inName + " must have rank 4 (N, C, H, W) but has shape " + Arrays.toString(is));
        }
        if (ws.length != 4) {
            throw new IllegalArgumentException(wName + " must have rank 4 (O, C/groups, KH, KW) but has shape " + Arrays.toString(ws));
        }
        try {
            return ConvGeometry.of(p, is, ws);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(inName + " " + Arrays.toString(is) + " and " + wName + " "
                    + Arrays.toString(ws) + ": " + e.getMessage(), e);
        }
    }

    private static void checkShape(Tensor t, String name, int[] expected, ConvGeometry g) {
        int[] s = t.shape();
        if (!Arrays.equals(s, expected)) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(s) + " but must be "
                    + Arrays.toString(expected) + " for " + g);
        }
    }

    private static void checkBias(Tensor b, String name, ConvGeometry g) {
        if (b != null) {
            checkShape(b, name, new int[] {g.o}, g);
        }
    }

    private static void checkDisjoint(Tensor out, String outName, Tensor a, String an, Tensor b, String bn,
                                      Tensor c, String cn) {
        checkDisjoint(out, outName, a, an);
        checkDisjoint(out, outName, b, bn);
        checkDisjoint(out, outName, c, cn);
    }

    private static void checkDisjoint(Tensor out, String outName, Tensor in, String inName) {
        if (in != null && out.overlaps(in)) {
            throw new IllegalArgumentException(outName + " must not share memory with " + inName
                    + " (the output " + outName + Arrays.toString(out.shape()) + " overlaps " + inName
                    + Arrays.toString(in.shape()) + ")");
        }
    }
}
