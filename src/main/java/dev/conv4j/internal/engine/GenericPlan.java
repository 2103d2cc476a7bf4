package dev.conv4j.internal.engine;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;

/**
 * A plan for engines without plan-specific preparation (naive, java): it holds each call to the
 * planned shapes, keeps copies of prepacked weights, and runs the engine's own methods (which check the
 * rest with the same {@link Checks}).
 */
public final class GenericPlan implements Conv2dPlan {
    private final ConvEngine engine;
    private final Conv2dParams params;
    private final ConvGeometry geometry;
    private Tensor packedW, packedB;
    private boolean closed;

    public GenericPlan(ConvEngine engine, Conv2dParams params, int[] inputShape, int[] weightShape) {
        this.engine = engine;
        this.params = params;
        this.geometry = ConvGeometry.of(params, inputShape, weightShape);
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
        Checks.weights(weights, "w", geometry);
        Checks.bias(bias, "bias", geometry);
        release();
        packedW = Tensor.of(weights.toArray(), weights.shape());
        packedB = bias == null ? null : Tensor.of(bias.toArray(), bias.shape());
    }

    @Override
    public synchronized void forward(Tensor in, Tensor out) {
        open();
        if (packedW == null) {
            throw new IllegalStateException("no weights prepacked: call prepackWeights(w, bias) first");
        }
        Checks.input(in, "x", geometry);
        Checks.output(out, "y", geometry);
        engine.forward(params, in, packedW, packedB, out);
    }

    @Override
    public synchronized void forward(Tensor in, Tensor weights, Tensor bias, Tensor out) {
        open();
        Checks.input(in, "x", geometry);
        Checks.weights(weights, "w", geometry);
        engine.forward(params, in, weights, bias, out);
    }

    @Override
    public synchronized void backwardData(Tensor gy, Tensor weights, Tensor gx, boolean accumulate) {
        open();
        Checks.input(gx, "gx", geometry);
        Checks.weights(weights, "w", geometry); // a kernel of another size could fit gx and gy too
        engine.backwardData(params, gy, weights, gx, accumulate);
    }

    @Override
    public synchronized void backwardWeights(Tensor in, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        open();
        Checks.input(in, "x", geometry);
        Checks.weights(gw, "gw", geometry);
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
