package dev.conv4j.examples.resnet;

import dev.conv4j.ConvEngine;
import dev.conv4j.examples.Parameter;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The residual block of He et al. (2016): two 3x3 convolutions, each followed by a batch norm,
 * the first by a ReLU; the block's input is added to the result before a last ReLU. When the block
 * halves the image or changes the width, the input goes through a strided 1x1 convolution and a
 * batch norm first (the "projection shortcut", PyTorch's {@code downsample}).
 *
 * <pre>
 * out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
 * </pre>
 */
final class BasicBlock implements AutoCloseable {
    final Conv conv1, conv2, projection;
    final BatchNorm bn1, bn2, projectionNorm;
    private final int in, out, stride;
    private final ChannelLoop loop;

    BasicBlock(String name, int in, int out, int stride, ConvEngine engine, ChannelLoop loop) {
        this.in = in;
        this.out = out;
        this.stride = stride;
        this.loop = loop;
        conv1 = new Conv(name + ".conv1", in, out, 3, stride, engine);
        bn1 = new BatchNorm(name + ".bn1", out, true, loop);
        conv2 = new Conv(name + ".conv2", out, out, 3, 1, engine);
        // the block's last ReLU, after the shortcut is added, runs in bn2's pass over the data
        bn2 = new BatchNorm(name + ".bn2", out, true, loop);
        if (stride != 1 || in != out) {
            projection = new Conv(name + ".downsample.0", in, out, 1, stride, engine);
            projectionNorm = new BatchNorm(name + ".downsample.1", out, false, loop);
        } else {
            projection = null;
            projectionNorm = null;
        }
    }

    void init(Random r) {
        conv1.init(r);
        conv2.init(r);
        if (projection != null) {
            projection.init(r);
        }
    }

    /** The convolutions in the order they are saved. */
    List<Conv> convs() {
        List<Conv> l = new ArrayList<>(List.of(conv1, conv2));
        if (projection != null) {
            l.add(projection);
        }
        return l;
    }

    /** The batch norms in the order they are saved. */
    List<BatchNorm> norms() {
        List<BatchNorm> l = new ArrayList<>(List.of(bn1, bn2));
        if (projectionNorm != null) {
            l.add(projectionNorm);
        }
        return l;
    }

    /** Trainable parameters in PyTorch's state_dict order. */
    List<Parameter> parameters() {
        List<Parameter> l = new ArrayList<>(List.of(conv1.weight(), bn1.weight(), bn1.bias(), conv2.weight(),
                bn2.weight(), bn2.bias()));
        if (projection != null) {
            l.addAll(List.of(projection.weight(), projectionNorm.weight(), projectionNorm.bias()));
        }
        return l;
    }

    void sync() {
        for (Conv c : convs()) {
            c.sync();
        }
    }

    /** The output size of an input side of {@code size}. */
    int outputSize(int size) {
        return (size - 1) / stride + 1;
    }

    /**
     * The block on n images of h×w, into the block's own output array; {@code training} selects the
     * batch's statistics (and keeps what backward needs) or the running averages.
     */
    float[] forward(float[] x, int n, int h, int w, boolean training) {
        int oh = outputSize(h), ow = outputSize(w), hw = oh * ow;
        float[] a = norm(bn1, conv1.forward(x, n, h, w), n, hw, training);
        float[] s = projection == null ? x : norm(projectionNorm, projection.forward(x, n, h, w), n, hw, training);
        float[] c = conv2.forward(a, n, oh, ow);
        return training ? bn2.forwardTraining(c, s, n, hw) : bn2.forwardInference(c, s, n, hw);
    }

    /**
     * The backward pass of the last training forward of batch size n, for the output gradient
     * {@code gy}: parameter gradients, and the input gradient returned (the block's own array).
     */
    float[] backward(float[] gy, int n, int h, int w) {
        int oh = outputSize(h), ow = outputSize(w), hw = oh * ow;
        float[] ga = conv2.backward(bn2.backward(gy, n, hw), n, oh, ow, true);
        // the gradient at the sum, behind the last ReLU: it flows into both branches
        float[] gSum = bn2.maskedGradient(n, hw);
        float[] gx = conv1.backward(bn1.backward(ga, n, hw), n, h, w, true);
        float[] gs = projection == null ? gSum
                : projection.backward(projectionNorm.backward(gSum, n, hw), n, h, w, true);
        int hwIn = h * w;
        // gx is conv1's own array: the shortcut's gradient is added into it
        loop.forEach(in, c -> {
            for (int i = 0; i < n; i++) {
                int o = (i * in + c) * hwIn;
                for (int k = o; k < o + hwIn; k++) {
                    gx[k] += gs[k];
                }
            }
        });
        return gx;
    }

    private static float[] norm(BatchNorm bn, float[] x, int n, int hw, boolean training) {
        return training ? bn.forwardTraining(x, n, hw) : bn.forwardInference(x, n, hw);
    }

    @Override
    public void close() {
        for (Conv c : convs()) {
            c.close();
        }
    }
}
