package example;

import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/** conv4j's blas engine, called directly and through a plan, with preallocated outputs. */
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
                m.put("c4j-blas", l -> forward(blas, l));
                m.put("c4j-plan", l -> planForward(blas, l));
                break;
            case BACKWARD_DATA:
                m.put("c4j-blas", l -> backwardData(blas, l));
                break;
            default:
                m.put("c4j-blas", l -> backwardWeights(blas, l));
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
        return new Owning(gw) {
            @Override
            public void run() {
                e.backwardWeights(l.shape.params, l.x, l.gy, gw, gb);
            }

            @Override
            public void close() {
                gb.close();
                super.close();
            }
        };
    }

    /** A runner whose result is a tensor it owns. */
    private abstract static class Owning implements Runner {
        final Tensor out;

        Owning(Tensor out) {
            this.out = out;
        }

        @Override
        public float[] result() {
            return out.toArray();
        }

        @Override
        public void close() {
            out.close();
        }
    }
}
