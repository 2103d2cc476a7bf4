package dev.conv4j.examples;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.Tensor;
import java.util.Random;

/**
 * A convolution layer with bias: the one layer of the network that conv4j computes. Its weights
 * live in {@link Parameter}s (heap arrays the optimizer updates) and are mirrored into off-heap
 * tensors for the engine after every update.
 */
public final class Conv2d implements AutoCloseable {
    private final ConvEngine engine;
    private final Conv2dParams params;
    private final Parameter weight, bias;
    private final Tensor w, b, gw, gb;

    /** A {@code kernel x kernel} convolution from {@code in} to {@code out} channels, stride 1. */
    Conv2d(String name, int in, int out, int kernel, int padding, ConvEngine engine) {
        this.engine = engine;
        this.params = Conv2dParams.builder().padding(padding).build();
        weight = new Parameter(name + ".weight", out, in, kernel, kernel);
        bias = new Parameter(name + ".bias", out);
        w = Tensor.zeros(weight.shape());
        b = Tensor.zeros(bias.shape());
        gw = Tensor.zeros(weight.shape());
        gb = Tensor.zeros(bias.shape());
    }

    void init(Random r) {
        int[] s = weight.shape();
        weight.initHe(s[1] * s[2] * s[3], r);
        java.util.Arrays.fill(bias.value, 0f);
        sync();
    }

    /** The kernels, O×C×KH×KW. */
    public Parameter weight() {
        return weight;
    }

    /** One bias per output channel. */
    public Parameter bias() {
        return bias;
    }

    /** The output shape for an input of shape {@code inputShape} (N, C, H, W). */
    public int[] outputShape(int[] inputShape) {
        return params.outputShape(inputShape, weight.shape());
    }

    /** {@code y = conv(x) + bias}. */
    public void forward(Tensor x, Tensor y) {
        engine.forward(params, x, w, b, y);
    }

    /**
     * Writes the gradients of the weight and bias for the output gradient {@code gy}, and the
     * gradient of the input into {@code gx} unless it is null (the first layer needs none).
     */
    public void backward(Tensor x, Tensor gy, Tensor gx) {
        engine.backwardWeights(params, x, gy, gw, gb);
        gw.copyTo(weight.grad);
        gb.copyTo(bias.grad);
        if (gx != null) {
            engine.backwardData(params, gy, w, gx);
        }
    }

    /** Copies the parameter values to the engine's tensors; call after the values change. */
    public void sync() {
        w.copyFrom(weight.value);
        b.copyFrom(bias.value);
    }

    /** Releases the off-heap copies of the weights and gradients. */
    @Override
    public void close() {
        w.close();
        b.close();
        gw.close();
        gb.close();
    }
}
