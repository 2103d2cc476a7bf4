package dev.conv4j.engine;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * Validates every call in one place, then hands the engine resolved sizes. Engines implement
 * the three passes on a {@link ConvGeometry} and tensors whose shapes are known to match it.
 *
 * <p>Every public entry acquires all of its tensors ({@link Tensor#acquire()}) before it looks at
 * them and releases them after the pass returns, so another thread cannot close one in between: its
 * {@code close()} throws instead of freeing memory that the pass still reads or writes. Validation
 * happens on the acquired tensors, before any element is read or written, so a rejected call leaves
 * every tensor as it was.
 */
abstract class AbstractConvEngine implements ConvEngine {

    @Override
    public final void forward(Conv2dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        checkPresent(p, x, "x", w, "w", y, "y");
        Holds.acquire(x, "x", w, "w", bias, "bias", y, "y");
        try {
            ConvGeometry g = geometry(p, x, "x", w, "w");
            checkBias(bias, "bias", g);
            checkOutputShape(y, "y", g);
            checkDisjoint(y, "y", x, "x", w, "w", bias, "bias");
            forward(g, x, w, bias, y);
        } finally {
            Holds.release(x, w, bias, y);
        }
    }

    @Override
    public final void backwardData(Conv2dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        checkPresent(p, gy, "gy", w, "w", gx, "gx");
        Holds.acquire(gy, "gy", w, "w", gx, "gx", null, null);
        try {
            ConvGeometry g = geometry(p, gx, "gx", w, "w");
            checkOutputShape(gy, "gy", g);
            checkDisjoint(gx, "gx", gy, "gy", w, "w", null, null);
            backwardData(g, gy, w, gx, accumulate);
        } finally {
            Holds.release(gy, w, gx, null);
        }
    }

    @Override
    public final void backwardWeights(Conv2dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
                                      boolean accumulate) {
        checkPresent(p, x, "x", gy, "gy", gw, "gw");
        Holds.acquire(x, "x", gy, "gy", gw, "gw", gbias, "gbias");
        try {
            ConvGeometry g = geometry(p, x, "x", gw, "gw");
            checkOutputShape(gy, "gy", g);
            checkBias(gbias, "gbias", g);
            checkDisjoint(gw, "gw", x, "x", gy, "gy", gbias, "gbias");
            if (gbias != null) {
                checkDisjoint(gbias, "gbias", x, "x", gy, "gy", null, null);
            }
            backwardWeights(g, x, gy, gw, gbias, accumulate);
        } finally {
            Holds.release(x, gy, gw, gbias);
        }
    }

    /** As the interface's default, but holding {@code gy} for the duration and summing in a fixed order. */
    @Override
    public final Tensor backwardBias(Tensor gy) {
        if (gy == null) {
            throw new IllegalArgumentException("gy must not be null");
        }
        Holds.acquire(gy, "gy", null, null, null, null, null, null);
        try {
            int[] s = gy.shape();
            if (s.length != 4) {
                throw new IllegalArgumentException("gy must have rank 4 (N, O, OH, OW) but has shape " + Arrays.toString(s));
            }
            checkBufferable(gy, "gy");
            int plane = s[2] * s[3];
            FloatBuffer b = gy.buffer();
            float[] sums = new float[s[1]];
            for (int o = 0; o < s[1]; o++) {
                double acc = 0;
                for (int n = 0; n < s[0]; n++) {
                    int base = (n * s[1] + o) * plane;
                    for (int i = 0; i < plane; i++) {
                        acc += b.get(base + i);
                    }
                }
                sums[o] = (float) acc;
            }
            return Tensor.of(sums, s[1]);
        } finally {
            Holds.release(gy, null, null, null);
        }
    }

    /** y = conv(x, w) + bias, all shapes already checked. */
    protected abstract void forward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y);

    /** gx (+)= conv-transpose(gy, w), all shapes already checked. */
    protected abstract void backwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate);

    /** gw (+)= sum over the batch of gy ⊗ x, gbias (+)= sums of gy, all shapes already checked. */
    protected abstract void backwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
                                            boolean accumulate);

    /**
     * Rejects a tensor too large for a Java buffer, for engines that read tensors through
     * {@link Tensor#buffer()}: a silently shorter buffer would fail half-way through a pass.
     */
    static void checkBufferable(Tensor t, String name) {
        if (t != null && t.size() > Tensor.MAX_BUFFER_ELEMENTS) {
            throw new IllegalArgumentException(name + " " + Arrays.toString(t.shape()) + " has " + t.size()
                    + " elements, more than the " + Tensor.MAX_BUFFER_ELEMENTS + " (2 GiB) a Java buffer addresses;"
                    + " this pass reads tensors through Java buffers: use the blas engine for tensors this large");
        }
    }

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
    }


    /** The last geometry each thread validated: a layer called again with the same shapes is not re-derived. */
    private static final ThreadLocal<LastGeometry> LAST = ThreadLocal.withInitial(LastGeometry::new);

    private static final class LastGeometry {
        Conv2dParams params;
        final int[] dims = new int[8];
        ConvGeometry geometry;

        boolean matches(Conv2dParams p, Tensor in, Tensor wt) {
            if (geometry == null || !(p == params || p.equals(params)) || in.rank() != 4 || wt.rank() != 4) {
                return false;
            }
            for (int i = 0; i < 4; i++) {
                if (in.dim(i) != dims[i] || wt.dim(i) != dims[4 + i]) {
                    return false;
                }
            }
            return true;
        }

        void remember(Conv2dParams p, Tensor in, Tensor wt, ConvGeometry g) {
            for (int i = 0; i < 4; i++) {
                dims[i] = in.dim(i);
                dims[4 + i] = wt.dim(i);
            }
            params = p;
            geometry = g;
        }
    }

    private static ConvGeometry geometry(Conv2dParams p, Tensor in, String inName, Tensor wt, String wName) {
        LastGeometry last = LAST.get();
        if (last.matches(p, in, wt)) {
            return last.geometry;
        }
        ConvGeometry g = derive(p, in, inName, wt, wName);
        last.remember(p, in, wt, g);
        return g;
    }

    private static ConvGeometry derive(Conv2dParams p, Tensor in, String inName, Tensor wt, String wName) {
        int[] is = in.shape(), ws = wt.shape();
        if (is.length != 4) {
            throw new IllegalArgumentException(inName + " must have rank 4 (N, C, H, W) but has shape " + Arrays.toString(is));
        }
        if (ws.length != 4) {
            throw new IllegalArgumentException(wName + " must have rank 4 (O, C/groups, KH, KW) but has shape " + Arrays.toString(ws));
        }
        ConvGeometry g;
        try {
            g = ConvGeometry.of(p, is, ws);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(inName + " " + Arrays.toString(is) + " and " + wName + " "
                    + Arrays.toString(ws) + ": " + e.getMessage(), e);
        }
        return g;
    }

    /** y and gy: N x O x OH x OW, compared dimension by dimension so that a passing check allocates nothing. */
    private static void checkOutputShape(Tensor t, String name, ConvGeometry g) {
        if (t.rank() != 4 || t.dim(0) != g.n || t.dim(1) != g.o || t.dim(2) != g.oh || t.dim(3) != g.ow) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(t.shape()) + " but must be "
                    + Arrays.toString(g.outputShape()) + " for " + g);
        }
    }

    private static void checkBias(Tensor b, String name, ConvGeometry g) {
        if (b != null && (b.rank() != 1 || b.dim(0) != g.o)) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(b.shape()) + " but must be ["
                    + g.o + "] for " + g);
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
