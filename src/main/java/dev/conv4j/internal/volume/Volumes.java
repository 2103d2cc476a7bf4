package dev.conv4j.internal.volume;

import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.internal.engine.AbstractConvEngine;
import dev.conv4j.internal.engine.Holds;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The checked entry to every engine's 3-D passes: what {@code ConvEngine}'s 3-D methods reach
 * through {@code Backend}, and what the 3-D transposed convolution builds on. Each call acquires its
 * tensors ({@link Tensor#acquire()}) for its duration, validates everything (parameters, ranks, shapes,
 * plain NCDHW memory, outputs sharing no memory with inputs) before it reads or writes an element, and
 * only then hands the engine's {@link Conv3dKernels} a resolved {@link Conv3dGeometry}: a rejected call
 * leaves every tensor as it was. An engine that is not one of conv4j's (a user's own implementation of
 * {@code ConvEngine}, or a wrapper) runs on the naive passes.
 *
 * <p>Calls of virtual threads wait for their turn under the engine's limit as its 2-D calls do, and a
 * warm call allocates nothing: geometries are remembered in a small table shared by all threads.
 */
public final class Volumes {
    private Volumes() {
    }

    /** The engine's own 3-D passes, or the naive ones for an engine that has none. */
    public static Conv3dKernels kernels(ConvEngine e) {
        return e instanceof VolumeEngine ? ((VolumeEngine) e).volumes() : NaiveVolume.INSTANCE;
    }

    /**
     * {@code y = conv(x, w) + bias}, or with {@code accumulate} {@code y += conv(x, w) + bias}; {@code bias}
     * may be null.
     *
     * @throws IllegalArgumentException if an argument is null, a shape does not fit, or y shares memory with x, w or the bias
     * @throws IllegalStateException    if a tensor is closed
     */
    public static void forward(ConvEngine e, Conv3dParams p, Tensor x, Tensor w, Tensor bias, Tensor y, boolean accumulate) {
        boolean entered = enter(e);
        try {
            forwardInto(e, p, x, w, bias, y, accumulate);
        } finally {
            leave(e, entered);
        }
    }

    /** The forward pass into a new tensor N×O×OD×OH×OW, which the caller owns and closes. */
    public static Tensor forward(ConvEngine e, Conv3dParams p, Tensor x, Tensor w, Tensor bias) {
        boolean entered = enter(e);
        try {
            checkParams(p);
            present(x, "x");
            present(w, "w");
            int[] shape;
            Holds.acquire(x, "x", w, "w", null, null, null, null);
            try {
                shape = geometry(p, x, "x", w, "w").outputShape();
            } finally {
                Holds.release(x, w, null, null);
            }
            Tensor y = Tensor.zeros(shape);
            try {
                forwardInto(e, p, x, w, bias, y, false);
                return y;
            } catch (RuntimeException | Error ex) {
                y.close();
                throw ex;
            }
        } finally {
            leave(e, entered);
        }
    }

    /**
     * {@code gx (+)= dL/dx} for the output gradient gy.
     *
     * @throws IllegalArgumentException if an argument is null, a shape does not fit, or gx shares memory with gy or w
     * @throws IllegalStateException    if a tensor is closed
     */
    public static void backwardData(ConvEngine e, Conv3dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        boolean entered = enter(e);
        try {
            checkParams(p);
            present(gy, "gy");
            present(w, "w");
            present(gx, "gx");
            Holds.acquire(gy, "gy", w, "w", gx, "gx", null, null);
            try {
                Conv3dGeometry g = geometry(p, gx, "gx", w, "w");
                output(gy, "gy", g);
                disjoint(gx, "gx", gy, "gy");
                disjoint(gx, "gx", w, "w");
                kernels(e).backwardData(g, gy, w, gx, accumulate);
            } finally {
                Holds.release(gy, w, gx, null);
            }
        } finally {
            leave(e, entered);
        }
    }

    /**
     * {@code gw (+)=} the weight gradient summed over the batch and {@code gbias (+)=} the bias gradient
     * (gbias may be null).
     *
     * @throws IllegalArgumentException if an argument is null, a shape does not fit, or gw or gbias shares memory with another tensor
     * @throws IllegalStateException    if a tensor is closed
     */
    public static void backwardWeights(ConvEngine e, Conv3dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
                                       boolean accumulate) {
        boolean entered = enter(e);
        try {
            checkParams(p);
            present(x, "x");
            present(gy, "gy");
            present(gw, "gw");
            Holds.acquire(x, "x", gy, "gy", gw, "gw", gbias, "gbias");
            try {
                Conv3dGeometry g = geometry(p, x, "x", gw, "gw");
                output(gy, "gy", g);
                bias(gbias, "gbias", g);
                disjoint(gw, "gw", x, "x");
                disjoint(gw, "gw", gy, "gy");
                disjoint(gw, "gw", gbias, "gbias");
                if (gbias != null) {
                    disjoint(gbias, "gbias", x, "x");
                    disjoint(gbias, "gbias", gy, "gy");
                }
                kernels(e).backwardWeights(g, x, gy, gw, gbias, accumulate);
            } finally {
                Holds.release(x, gy, gw, gbias);
            }
        } finally {
            leave(e, entered);
        }
    }

    private static void forwardInto(ConvEngine e, Conv3dParams p, Tensor x, Tensor w, Tensor bias, Tensor y, boolean accumulate) {
        checkParams(p);
        present(x, "x");
        present(w, "w");
        present(y, "y");
        Holds.acquire(x, "x", w, "w", bias, "bias", y, "y");
        try {
            Conv3dGeometry g = geometry(p, x, "x", w, "w");
            bias(bias, "bias", g);
            output(y, "y", g);
            disjoint(y, "y", x, "x");
            disjoint(y, "y", w, "w");
            disjoint(y, "y", bias, "bias");
            kernels(e).forward(g, x, w, bias, y, accumulate);
        } finally {
            Holds.release(x, w, bias, y);
        }
    }

    /** Waits for the call's turn where the engine limits calls of virtual threads; returns what {@link #leave} takes. */
    private static boolean enter(ConvEngine e) {
        if (e == null) {
            throw new IllegalArgumentException("engine must not be null");
        }
        return e instanceof AbstractConvEngine && ((AbstractConvEngine) e).enterCall();
    }

    private static void leave(ConvEngine e, boolean entered) {
        if (entered) {
            ((AbstractConvEngine) e).leaveCall(true);
        }
    }

    private static void checkParams(Conv3dParams p) {
        if (p == null) {
            throw new IllegalArgumentException("params must not be null");
        }
    }

    private static void present(Tensor t, String name) {
        if (t == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
    }

    /** y and gy: N x O x OD x OH x OW, plain. Compared dimension by dimension: a passing check allocates nothing. */
    private static void output(Tensor t, String name, Conv3dGeometry g) {
        if (t.rank() != 5 || t.dim(0) != g.n || t.dim(1) != g.o || t.dim(2) != g.od || t.dim(3) != g.oh || t.dim(4) != g.ow) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(t.shape()) + " but must be "
                    + Arrays.toString(g.outputShape()) + " for " + g);
        }
        plain(t, name);
    }

    /** bias or gbias, when given: O. */
    private static void bias(Tensor b, String name, Conv3dGeometry g) {
        if (b != null && (b.rank() != 1 || b.dim(0) != g.o)) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(b.shape()) + " but must be [" + g.o
                    + "] for " + g);
        }
    }

    /**
     * Row-major memory in the order of the shape. A tensor of rank 5 cannot be anything else in conv4j
     * (only rank-4 activations have other layouts), so this only holds the kernels to that.
     */
    private static void plain(Tensor t, String name) {
        if (t.layout() != Layout.NCHW) {
            throw new IllegalArgumentException(name + " " + Arrays.toString(t.shape()) + " is " + t.layout()
                    + " but the 3-D passes take plain row-major (NCDHW) tensors");
        }
    }

    private static void disjoint(Tensor out, String outName, Tensor in, String inName) {
        if (in != null && out.overlaps(in)) {
            throw new IllegalArgumentException(outName + " must not share memory with " + inName + " (the output " + outName
                    + " " + Arrays.toString(out.shape()) + " overlaps " + inName + " " + Arrays.toString(in.shape()) + ")");
        }
    }

    /**
     * Geometries validated recently, in a small table shared by all threads (a server may make a thread
     * per request): a layer called again with the same shapes is not re-derived, and the lookup
     * allocates nothing. Entries are immutable; a collision just replaces one.
     */
    private static final AtomicReferenceArray<Known> KNOWN = new AtomicReferenceArray<>(64);

    private static final class Known {
        final Conv3dParams params;
        final int n, c, d, h, w, o, cg, kd, kh, kw;
        final Conv3dGeometry geometry;

        Known(Conv3dParams params, Conv3dGeometry g) {
            this.params = params;
            n = g.n;
            c = g.c;
            d = g.d;
            h = g.h;
            w = g.w;
            o = g.o;
            cg = g.cg;
            kd = g.kd;
            kh = g.kh;
            kw = g.kw;
            geometry = g;
        }

        boolean matches(Conv3dParams p, Tensor in, Tensor wt) {
            return (p == params || p.equals(params)) && in.dim(0) == n && in.dim(1) == c && in.dim(2) == d && in.dim(3) == h
                    && in.dim(4) == w && wt.dim(0) == o && wt.dim(1) == cg && wt.dim(2) == kd && wt.dim(3) == kh
                    && wt.dim(4) == kw;
        }
    }

    /** The geometry of input (x or gx) {@code in} and weight (w or gw) {@code wt}, both acquired. */
    private static Conv3dGeometry geometry(Conv3dParams p, Tensor in, String inName, Tensor wt, String wName) {
        if (in.rank() != 5) {
            throw new IllegalArgumentException(inName + " must have rank 5 (N, C, D, H, W) but has shape "
                    + Arrays.toString(in.shape()));
        }
        if (wt.rank() != 5) {
            throw new IllegalArgumentException(wName + " must have rank 5 (O, C/groups, KD, KH, KW) but has shape "
                    + Arrays.toString(wt.shape()));
        }
        plain(in, inName);
        plain(wt, wName);
        int hash = p.hashCode();
        for (int i = 0; i < 5; i++) {
            hash = (hash * 31 + in.dim(i)) * 31 + wt.dim(i);
        }
        int slot = (hash ^ hash >>> 16) & (KNOWN.length() - 1);
        Known k = KNOWN.get(slot);
        if (k != null && k.matches(p, in, wt)) {
            return k.geometry;
        }
        Conv3dGeometry g;
        try {
            g = Conv3dGeometry.of(p, in.shape(), wt.shape());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(inName + " " + Arrays.toString(in.shape()) + " and " + wName + " "
                    + Arrays.toString(wt.shape()) + ": " + e.getMessage(), e);
        }
        KNOWN.set(slot, new Known(p, g));
        return g;
    }
}
