package dev.conv4j.examples;

import dev.conv4j.ConvEngine;
import dev.conv4j.Tensor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A LeNet-style network for small grey images:
 *
 * <pre>
 * input  C×H×W
 * conv1  kernel×kernel, C → conv1 channels, "same" padding  → 2x2 max-pool → ReLU
 * conv2  kernel×kernel, → conv2 channels, no padding         → 2x2 max-pool → ReLU
 * fc1    → hidden units                                       → ReLU
 * fc2    → classes (logits; softmax cross-entropy in training)
 * </pre>
 *
 * Pooling before the ReLU computes exactly what the usual ReLU-then-pool order does (both are
 * monotone, so they commute) on a quarter of the values.
 *
 * The convolutions run on a conv4j {@link ConvEngine} over off-heap tensors; everything else is
 * plain Java over float arrays. The buffers of each batch size are allocated on first use and
 * reused, so a training loop allocates nothing per batch. Not thread-safe: one batch at a time.
 */
public final class LeNet implements Network {

    /** The sizes of the network; {@link #fashionMnist()} is the one the examples train. */
    public record Architecture(int channels, int height, int width, int conv1, int conv2, int kernel, int hidden,
                               int classes) {
        /** 1×28×28 input, 16 and 32 channels of 5x5 convolutions, 128 hidden units, 10 classes. */
        public static Architecture fashionMnist() {
            return new Architecture(1, 28, 28, 16, 32, 5, 128, 10);
        }

        /** The values {@code fc1} receives per image: the shape after the second pooling, flattened. */
        public int flattened() {
            int h2 = MaxPool2d.outputSize(MaxPool2d.outputSize(height) - kernel + 1);
            int w2 = MaxPool2d.outputSize(MaxPool2d.outputSize(width) - kernel + 1);
            if (h2 < 1 || w2 < 1 || kernel % 2 == 0) {
                throw new IllegalArgumentException("a " + height + "x" + width + " input is too small for two "
                        + kernel + "x" + kernel + " convolutions and poolings (or the kernel size is even)");
            }
            return conv2 * h2 * w2;
        }
    }

    private final Architecture arch;
    private final float mean, std;
    private final Conv2d conv1, conv2;
    private final Dense fc1, fc2;
    private final Map<Integer, Buffers> buffers = new HashMap<>();

    /**
     * A network with He-initialized weights drawn from {@code seed}.
     *
     * @param mean the mean of the pixels scaled to [0, 1], subtracted from every input
     * @param std  their standard deviation, by which inputs are divided
     */
    public static LeNet create(Architecture a, ConvEngine engine, float mean, float std, long seed) {
        LeNet net = new LeNet(a, engine, mean, std);
        Random r = new Random(seed);
        net.conv1.init(r);
        net.conv2.init(r);
        net.fc1.init(r);
        net.fc2.init(r);
        return net;
    }

    /** A network with all parameters zero, to be filled by the caller (then {@link #parametersChanged()}). */
    static LeNet empty(Architecture a, ConvEngine engine, float mean, float std) {
        return new LeNet(a, engine, mean, std);
    }

    private LeNet(Architecture a, ConvEngine engine, float mean, float std) {
        this.arch = a;
        this.mean = mean;
        this.std = std;
        int flat = a.flattened();
        conv1 = new Conv2d("conv1", a.channels(), a.conv1(), a.kernel(), a.kernel() / 2, engine);
        conv2 = new Conv2d("conv2", a.conv1(), a.conv2(), a.kernel(), 0, engine);
        fc1 = new Dense("fc1", flat, a.hidden());
        fc2 = new Dense("fc2", a.hidden(), a.classes());
    }

    /** The sizes of this network. */
    public Architecture architecture() {
        return arch;
    }

    @Override
    public int channels() {
        return arch.channels();
    }

    @Override
    public int height() {
        return arch.height();
    }

    @Override
    public int width() {
        return arch.width();
    }

    @Override
    public int classes() {
        return arch.classes();
    }

    @Override
    public String describe() {
        int params = parameters().stream().mapToInt(Parameter::size).sum();
        return String.format(java.util.Locale.ROOT, "LeNet %dx%dx%d, conv%dx%d %d, pool, conv%dx%d %d, pool, dense %d,"
                + " dense %d (%d parameters)", arch.channels(), arch.height(), arch.width(), arch.kernel(), arch.kernel(),
                arch.conv1(), arch.kernel(), arch.kernel(), arch.conv2(), arch.hidden(), arch.classes(), params);
    }

    /** The mean subtracted from pixels scaled to [0, 1]. */
    @Override
    public float mean() {
        return mean;
    }

    /** The standard deviation the centred pixels are divided by. */
    @Override
    public float std() {
        return std;
    }

    /** Every trainable parameter, in the order conv1, conv2, fc1, fc2 (weight before bias). */
    public List<Parameter> parameters() {
        return List.of(conv1.weight(), conv1.bias(), conv2.weight(), conv2.bias(), fc1.weight(), fc1.bias(),
                fc2.weight(), fc2.bias());
    }

    /** Hands changed parameter values to the layers' working copies; call after every optimizer step or load. */
    public void parametersChanged() {
        conv1.sync();
        conv2.sync();
        fc1.sync();
        fc2.sync();
    }

    /**
     * Forward and backward through a batch of {@code n} images (normalized, N×C×H×W in
     * {@code images}): leaves the gradient of the mean loss in every {@link Parameter#grad}.
     */
    public BatchResult trainBatch(float[] images, int[] labels, int n) {
        Buffers b = buffers(n);
        forward(b, images);
        float loss = SoftmaxCrossEntropy.lossAndGradient(b.logits, labels, n, arch.classes(), b.gLogits);
        backward(b);
        return new BatchResult(loss, Network.countCorrect(b.logits, labels, n));
    }

    /** Classifies {@code n} normalized images into {@code predicted}. */
    public void predict(float[] images, int n, int[] predicted) {
        Buffers b = buffers(n);
        forward(b, images);
        for (int i = 0; i < n; i++) {
            predicted[i] = SoftmaxCrossEntropy.argmax(b.logits, i, arch.classes());
        }
    }

    /** The logits of the last batch of size {@code n} run forward ({@code n x classes}); do not modify. */
    float[] logits(int n) {
        return buffers(n).logits;
    }

    private void forward(Buffers b, float[] images) {
        b.x.copyFrom(images);
        conv1.forward(b.x, b.y1);
        b.y1.copyTo(b.c1);
        MaxPool2d.forward(b.c1, b.n * arch.conv1(), b.h1, b.w1, b.p1, b.arg1);
        Relu.forward(b.p1, b.p1.length);

        b.x2.copyFrom(b.p1);
        conv2.forward(b.x2, b.y2);
        b.y2.copyTo(b.c2);
        MaxPool2d.forward(b.c2, b.n * arch.conv2(), b.h2, b.w2, b.p2, b.arg2);
        Relu.forward(b.p2, b.p2.length);

        // the pooled N×C×H×W array is already fc1's N×(C·H·W) input: flattening is free
        fc1.forward(b.p2, b.hidden, b.n);
        Relu.forward(b.hidden, b.hidden.length);
        fc2.forward(b.hidden, b.logits, b.n);
    }

    private void backward(Buffers b) {
        b.allocateGradients();
        fc2.backward(b.hidden, b.gLogits, b.gHidden, b.n);
        Relu.backward(b.hidden, b.gHidden, b.gHidden.length);
        fc1.backward(b.p2, b.gHidden, b.gp2, b.n);

        Relu.backward(b.p2, b.gp2, b.gp2.length);
        MaxPool2d.backward(b.gp2, b.arg2, b.p2.length, b.gc2, b.c2.length);
        b.gy2.copyFrom(b.gc2);
        conv2.backward(b.x2, b.gy2, b.gx2);

        b.gx2.copyTo(b.gp1);
        Relu.backward(b.p1, b.gp1, b.gp1.length);
        MaxPool2d.backward(b.gp1, b.arg1, b.p1.length, b.gc1, b.c1.length);
        b.gy1.copyFrom(b.gc1);
        conv1.backward(b.x, b.gy1, null);
    }

    private Buffers buffers(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + n);
        }
        return buffers.computeIfAbsent(n, Buffers::new);
    }

    /** Releases the off-heap memory of the weights and of every batch's buffers. */
    @Override
    public void close() {
        for (Buffers b : buffers.values()) {
            b.close();
        }
        buffers.clear();
        conv1.close();
        conv2.close();
    }

    /** Everything one batch size needs, forward and (allocated on first use) backward. */
    private final class Buffers implements AutoCloseable {
        final int n, h1, w1, h2, w2;
        final Tensor x, y1, x2, y2;
        /** Heap copies of the convolution outputs, and the pooled and rectified values. */
        final float[] c1, p1, c2, p2, hidden, logits, gLogits;
        final int[] arg1, arg2;
        Tensor gy1, gx2, gy2;
        float[] gHidden, gp2, gc2, gp1, gc1;

        Buffers(int n) {
            this.n = n;
            x = Tensor.zeros(n, arch.channels(), arch.height(), arch.width());
            y1 = Tensor.zeros(conv1.outputShape(x.shape()));
            h1 = y1.dim(2);
            w1 = y1.dim(3);
            x2 = Tensor.zeros(n, arch.conv1(), MaxPool2d.outputSize(h1), MaxPool2d.outputSize(w1));
            y2 = Tensor.zeros(conv2.outputShape(x2.shape()));
            h2 = y2.dim(2);
            w2 = y2.dim(3);
            c1 = new float[(int) y1.size()];
            p1 = new float[(int) x2.size()];
            arg1 = new int[p1.length];
            c2 = new float[(int) y2.size()];
            p2 = new float[n * fc1.inputs()];
            arg2 = new int[p2.length];
            hidden = new float[n * arch.hidden()];
            logits = new float[n * arch.classes()];
            gLogits = new float[logits.length];
        }

        void allocateGradients() {
            if (gy1 == null) {
                gy1 = Tensor.zeros(y1.shape());
                gx2 = Tensor.zeros(x2.shape());
                gy2 = Tensor.zeros(y2.shape());
                gHidden = new float[hidden.length];
                gp2 = new float[p2.length];
                gc2 = new float[c2.length];
                gp1 = new float[p1.length];
                gc1 = new float[c1.length];
            }
        }

        @Override
        public void close() {
            for (Tensor t : new Tensor[] {x, y1, x2, y2, gy1, gx2, gy2}) {
                if (t != null) {
                    t.close();
                }
            }
        }
    }
}
