package dev.conv4j.examples.resnet;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.Tensor;
import dev.conv4j.examples.Parameter;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * A convolution without bias (the batch norm after it has one), computed by conv4j. One
 * {@link Conv2dPlan} per batch size does the three passes with the weights of the moment; the
 * layer's input and output live in the plan's off-heap tensors, mirrored from and to the heap
 * arrays the rest of the network works on. The layer owns its output and gradient arrays.
 */
final class Conv implements AutoCloseable {
    private final ConvEngine engine;
    private final Conv2dParams params;
    private final Parameter weight;
    private final int in, out, kernel, stride;
    private final Tensor w, gw;
    private final Map<Integer, Pass> passes = new HashMap<>();

    /** A {@code kernel x kernel} convolution with "same" padding for odd kernels. */
    Conv(String name, int in, int out, int kernel, int stride, ConvEngine engine) {
        this.engine = engine;
        this.in = in;
        this.out = out;
        this.kernel = kernel;
        this.stride = stride;
        this.params = Conv2dParams.builder().stride(stride).padding(kernel / 2).build();
        weight = new Parameter(name + ".weight", out, in, kernel, kernel);
        w = Tensor.zeros(weight.shape());
        gw = Tensor.zeros(weight.shape());
    }

    /**
     * Kaiming normal initialization over the fan-out ({@code N(0, 2 / (out·k·k))}), as torchvision
     * initializes its ResNets.
     */
    void init(Random r) {
        double std = Math.sqrt(2.0 / (out * kernel * kernel));
        for (int i = 0; i < weight.value.length; i++) {
            weight.value[i] = (float) (r.nextGaussian() * std);
        }
        sync();
    }

    Parameter weight() {
        return weight;
    }

    Conv2dParams params() {
        return params;
    }

    int inChannels() {
        return in;
    }

    int outChannels() {
        return out;
    }

    int stride() {
        return stride;
    }

    /** Copies the parameter values to the engine's tensor; call after they change. */
    void sync() {
        w.copyFrom(weight.value);
    }

    /** The output shape for an n×C×h×w input. */
    int[] outputShape(int n, int h, int wd) {
        return params.outputShape(new int[] {n, in, h, wd}, weight.shape());
    }

    /** {@code conv(x)} for n images of h×w (n×C×h×w in {@code x}), into the layer's own output array. */
    float[] forward(float[] x, int n, int h, int wd) {
        Pass p = pass(n, h, wd);
        p.x.copyFrom(x);
        p.plan.forward(p.x, w, (Tensor) null, p.y);
        p.y.copyTo(p.yArray);
        return p.yArray;
    }

    /**
     * The backward pass of the last forward of batch size n: the weight gradient into the parameter,
     * and, unless {@code wantInput} is false, the input gradient, returned (the layer's own array).
     */
    float[] backward(float[] gy, int n, int h, int wd, boolean wantInput) {
        Pass p = pass(n, h, wd);
        p.gy.copyFrom(gy);
        p.plan.backwardWeights(p.x, p.gy, gw, null, false);
        gw.copyTo(weight.grad);
        if (!wantInput) {
            return null;
        }
        p.plan.backwardData(p.gy, w, p.gx, false);
        p.gx.copyTo(p.gxArray);
        return p.gxArray;
    }

    private Pass pass(int n, int h, int wd) {
        Pass p = passes.computeIfAbsent(n, k -> new Pass(k, h, wd));
        if (p.h != h || p.w != wd) {
            throw new IllegalArgumentException(weight.name() + ": planned for " + p.h + "x" + p.w + " inputs, got " + h
                    + "x" + wd);
        }
        return p;
    }

    @Override
    public void close() {
        for (Pass p : passes.values()) {
            p.close();
        }
        passes.clear();
        w.close();
        gw.close();
    }

    /** The plan and tensors of one batch size. */
    private final class Pass implements AutoCloseable {
        final int h, w;
        final Conv2dPlan plan;
        final Tensor x, y, gy, gx;
        final float[] yArray, gxArray;

        Pass(int n, int h, int wd) {
            this.h = h;
            this.w = wd;
            int[] xs = {n, in, h, wd};
            plan = engine.plan(params, xs, weight.shape());
            x = Tensor.zeros(xs);
            y = Tensor.zeros(params.outputShape(xs, weight.shape()));
            gy = Tensor.zeros(y.shape());
            gx = Tensor.zeros(xs);
            yArray = new float[(int) y.size()];
            gxArray = new float[(int) x.size()];
        }

        @Override
        public void close() {
            plan.close();
            x.close();
            y.close();
            gy.close();
            gx.close();
        }
    }
}
