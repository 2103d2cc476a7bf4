package dev.conv4j.internal;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose2dPlan;
import dev.conv4j.ConvTranspose3dParams;
import dev.conv4j.Tensor;
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
        Transposed t = Transposed.of(p, shape(x, "x"), shape(w, "w"));
        t.forward(t.on(e), x, w, bias, y, null);
    }

    public static void forward(ConvEngine e, ConvTranspose3dParams p, Tensor x, Tensor w, Tensor bias, Tensor y) {
        Transposed t = Transposed.of(p, shape(x, "x"), shape(w, "w"));
        t.forward(t.on(e), x, w, bias, y, null);
    }

    public static void backwardData(ConvEngine e, ConvTranspose2dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        Transposed t = Transposed.of(p, shape(gx, "gx"), shape(w, "w"));
        t.backwardData(t.on(e), gy, w, gx, accumulate, null);
    }

    public static void backwardData(ConvEngine e, ConvTranspose3dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        Transposed t = Transposed.of(p, shape(gx, "gx"), shape(w, "w"));
        t.backwardData(t.on(e), gy, w, gx, accumulate, null);
    }

    public static void backwardWeights(ConvEngine e, ConvTranspose2dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
            boolean accumulate) {
        Transposed t = Transposed.of(p, shape(x, "x"), shape(gw, "gw"));
        t.backwardWeights(t.on(e), x, gy, gw, gbias, accumulate, null);
    }

    public static void backwardWeights(ConvEngine e, ConvTranspose3dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
            boolean accumulate) {
        Transposed t = Transposed.of(p, shape(x, "x"), shape(gw, "gw"));
        t.backwardWeights(t.on(e), x, gy, gw, gbias, accumulate, null);
    }

    public static ConvTranspose2dPlan plan(ConvEngine e, ConvTranspose2dParams p, int[] inputShape, int[] weightShape) {
        return new TransposedPlan2d(e, p, inputShape, weightShape);
    }

    private static int[] shape(Tensor t, String name) {
        if (t == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        return t.shape();
    }
}
