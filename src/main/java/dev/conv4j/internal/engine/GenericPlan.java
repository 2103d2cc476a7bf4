package dev.conv4j.internal.engine;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;

/**
 * A plan for engines without plan-specific preparation (naive, java): it holds each call to the
 * planned shapes, keeps copies of prepacked weights, and runs the engine's passes. Over an
 * {@link AbstractConvEngine} it takes the engine's layout and epilogue hooks and calls its passes
 * directly, staging in tensors the plan keeps; over any other {@link ConvEngine}, which takes every
 * layout itself, it calls the engine's public methods.
 */
public final class GenericPlan extends AbstractPlan {
    private final ConvEngine engine;
    /** The engine when it is one of conv4j's own, whose passes and hooks the plan calls directly; else null. */
    private final AbstractConvEngine own;
    private final Conv2dParams params;
    private Tensor packedW, packedB;

    public GenericPlan(ConvEngine engine, Conv2dParams params, int[] inputShape, int[] weightShape) {
        super(ConvGeometry.of(params, inputShape, weightShape));
        this.engine = engine;
        this.own = engine instanceof AbstractConvEngine ? (AbstractConvEngine) engine : null;
        this.params = params;
    }

    @Override
    protected boolean runsLayouts(ConvGeometry g, Pass pass, Layout in, Layout out) {
        return own == null || own.runsLayouts(g, pass, in, out);
    }

    @Override
    protected boolean fusesEpilogue(ConvGeometry g, Layout y, Layout residual, boolean inPlace, Activation act) {
        return own == null || own.fusesEpilogue(g, y, residual, inPlace, act);
    }

    @Override
    protected long ownBytes() {
        return packedW == null ? 0 : 4L * (packedW.size() + (packedB == null ? 0 : packedB.size()));
    }

    @Override
    protected void prepack(Tensor weights, Tensor bias) {
        release();
        packedW = Tensor.of(weights.toArray(), weights.shape());
        packedB = bias == null ? null : Tensor.of(bias.toArray(), bias.shape());
    }

    @Override
    protected boolean prepacked() {
        return packedW != null;
    }

    @Override
    protected void runForward(Tensor x, Tensor w, Tensor bias, Tensor y) {
        runForward(x, w, bias, null, null, y);
    }

    @Override
    protected void runForward(Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        if (w == null) {
            w = packedW;
            bias = packedB;
        }
        if (own != null) {
            own.plannedForward(geometry, x, w, bias, residual, act, y);
        } else {
            engine.forward(params, x, w, bias, residual, act == null ? Activation.NONE : act, y);
        }
    }

    @Override
    protected void runBackwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        if (own != null) {
            own.plannedBackwardData(geometry, gy, w, gx, accumulate);
        } else {
            engine.backwardData(params, gy, w, gx, accumulate);
        }
    }

    @Override
    protected void runBackwardWeights(Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        if (own != null) {
            own.plannedBackwardWeights(geometry, x, gy, gw, gbias, accumulate);
        } else {
            engine.backwardWeights(params, x, gy, gw, gbias, accumulate);
        }
    }

    @Override
    protected void free() {
        release();
    }

    private void release() {
        if (packedW != null) {
            packedW.close();
            packedW = null;
        }
        if (packedB != null) {
            packedB.close();
            packedB = null;
        }
    }
}
