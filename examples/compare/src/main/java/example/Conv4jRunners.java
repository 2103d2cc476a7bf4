package example;

import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose2dPlan;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * conv4j's blas engine, called directly and through a plan, with preallocated outputs: on the layer's
 * plain NCHW tensors ({@code c4j-blas}, {@code c4j-plan}), and on activations in the channel-blocked
 * {@link Layout#NCHW16C} ({@code c4j-blocked}), reordered once before timing, as inside a network that
 * keeps that layout from layer to layer: conv4j's counterpart of oneDNN's {@code dnnl-any}.
 *
 * <p>The other operations (transposed, 1-D, 3-D convolutions) run per call ({@code c4j-blas}) on their
 * plain tensors, and a 2-D transposed convolution also through its {@link ConvTranspose2dPlan}
 * ({@code c4j-plan}); a factory returns null for a column that does not apply to the layer.
 */
final class Conv4jRunners {
    private Conv4jRunners() {
    }

    /**
     * conv4j's columns of a pass, in table order. Another way of calling conv4j is one more entry
     * here (and, for a ratio to it, one in {@link Compare#RATIOS}).
     */
    static Map<String, Compare.Factory> columns(ConvEngine blas, Pass pass) {
        Map<String, Compare.Factory> m = new LinkedHashMap<>();
        switch (pass) {
            case FORWARD:
                m.put("c4j-blas", l -> l.conv2d() ? forward(blas, l) : opForward(blas, l));
                m.put("c4j-plan", l -> l.conv2d() ? planForward(blas, l)
                        : l.shape.layer.params() instanceof ConvTranspose2dParams ? transposePlanForward(blas, l) : null);
                m.put("c4j-blocked", l -> l.conv2d() ? blockedForward(blas, l) : null);
                break;
            case BACKWARD_DATA:
                m.put("c4j-blas", l -> l.conv2d() ? backwardData(blas, l) : opBackwardData(blas, l));
                m.put("c4j-blocked", l -> l.conv2d() ? blockedBackwardData(blas, l) : null);
                break;
            default:
                m.put("c4j-blas", l -> l.conv2d() ? backwardWeights(blas, l) : opBackwardWeights(blas, l));
                m.put("c4j-blocked", l -> l.conv2d() ? blockedBackwardWeights(blas, l) : null);
        }
        return m;
    }

    /** {@code engine.forward(params, x, w, b, y)}. */
    static Runner forward(ConvEngine e, Layer l) {
        Tensor y = Tensor.zeros(l.g.outputShape());
        return new Owning(y) {
            @Override
            public void run() {
                e.forward(l.shape.params, l.x, l.w, l.b, y);
            }
        };
    }

    /** A plan with prepacked weights (Winograd-transformed where the plan picks Winograd): {@code plan.forward(x, y)}. */
    static Runner planForward(ConvEngine e, Layer l) {
        Conv2dPlan plan = e.plan(l.shape.params, l.g.inputShape(), l.g.weightShape());
        plan.prepackWeights(l.w, l.b);
        Tensor y = Tensor.zeros(l.g.outputShape());
        return new Owning(y) {
            @Override
            public void run() {
                plan.forward(l.x, y);
            }

            @Override
            public String detail() {
                return "algorithm " + l.g.algorithm + (ConvAlgorithm.winogradApplies(l.g) ? " (Winograd applies)" : "")
                        + ", " + plan.workspaceBytes() / 1024 + " KiB owned";
            }

            @Override
            public void close() {
                plan.close();
                super.close();
            }
        };
    }

    /** {@code engine.backwardData(params, gy, w, gx)}. */
    static Runner backwardData(ConvEngine e, Layer l) {
        Tensor gx = Tensor.zeros(l.g.inputShape());
        return new Owning(gx) {
            @Override
            public void run() {
                e.backwardData(l.shape.params, l.gy, l.w, gx);
            }
        };
    }

    /** {@code engine.backwardWeights(params, x, gy, gw, gb)}: the weight and the bias gradients. */
    static Runner backwardWeights(ConvEngine e, Layer l) {
        Tensor gw = Tensor.zeros(l.g.weightShape());
        Tensor gb = Tensor.zeros(l.g.o);
        return new Owning(gw, gb) {
            @Override
            public void run() {
                e.backwardWeights(l.shape.params, l.x, l.gy, gw, gb);
            }
        };
    }

    /**
     * One of the other operations (transposed, 1-D, 3-D), per call through its
     * {@code engine.forward(params, x, w, b, y)} (the {@code LayerOp} of conv4j's bench shape calls it).
     */
    static Runner opForward(ConvEngine e, Layer l) {
        Tensor y = Tensor.zeros(l.shape.output);
        return new Owning(y) {
            @Override
            public void run() {
                l.shape.layer.forward(e, l.x, l.w, l.b, y);
            }
        };
    }

    /** {@code engine.backwardData(params, gy, w, gx, false)} of one of the other operations. */
    static Runner opBackwardData(ConvEngine e, Layer l) {
        Tensor gx = Tensor.zeros(l.shape.input);
        return new Owning(gx) {
            @Override
            public void run() {
                l.shape.layer.backwardData(e, l.gy, l.w, gx);
            }
        };
    }

    /** {@code engine.backwardWeights(params, x, gy, gw, gb, false)} of one of the other operations: weight and bias gradients. */
    static Runner opBackwardWeights(ConvEngine e, Layer l) {
        Tensor gw = Tensor.zeros(l.shape.weight);
        Tensor gb = Tensor.zeros(l.shape.biasLength);
        return new Owning(gw, gb) {
            @Override
            public void run() {
                l.shape.layer.backwardWeights(e, l.x, l.gy, gw, gb);
            }
        };
    }

    /**
     * A 2-D transposed convolution through its plan, {@code engine.plan(ConvTranspose2dParams, inputShape,
     * weightShape)}, with the weights and the bias prepacked once: {@code plan.forward(x, y)}.
     */
    static Runner transposePlanForward(ConvEngine e, Layer l) {
        ConvTranspose2dPlan plan = e.plan((ConvTranspose2dParams) l.shape.layer.params(), l.shape.input, l.shape.weight);
        plan.prepackWeights(l.w, l.b);
        Tensor y = Tensor.zeros(l.shape.output);
        return new Owning(y) {
            @Override
            public void run() {
                plan.forward(l.x, y);
            }

            @Override
            public String detail() {
                return "ConvTranspose2dPlan, " + plan.workspaceBytes() / 1024 + " KiB owned";
            }

            @Override
            public void close() {
                plan.close();
                super.close();
            }
        };
    }

    /**
     * The plan of {@link #planForward} on NCHW16C activations: x reordered once before timing, y written
     * and left in NCHW16C. The first call runs here, so that the workspace reported includes what the
     * plan keeps for staging, if it stages this layout.
     */
    static Runner blockedForward(ConvEngine e, Layer l) {
        Conv2dPlan plan = e.plan(l.shape.params, l.g.inputShape(), l.g.weightShape());
        plan.prepackWeights(l.w, l.b);
        Tensor x = l.x.toLayout(Layout.NCHW16C);
        Tensor y = Tensor.zeros(Layout.NCHW16C, l.g.outputShape());
        plan.forward(x, y);
        return new Owning(y, x) {
            @Override
            public void run() {
                plan.forward(x, y);
            }

            @Override
            public String detail() {
                return "x, y " + Layout.NCHW16C + "; algorithm " + l.g.algorithm + ", " + plan.workspaceBytes() / 1024
                        + " KiB owned";
            }

            @Override
            public void close() {
                plan.close();
                super.close();
            }
        };
    }

    /** {@code engine.backwardData(params, gy, w, gx)} with gy (reordered once before timing) and gx in NCHW16C. */
    static Runner blockedBackwardData(ConvEngine e, Layer l) {
        Tensor gy = l.gy.toLayout(Layout.NCHW16C);
        Tensor gx = Tensor.zeros(Layout.NCHW16C, l.g.inputShape());
        return new Owning(gx, gy) {
            @Override
            public void run() {
                e.backwardData(l.shape.params, gy, l.w, gx);
            }
        };
    }

    /**
     * {@code engine.backwardWeights(params, x, gy, gw, gb)} with x and gy in NCHW16C (reordered once
     * before timing); the gradients gw (OIHW) and gb are plain, as weights always are.
     */
    static Runner blockedBackwardWeights(ConvEngine e, Layer l) {
        Tensor x = l.x.toLayout(Layout.NCHW16C);
        Tensor gy = l.gy.toLayout(Layout.NCHW16C);
        Tensor gw = Tensor.zeros(l.g.weightShape());
        Tensor gb = Tensor.zeros(l.g.o);
        return new Owning(gw, x, gy, gb) {
            @Override
            public void run() {
                e.backwardWeights(l.shape.params, x, gy, gw, gb);
            }
        };
    }

    /**
     * A runner whose result is a tensor it owns, in any layout (read back as plain NCHW), with more
     * tensors it owns: inputs in another layout, a second output.
     */
    private abstract static class Owning implements Runner {
        final Tensor out;
        final Tensor[] more;

        Owning(Tensor out, Tensor... more) {
            this.out = out;
            this.more = more;
        }

        @Override
        public float[] result() {
            if (out.layout() == Layout.NCHW) {
                return out.toArray();
            }
            try (Tensor plain = out.toLayout(Layout.NCHW)) {
                return plain.toArray();
            }
        }

        @Override
        public void close() {
            out.close();
            for (Tensor t : more) {
                t.close();
            }
        }
    }
}
