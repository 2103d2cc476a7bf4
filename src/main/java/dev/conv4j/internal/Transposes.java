package dev.conv4j.internal;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose2dPlan;
import dev.conv4j.ConvTranspose3dParams;
import dev.conv4j.Tensor;
import java.util.concurrent.atomic.AtomicReferenceArray;
import dev.conv4j.internal.transposed.Transposed;
import dev.conv4j.internal.transposed.TransposedPlan2d;

/**
 * The seam between the public API's transposed convolutions and their implementation
 * ({@link Transposed}): each call validates the shapes, then runs on the engine's convolution passes.
 */
public final class Transposes {
    private Transposes() {
    }

    public static int[] outputShape(ConvTranspose2dParams p, int[] inputShape, int[] weightShape) {
        return Transposed.of(p, inputShape, weightShape).outputShape();
    }

    public static int[] outputShape(ConvTranspose3dParams p, int[] inputShape, int[] weightShape) {
        return Transposed.of(p, inputShape, weightShape).outputShape();
    }

    public static void forward(ConvEngine e, ConvTranspose2dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        Bound b = bound(p, x, "x", w, "w");
        b.op.forward(e, null, x, w, bias, y, null);
    }

    public static void forward(ConvEngine e, ConvTranspose3dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        Bound b = bound(p, x, "x", w, "w");
        b.op.forward(e, null, x, w, bias, y, null);
    }

    public static void backwardData(ConvEngine e, ConvTranspose2dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        Bound b = bound(p, gx, "gx", w, "w");
        b.op.backwardData(e, null, gy, w, gx, accumulate, null);
    }

    public static void backwardData(ConvEngine e, ConvTranspose3dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        Bound b = bound(p, gx, "gx", w, "w");
        b.op.backwardData(e, null, gy, w, gx, accumulate, null);
    }

    public static void backwardWeights(ConvEngine e, ConvTranspose2dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
            boolean accumulate) {
        Bound b = bound(p, x, "x", gw, "gw");
        b.op.backwardWeights(e, null, x, gy, gw, gbias, accumulate, null);
    }

    public static void backwardWeights(ConvEngine e, ConvTranspose3dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
            boolean accumulate) {
        Bound b = bound(p, x, "x", gw, "gw");
        b.op.backwardWeights(e, null, x, gy, gw, gbias, accumulate, null);
    }

    /**
     * Transposed convolutions validated recently, in a small table shared by all threads (as the engines
     * keep their 2-D geometries): a layer called again with the same shapes is not re-derived, and the
     * lookup allocates nothing. Entries are immutable and hold no engine; a collision just replaces one.
     */
    private static final AtomicReferenceArray<Bound> KNOWN = new AtomicReferenceArray<>(64);

    /** A validated transposed convolution and its parameters. */
    private static final class Bound {
        final Object params;
        final Transposed op;

        Bound(Object params, Transposed op) {
            this.params = params;
            this.op = op;
        }

        boolean matches(Object p, Tensor in, Tensor w) {
            return (p == params || p.equals(params)) && op.hasShapes(in, w);
        }
    }

    private static Bound bound(Object p, Tensor in, String inName, Tensor w, String wName) {
        if (p == null) {
            throw new IllegalArgumentException("params must not be null");
        }
        if (in == null || w == null) {
            throw new IllegalArgumentException((in == null ? inName : wName) + " must not be null");
        }
        int slot = hash(p, in, w) & (KNOWN.length() - 1);
        Bound k = KNOWN.get(slot);
        if (k != null && k.matches(p, in, w)) {
            return k;
        }
        Transposed op = p instanceof ConvTranspose2dParams ? Transposed.of((ConvTranspose2dParams) p, in.shape(), w.shape())
                : Transposed.of((ConvTranspose3dParams) p, in.shape(), w.shape());
        Bound b = new Bound(p, op);
        KNOWN.set(slot, b);
        return b;
    }

    private static int hash(Object p, Tensor in, Tensor w) {
        int h = p.hashCode();
        for (int i = 0; i < in.rank(); i++) {
            h = h * 31 + in.dim(i);
        }
        for (int i = 0; i < w.rank(); i++) {
            h = h * 31 + w.dim(i);
        }
        return h ^ (h >>> 16);
    }

    public static ConvTranspose2dPlan plan(ConvEngine e, ConvTranspose2dParams p, int[] inputShape, int[] weightShape) {
        return new TransposedPlan2d(e, p, inputShape, weightShape);
    }
}
