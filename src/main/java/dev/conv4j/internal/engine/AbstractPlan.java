package dev.conv4j.internal.engine;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;

/**
 * The public side of a plan, for every implementation: one call at a time, the tensors held for the
 * call ({@link Holds}), the planned shapes and the rest of the arguments checked ({@link Checks}), and
 * every layout and the fused forward pass run through {@link LayoutRunner} with staging tensors the plan
 * keeps, so that its steady state allocates nothing in any layout. An implementation supplies the
 * passes ({@code run*}, on tensors in the layouts its {@link #runsLayouts} hook takes, NCHW alone by
 * default), the prepacking, and its memory; it overrides {@link #fusesEpilogue} and the seven-argument
 * {@link #runForward(Tensor, Tensor, Tensor, Tensor, Activation, Tensor)} where its kernels add the
 * residual and apply the activation themselves.
 */
public abstract class AbstractPlan extends LayoutRunner implements Conv2dPlan {
    /** The planned geometry. */
    protected final ConvGeometry geometry;
    private final Staging staging = new Staging();
    private boolean closed;

    protected AbstractPlan(ConvGeometry geometry) {
        this.geometry = geometry;
    }

    @Override
    public final ConvGeometry geometry() {
        return geometry;
    }

    /** The plan's own memory plus the staging tensors it keeps for layouts its passes do not run. */
    @Override
    public final synchronized long workspaceBytes() {
        return ownBytes() + staging.bytes();
    }

    @Override
    public final synchronized void prepackWeights(Tensor w, Tensor bias) {
        open();
        Holds.acquire(w, "w", bias, "bias", null, null, null, null);
        try {
            Checks.weights(w, "w", geometry);
            Checks.bias(bias, "bias", geometry);
            prepack(w, bias);
        } finally {
            Holds.release(w, bias, null, null);
        }
    }

    @Override
    public final void forward(Tensor x, Tensor y) {
        forward(x, null, Activation.NONE, y);
    }

    @Override
    public final synchronized void forward(Tensor x, Tensor residual, Activation act, Tensor y) {
        open();
        Holds.acquire(x, "x", residual, "residual", y, "y", null, null);
        try {
            if (!prepacked()) {
                throw new IllegalStateException("no weights prepacked: call prepackWeights(w, bias) first");
            }
            Checks.inputAnyLayout(x, "x", geometry);
            Checks.forwardAnyLayout(geometry, x, null, null, residual, act, y);
            runForward(geometry, x, null, null, residual, act, y, staging);
        } finally {
            Holds.release(x, residual, y, null);
        }
    }

    @Override
    public final void forward(Tensor x, Tensor w, Tensor bias, Tensor y) {
        forward(x, w, bias, null, Activation.NONE, y);
    }

    @Override
    public final synchronized void forward(Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        open();
        Holds.acquire(x, "x", w, "w", bias, "bias", residual, "residual", y, "y");
        try {
            Checks.inputAnyLayout(x, "x", geometry);
            Checks.weights(w, "w", geometry);
            Checks.forwardAnyLayout(geometry, x, w, bias, residual, act, y);
            runForward(geometry, x, w, bias, residual, act, y, staging);
        } finally {
            Holds.release(x, w, bias, residual, y);
        }
    }

    @Override
    public final synchronized void backwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        open();
        Holds.acquire(gy, "gy", w, "w", gx, "gx", null, null);
        try {
            Checks.inputAnyLayout(gx, "gx", geometry);
            Checks.weights(w, "w", geometry); // a kernel of another size could fit gx and gy too
            Checks.backwardDataAnyLayout(geometry, gy, w, gx);
            runBackwardData(geometry, gy, w, gx, accumulate, staging);
        } finally {
            Holds.release(gy, w, gx, null);
        }
    }

    @Override
    public final synchronized void backwardWeights(Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        open();
        Holds.acquire(x, "x", gy, "gy", gw, "gw", gbias, "gbias");
        try {
            Checks.inputAnyLayout(x, "x", geometry);
            Checks.weights(gw, "gw", geometry);
            Checks.backwardWeightsAnyLayout(geometry, x, gy, gw, gbias);
            runBackwardWeights(geometry, x, gy, gw, gbias, accumulate, staging);
        } finally {
            Holds.release(x, gy, gw, gbias);
        }
    }

    @Override
    public final synchronized void close() {
        if (!closed) {
            closed = true;
            staging.close();
            free();
        }
    }

    /** Bytes of off-heap memory the implementation owns (workspaces, prepacked weights). */
    protected abstract long ownBytes();

    /** Copies (and transforms) checked weights and bias (may be null) for the forward pass with prepacked weights. */
    protected abstract void prepack(Tensor w, Tensor bias);

    /** True once {@link #prepack} has run. */
    protected abstract boolean prepacked();

    /**
     * y = conv(x, w) + bias, checked, in layouts {@link #runsLayouts} took; {@code w} null: the prepacked
     * weights and bias (bias then null too).
     */
    protected abstract void runForward(Tensor x, Tensor w, Tensor bias, Tensor y);

    /**
     * y = act((float) (conv(x, w) + bias) + residual), where {@link #fusesEpilogue} said the plan applies
     * the epilogue itself; {@code w} as for the unfused form. The default throws.
     */
    protected void runForward(Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        throw new UnsupportedOperationException("fusesEpilogue is true but runForward with an epilogue is not implemented");
    }

    /** gx (+)= the input gradient, checked, in layouts {@link #runsLayouts} took. */
    protected abstract void runBackwardData(Tensor gy, Tensor w, Tensor gx, boolean accumulate);

    /** gw, gbias (+)= the weight and bias gradients, checked, in layouts {@link #runsLayouts} took. */
    protected abstract void runBackwardWeights(Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate);

    /** Releases the implementation's memory; called once, by {@link #close()}. */
    protected abstract void free();

    @Override
    final void rawForward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        runForward(x, w, bias, y);
    }

    @Override
    final void rawForward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y) {
        runForward(x, w, bias, residual, act, y);
    }

    @Override
    final void rawBackwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        runBackwardData(gy, w, gx, accumulate);
    }

    @Override
    final void rawBackwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate) {
        runBackwardWeights(x, gy, gw, gbias, accumulate);
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("plan is closed");
        }
    }
}
