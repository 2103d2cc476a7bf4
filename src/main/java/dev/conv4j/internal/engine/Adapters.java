package dev.conv4j.internal.engine;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;

/**
 * The fused, any-layout forward pass for engines and plans that predate it and implement only the
 * NCHW forward pass ({@link ConvEngine} and {@link Conv2dPlan} implementations that are neither an
 * {@link AbstractConvEngine} nor an {@link AbstractPlan}): x is reordered into NCHW when it is not, the
 * implementation's forward pass writes an NCHW tensor (y itself when it is NCHW and not its own
 * residual), and {@link Epilogues#apply} finishes into y. Staging tensors are made for the call and
 * closed before it returns, so only NCHW tensors with a residual other than y keep such a call free of
 * allocation.
 */
public final class Adapters {
    private Adapters() {
    }

    /** {@link ConvEngine#forward(Conv2dParams, Tensor, Tensor, Tensor, Tensor, Activation, Tensor)} over the engine's NCHW forward pass. */
    public static void forward(ConvEngine engine, Conv2dParams p, Tensor x, Tensor w, Tensor bias, Tensor residual,
                               Activation act, Tensor y) {
        if (p == null) {
            throw new IllegalArgumentException("params must not be null");
        }
        Checks.present(x, "x");
        Checks.present(w, "w");
        Checks.present(y, "y");
        Holds.acquire(x, "x", w, "w", bias, "bias", residual, "residual", y, "y");
        try {
            ConvGeometry g = ConvGeometry.of(p, x.shape(), w.shape());
            Checks.weights(w, "w", g);
            Checks.forwardAnyLayout(g, x, w, bias, residual, act, y);
            run(null, engine, p, g, x, w, bias, residual, act, y);
        } finally {
            Holds.release(x, w, bias, residual, y);
        }
    }

    /**
     * {@link Conv2dPlan#forward(Tensor, Tensor, Activation, Tensor)} ({@code withWeights} false: w and
     * bias are the prepacked ones) and {@link Conv2dPlan#forward(Tensor, Tensor, Tensor, Tensor, Activation, Tensor)}
     * over the plan's NCHW forward pass.
     */
    public static void forward(Conv2dPlan plan, Tensor x, Tensor w, Tensor bias, boolean withWeights, Tensor residual,
                               Activation act, Tensor y) {
        Checks.present(x, "x");
        if (withWeights) {
            Checks.present(w, "w");
        }
        Checks.present(y, "y");
        Holds.acquire(x, "x", w, "w", bias, "bias", residual, "residual", y, "y");
        try {
            ConvGeometry g = plan.geometry();
            Checks.inputAnyLayout(x, "x", g);
            if (withWeights) {
                Checks.weights(w, "w", g);
            }
            Checks.forwardAnyLayout(g, x, w, bias, residual, act, y);
            run(plan, null, null, g, x, withWeights ? w : null, bias, residual, act, y);
        } finally {
            Holds.release(x, w, bias, residual, y);
        }
    }

    private static void run(Conv2dPlan plan, ConvEngine engine, Conv2dParams p, ConvGeometry g, Tensor x, Tensor w,
                            Tensor bias, Tensor residual, Activation act, Tensor y) {
        boolean epilogue = Epilogues.needed(residual, act);
        boolean inPlace = residual != null && residual.overlaps(y);
        Tensor xs = null, ys = null;
        try {
            Tensor xr = x, yr = y;
            if (x.layout() != Layout.NCHW) {
                xr = xs = x.toLayout(Layout.NCHW);
            }
            if (y.layout() != Layout.NCHW || inPlace) {
                yr = ys = Tensor.zeros(g.outputShape());
            }
            if (plan == null) {
                engine.forward(p, xr, w, bias, yr);
            } else if (w == null) {
                plan.forward(xr, yr);
            } else {
                plan.forward(xr, w, bias, yr);
            }
            if (epilogue || yr != y) {
                Epilogues.apply(yr, residual, act, y);
            }
        } finally {
            if (xs != null) {
                xs.close();
            }
            if (ys != null) {
                ys.close();
            }
        }
    }
}
