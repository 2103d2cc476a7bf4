package dev.conv4j.internal.engine;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;

/**
 * A plan for engines without plan-specific preparation (naive, java): it validates the shapes
 * once, keeps copies of prepacked weights, and runs the engine's own methods.
 */
public final class GenericPlan implements Conv2dPlan {
    private final ConvEngine engine;
    private final Conv2dParams params;
    private final ConvGeometry geometry;
    private final int[] x, w, y, b;
    private Tensor packedW, packedB;
    private boolean closed;

    public GenericPlan(ConvEngine engine, Conv2dParams params, int[] inputShape, int[] weightShape) {
        this.engine = engine;
        this.params = params;
        this.geometry = ConvGeometry.of(params, inputShape, weightShape);
        x = geometry.inputShape();
        w = geometry.weightShape();
        y = geometry.outputShape();
        b = new int[] {geometry.o};
    }

    @Override
    public ConvGeometry geometry() {
        return geometry;
    }

    @Override
    public synchronized long workspaceBytes() {
        return packedW == null ? 0 : 4L * (packedW.size() + (packedB == null ? 0 : packedB.size()));
    }

    @Override
    public synchronized void prepackWeights(Tensor weights, Tensor bias) {
        open();
        PlanChecks.require(weights, "w", w);
        if (bias != null) {
            PlanChecks.require(bias, "bias", b);
        }
        release();
        packedW = Tensor.of(weights.toArray(), w);
        packedB = bias == null ? null : Tensor.of(bias.toArray(), b);
    }

    @Override
    public synchronized void forward(Tensor in, Tensor out) {
        open();
        if (packedW == null) {
            throw new IllegalStateException("no weights prepacked: call prepackWeights(w, bias) first");
        }
        PlanChecks.require(in, "x", x);
        PlanChecks.require(out, "y", y);
        engine.forward(params, in, packedW, packedB, out);
    }

    @Override
    public synchronized void forward(Tensor in, Tensor weights, Tensor bias, Tensor out) {
        open();
        PlanChecks.require(in, "x", x);
        PlanChecks.require(weights, "w", w);
        engine.forward(params, in, weights, bias, out);
    }

    @Override
    public synchronized void backwardData(Tensor gy, Tensor weights, Tensor gx, boolean accumulate) {
        open();
        PlanChecks.require(gx, "gx", x);
        engine.backwardData(params, gy, weights, gx, accumulate);
    }

    @Override
    public synchronized void backwardWeights(Tensor in, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        open();
        PlanChecks.require(in, "x", x);
        PlanChecks.require(gw, "gw", w);
        engine.backwardWeights(params, in, gy, gw, gbias, accumulate);
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("plan is closed");
        }
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

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            release();
        }
    }
}
