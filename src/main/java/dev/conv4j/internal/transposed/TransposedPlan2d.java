package dev.conv4j.internal.transposed;

import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose2dPlan;
import dev.conv4j.Tensor;

/**
 * A transposed convolution's plan: the plan of the convolution it runs on (its workspace, its
 * checks done once), the staged window when the shapes need one, and a copy of the weights.
 */
public final class TransposedPlan2d implements ConvTranspose2dPlan {
    private final Transposed op;
    private final Conv2dPlan conv;
    private final Lowering lowering;
    private final Tensor stage;
    private Tensor weights, bias;
    private boolean closed;

    public TransposedPlan2d(ConvEngine engine, ConvTranspose2dParams p, int[] inputShape, int[] weightShape) {
        op = Transposed.of(p, inputShape, weightShape);
        if (op.empty()) {
            conv = null;
            lowering = null;
            stage = null;
            return;
        }
        conv = engine.plan(op.convolution2d(), op.convInputShape(), weightShape);
        lowering = Lowering.of(conv);
        try {
            stage = op.staged() ? Tensor.zeros(op.convInputShape()) : null;
        } catch (RuntimeException | Error e) {
            conv.close();
            throw e;
        }
    }

    @Override
    public int[] inputShape() {
        return op.inputShape();
    }

    @Override
    public int[] weightShape() {
        return op.weightShape();
    }

    @Override
    public int[] outputShape() {
        return op.outputShape();
    }

    @Override
    public synchronized long workspaceBytes() {
        long bytes = conv == null ? 0 : conv.workspaceBytes();
        for (Tensor t : new Tensor[] {stage, weights, bias}) {
            bytes += t == null ? 0 : 4 * t.storageSize();
        }
        return bytes;
    }

    @Override
    public synchronized void prepackWeights(Tensor w, Tensor b) {
        open();
        op.checkWeights(w, b);
        if (weights == null) {
            weights = Tensor.zeros(op.weightShape());
        }
        w.copyTo(weights);
        if (b == null) {
            if (bias != null) {
                bias.close();
                bias = null;
            }
        } else {
            if (bias == null) {
                bias = Tensor.zeros(b.shape());
            }
            b.copyTo(bias);
        }
    }

    @Override
    public synchronized void forward(Tensor x, Tensor y) {
        open();
        if (weights == null) {
            throw new IllegalStateException("no weights prepacked: call prepackWeights(w, bias) first");
        }
        op.forward(null, lowering, x, weights, bias, y, stage);
    }

    @Override
    public synchronized void forward(Tensor x, Tensor w, Tensor b, Tensor y) {
        open();
        op.forward(null, lowering, x, w, b, y, stage);
    }

    @Override
    public synchronized void backwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        open();
        op.backwardData(null, lowering, gy, w, gx, accumulate, stage);
    }

    @Override
    public synchronized void backwardWeights(Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        open();
        op.backwardWeights(null, lowering, x, gy, gw, gbias, accumulate, stage);
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("the plan is closed");
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (AutoCloseable c : new AutoCloseable[] {conv, stage, weights, bias}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
