package dev.conv4j.examples.resnet;

import dev.conv4j.Activation;
import dev.conv4j.BatchNorm;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.examples.Classifier;
import dev.conv4j.examples.Dense;
import dev.conv4j.examples.SoftmaxCrossEntropy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A trained {@link ResNet} prepared for inference: each batch norm folded into the convolution
 * before it ({@link BatchNorm#fold}), so that a block is two fused conv4j calls,
 *
 * <pre>
 * t   = relu(conv1'(x) + b1')
 * out = relu(conv2'(t) + b2' + shortcut)      shortcut = x, or conv'(x) + b' for a projection
 * </pre>
 *
 * then global average pooling and the dense layer in Java. Three ways to run the convolutions, for
 * comparing them:
 * <ul>
 *   <li>{@link Path#PER_CALL}: {@link ConvEngine#forward} with the folded weights on every call, NCHW;</li>
 *   <li>{@link Path#PLAN}: one {@link Conv2dPlan} per layer with prepacked weights, NCHW;</li>
 *   <li>{@link Path#BLOCKED}: the same plans with every activation in {@link Layout#NCHW16C}, the
 *       layout the channel-blocked kernels read and write, kept from the first layer to the last.</li>
 * </ul>
 * Tensors and plans are made per batch size on first use; after that a call allocates nothing.
 * Not thread-safe: one instance per serving thread.
 */
public final class FoldedResNet implements Classifier {

    /** How the convolutions are run. */
    public enum Path {
        PER_CALL, PLAN, BLOCKED;

        /** The name on the command line: per-call, plan, blocked. */
        public String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        /** The path a {@link #label()} names. */
        public static Path of(String label) {
            for (Path p : values()) {
                if (p.label().equals(label)) {
                    return p;
                }
            }
            throw new IllegalArgumentException("unknown inference path '" + label + "' (per-call, plan, blocked)");
        }
    }

    /** A convolution with its batch norm folded in. */
    private static final class Layer implements AutoCloseable {
        final Conv2dParams params;
        final Tensor w, b;
        final int in, out, stride;

        Layer(Conv conv, dev.conv4j.examples.resnet.BatchNorm bn) {
            params = conv.params();
            in = conv.inChannels();
            out = conv.outChannels();
            stride = conv.stride();
            w = Tensor.of(conv.weight().value, conv.weight().shape());
            b = Tensor.zeros(out);
            try (Tensor gamma = Tensor.of(bn.weight().value, out); Tensor beta = Tensor.of(bn.bias().value, out);
                 Tensor mean = Tensor.of(bn.runningMean, out); Tensor var = Tensor.of(bn.runningVar, out)) {
                BatchNorm.fold(w, null, gamma, beta, mean, var, dev.conv4j.examples.resnet.BatchNorm.EPS, w, b);
            }
        }

        @Override
        public void close() {
            w.close();
            b.close();
        }
    }

    /** The folded layers of one block; projection is null for an identity shortcut. */
    private record Block(Layer conv1, Layer conv2, Layer projection) {
    }

    private final ResNet.Architecture arch;
    private final String description;
    private final float mean, std;
    private final ConvEngine engine;
    private final Path path;
    private final Layer stem;
    private final List<Block> blocks = new ArrayList<>();
    private final Dense fc;
    private final Map<Integer, Run> runs = new HashMap<>();

    /** Folds {@code net}'s batch norms (a copy: the network is not changed) for running on {@code engine}. */
    public FoldedResNet(ResNet net, ConvEngine engine, Path path) {
        this.arch = net.architecture();
        this.description = net.describe() + ", batch norms folded, " + path.label() + " path";
        this.mean = net.mean();
        this.std = net.std();
        this.engine = engine;
        this.path = path;
        Dense trained = net.fc();
        fc = new Dense("fc", trained.inputs(), trained.outputs());
        System.arraycopy(trained.weight().value, 0, fc.weight().value, 0, fc.weight().size());
        System.arraycopy(trained.bias().value, 0, fc.bias().value, 0, fc.bias().size());
        fc.sync();
        stem = new Layer(net.stem(), net.stemNorm());
        for (BasicBlock b : net.blocks()) {
            blocks.add(new Block(new Layer(b.conv1, b.bn1), new Layer(b.conv2, b.bn2),
                    b.projection == null ? null : new Layer(b.projection, b.projectionNorm)));
        }
    }

    /** The way the convolutions run. */
    public Path path() {
        return path;
    }

    /** The network's sizes. */
    public ResNet.Architecture architecture() {
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
    public float mean() {
        return mean;
    }

    @Override
    public float std() {
        return std;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void predict(float[] images, int n, int[] predicted) {
        float[] logits = logits(images, n);
        for (int i = 0; i < n; i++) {
            predicted[i] = SoftmaxCrossEntropy.argmax(logits, i, arch.classes());
        }
    }

    /**
     * The logits ({@code n x classes}, this object's own array, valid until the next call) of
     * {@code n} normalized images (n×C×H×W in {@code images}).
     */
    public float[] logits(float[] images, int n) {
        if (n < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + n);
        }
        Run r = runs.computeIfAbsent(n, Run::new);
        r.input.copyFrom(images);
        r.forward();
        return r.logits;
    }

    /** Releases the folded weights, and every batch size's tensors and plans. */
    @Override
    public void close() {
        for (Run r : runs.values()) {
            r.close();
        }
        runs.clear();
        stem.close();
        for (Block b : blocks) {
            b.conv1().close();
            b.conv2().close();
            if (b.projection() != null) {
                b.projection().close();
            }
        }
    }

    /** One fused convolution of a run: its layer, input, output, optional residual, and plan. */
    private final class Step {
        final Layer layer;
        final Tensor x, y, residual;
        final Activation act;
        final Conv2dPlan plan;

        Step(Layer layer, Tensor x, Tensor y, Tensor residual, Activation act) {
            this.layer = layer;
            this.x = x;
            this.y = y;
            this.residual = residual;
            this.act = act;
            if (path == Path.PER_CALL) {
                plan = null;
            } else {
                plan = engine.plan(layer.params, x.shape(), layer.w.shape());
                plan.prepackWeights(layer.w, layer.b);
            }
        }

        void run() {
            if (plan == null) {
                engine.forward(layer.params, x, layer.w, layer.b, residual, act, y);
            } else {
                plan.forward(x, residual, act, y);
            }
        }
    }

    /** The tensors and steps of one batch size. */
    private final class Run implements AutoCloseable {
        final Tensor input, last;
        final List<Tensor> tensors = new ArrayList<>();
        final List<Step> steps = new ArrayList<>();
        final float[] lastValues, pooled, logits;
        final int n, plane;

        Run(int n) {
            this.n = n;
            Layout layout = path == Path.BLOCKED ? Layout.NCHW16C : Layout.NCHW;
            input = tensor(Layout.NCHW, n, arch.channels(), arch.height(), arch.width());
            int h = arch.height(), w = arch.width();
            Tensor a = tensor(layout, n, stem.out, h, w);
            steps.add(new Step(stem, input, a, null, Activation.RELU));
            for (Block b : blocks) {
                int oh = (h - 1) / b.conv1().stride + 1, ow = (w - 1) / b.conv1().stride + 1;
                Tensor t = tensor(layout, n, b.conv1().out, oh, ow);
                steps.add(new Step(b.conv1(), a, t, null, Activation.RELU));
                Tensor shortcut = a;
                if (b.projection() != null) {
                    shortcut = tensor(layout, n, b.projection().out, oh, ow);
                    steps.add(new Step(b.projection(), a, shortcut, null, Activation.NONE));
                }
                Tensor out = tensor(layout, n, b.conv2().out, oh, ow);
                steps.add(new Step(b.conv2(), t, out, shortcut, Activation.RELU));
                a = out;
                h = oh;
                w = ow;
            }
            plane = h * w;
            last = layout == Layout.NCHW ? a : tensor(Layout.NCHW, a.shape());
            lastValues = new float[(int) last.size()];
            pooled = new float[n * fc.inputs()];
            logits = new float[n * arch.classes()];
        }

        private Tensor tensor(Layout layout, int... shape) {
            Tensor t = Tensor.zeros(layout, shape);
            tensors.add(t);
            return t;
        }

        void forward() {
            for (Step s : steps) {
                s.run();
            }
            Tensor a = steps.get(steps.size() - 1).y;
            if (a != last) {
                a.copyTo(last);
            }
            last.copyTo(lastValues);
            for (int i = 0; i < pooled.length; i++) {
                pooled[i] = (float) (dev.conv4j.examples.resnet.BatchNorm.sum(lastValues, i * plane, plane) / plane);
            }
            fc.forward(pooled, logits, n);
        }

        @Override
        public void close() {
            for (Step s : steps) {
                if (s.plan != null) {
                    s.plan.close();
                }
            }
            for (Tensor t : tensors) {
                t.close();
            }
        }
    }
}
