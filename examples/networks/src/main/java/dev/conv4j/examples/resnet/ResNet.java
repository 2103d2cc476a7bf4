package dev.conv4j.examples.resnet;

import dev.conv4j.ConvEngine;
import dev.conv4j.examples.Dense;
import dev.conv4j.examples.Network;
import dev.conv4j.examples.Parameter;
import dev.conv4j.examples.SoftmaxCrossEntropy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * A residual network for small images, in the form He et al. (2016) give for CIFAR-10: a 3x3
 * convolution, then stages of {@link BasicBlock}s of growing width, each stage after the first
 * starting with a stride-2 block, then global average pooling and one dense layer:
 *
 * <pre>
 * conv 3x3 → widths[0], bn, relu
 * stage s = 0 .. widths.length-1: blocks × BasicBlock(widths[s]), the first with stride 2 for s > 0
 * global average pool → dense → classes (logits; softmax cross-entropy in training)
 * </pre>
 *
 * With widths (16, 32, 64) and three blocks a stage this is ResNet-20: 19 convolutions and a dense
 * layer, 0.27 million parameters. Parameters and running averages are named as the same network's
 * PyTorch {@code state_dict} names them ({@code layer2.0.downsample.1.running_var}), so a saved model
 * loads there unchanged ({@code examples/pytorch/resnet_fashion.py}).
 *
 * <p>The convolutions run on a conv4j {@link ConvEngine}, forward and backward; the rest is plain
 * Java over float arrays, per channel on {@code threads} threads. Buffers are allocated per batch
 * size on first use and reused. Not thread-safe: one batch at a time.
 */
public final class ResNet implements Network {

    /** The sizes of the network. */
    public record Architecture(int channels, int height, int width, List<Integer> widths, int blocks, int classes) {
        public Architecture {
            widths = List.copyOf(widths);
            if (channels < 1 || height < 1 || width < 1 || widths.isEmpty() || blocks < 1 || classes < 1
                    || widths.stream().anyMatch(v -> v < 1)) {
                throw new IllegalArgumentException("every size of a ResNet must be positive: " + channels + "x" + height
                        + "x" + width + " images, widths " + widths + ", " + blocks + " blocks a stage, " + classes
                        + " classes");
            }
        }

        /** ResNet-20 for 1×28×28 images and 10 classes: widths 16, 32, 64, three blocks a stage. */
        public static Architecture resnet20() {
            return new Architecture(1, 28, 28, List.of(16, 32, 64), 3, 10);
        }

        /** The depth in the paper's sense: convolutions on the main path plus the dense layer. */
        public int depth() {
            return 2 + 2 * blocks * widths.size();
        }
    }

    private final Architecture arch;
    private final float mean, std;
    private final ChannelLoop loop;
    private final Conv stem;
    private final BatchNorm stemNorm;
    private final List<BasicBlock> blocks = new ArrayList<>();
    private final Dense fc;
    private final Map<Integer, Buffers> buffers = new HashMap<>();

    /**
     * A network with weights drawn from {@code seed}: convolutions Kaiming normal over the fan-out,
     * batch norms γ = 1 and β = 0, the dense layer He uniform.
     *
     * @param threads the threads of the non-convolution layers (the engine has its own count)
     */
    public static ResNet create(Architecture a, ConvEngine engine, int threads, float mean, float std, long seed) {
        ResNet net = new ResNet(a, engine, threads, mean, std);
        Random r = new Random(seed);
        net.stem.init(r);
        for (BasicBlock b : net.blocks) {
            b.init(r);
        }
        net.fc.init(r);
        return net;
    }

    /** A network with zero weights and unit batch norms, to be filled by the caller (then {@link #parametersChanged()}). */
    static ResNet empty(Architecture a, ConvEngine engine, int threads, float mean, float std) {
        return new ResNet(a, engine, threads, mean, std);
    }

    private ResNet(Architecture a, ConvEngine engine, int threads, float mean, float std) {
        this.arch = a;
        this.mean = mean;
        this.std = std;
        this.loop = new ChannelLoop(threads);
        List<Integer> widths = a.widths();
        stem = new Conv("conv1", a.channels(), widths.get(0), 3, 1, engine);
        stemNorm = new BatchNorm("bn1", widths.get(0), true, loop);
        int in = widths.get(0);
        for (int s = 0; s < widths.size(); s++) {
            for (int b = 0; b < a.blocks(); b++) {
                int stride = s > 0 && b == 0 ? 2 : 1;
                blocks.add(new BasicBlock("layer" + (s + 1) + "." + b, in, widths.get(s), stride, engine, loop));
                in = widths.get(s);
            }
        }
        fc = new Dense("fc", in, a.classes());
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
    public float mean() {
        return mean;
    }

    @Override
    public float std() {
        return std;
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> l = new ArrayList<>(List.of(stem.weight(), stemNorm.weight(), stemNorm.bias()));
        for (BasicBlock b : blocks) {
            l.addAll(b.parameters());
        }
        l.add(fc.weight());
        l.add(fc.bias());
        return l;
    }

    /**
     * Every value a saved model holds, by its PyTorch name, in state_dict order: the parameters and
     * each batch norm's running mean and variance (live arrays: writing them changes the network).
     */
    public Map<String, float[]> state() {
        Map<String, float[]> m = new LinkedHashMap<>();
        put(m, stem.weight());
        putNorm(m, stemNorm);
        for (BasicBlock b : blocks) {
            put(m, b.conv1.weight());
            putNorm(m, b.bn1);
            put(m, b.conv2.weight());
            putNorm(m, b.bn2);
            if (b.projection != null) {
                put(m, b.projection.weight());
                putNorm(m, b.projectionNorm);
            }
        }
        put(m, fc.weight());
        put(m, fc.bias());
        return m;
    }

    /** The shape of every value in {@link #state()}. */
    public Map<String, int[]> stateShapes() {
        Map<String, int[]> m = new LinkedHashMap<>();
        Map<String, Parameter> params = new HashMap<>();
        for (Parameter p : parameters()) {
            params.put(p.name(), p);
        }
        for (Map.Entry<String, float[]> e : state().entrySet()) {
            Parameter p = params.get(e.getKey());
            m.put(e.getKey(), p != null ? p.shape() : new int[] {e.getValue().length});
        }
        return m;
    }

    private static void put(Map<String, float[]> m, Parameter p) {
        m.put(p.name(), p.value);
    }

    private static void putNorm(Map<String, float[]> m, BatchNorm bn) {
        m.put(bn.weight().name(), bn.weight().value);
        m.put(bn.bias().name(), bn.bias().value);
        m.put(bn.name() + ".running_mean", bn.runningMean);
        m.put(bn.name() + ".running_var", bn.runningVar);
    }

    @Override
    public void parametersChanged() {
        stem.sync();
        for (BasicBlock b : blocks) {
            b.sync();
        }
        fc.sync();
    }

    @Override
    public String describe() {
        int params = parameters().stream().mapToInt(Parameter::size).sum();
        return String.format(Locale.ROOT, "ResNet-%d %dx%dx%d, widths %s, %d blocks a stage, batch norm, %d classes"
                + " (%d parameters)", arch.depth(), arch.channels(), arch.height(), arch.width(), arch.widths(),
                arch.blocks(), arch.classes(), params);
    }

    @Override
    public BatchResult trainBatch(float[] images, int[] labels, int n) {
        Buffers b = buffers(n);
        forward(b, images, true);
        float loss = SoftmaxCrossEntropy.lossAndGradient(b.logits, labels, n, arch.classes(), b.gLogits);
        backward(b);
        return new BatchResult(loss, Network.countCorrect(b.logits, labels, n));
    }

    @Override
    public void predict(float[] images, int n, int[] predicted) {
        float[] logits = logits(images, n);
        for (int i = 0; i < n; i++) {
            predicted[i] = SoftmaxCrossEntropy.argmax(logits, i, arch.classes());
        }
    }

    /**
     * The inference-mode logits ({@code n x classes}, the network's own array: valid until the next
     * call) of {@code n} normalized images.
     */
    public float[] logits(float[] images, int n) {
        Buffers b = buffers(n);
        forward(b, images, false);
        return b.logits;
    }

    private void forward(Buffers b, float[] images, boolean training) {
        int n = b.n, h = arch.height(), w = arch.width();
        float[] c = stem.forward(images, n, h, w);
        float[] a = training ? stemNorm.forwardTraining(c, n, h * w) : stemNorm.forwardInference(c, n, h * w);
        for (int i = 0; i < blocks.size(); i++) {
            BasicBlock block = blocks.get(i);
            b.heights[i] = h;
            b.widths[i] = w;
            a = block.forward(a, n, h, w, training);
            h = block.outputSize(h);
            w = block.outputSize(w);
        }
        int channels = fc.inputs(), hw = h * w;
        b.lastPlane = hw;
        averagePool(a, n, channels, hw, b.pooled);
        fc.forward(b.pooled, b.logits, n);
    }

    private void backward(Buffers b) {
        int n = b.n, channels = fc.inputs(), hw = b.lastPlane;
        fc.backward(b.pooled, b.gLogits, b.gPooled, n);
        // the gradient of an average spreads evenly over the values averaged
        float[] g = b.gLast;
        for (int i = 0; i < n * channels; i++) {
            java.util.Arrays.fill(g, i * hw, (i + 1) * hw, b.gPooled[i] / hw);
        }
        for (int i = blocks.size() - 1; i >= 0; i--) {
            g = blocks.get(i).backward(g, n, b.heights[i], b.widths[i]);
        }
        int h = arch.height(), w = arch.width();
        stem.backward(stemNorm.backward(g, n, h * w), n, h, w, false);
    }

    private static void averagePool(float[] x, int n, int channels, int hw, float[] out) {
        for (int i = 0; i < n * channels; i++) {
            out[i] = (float) (BatchNorm.sum(x, i * hw, hw) / hw);
        }
    }

    private Buffers buffers(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + n);
        }
        return buffers.computeIfAbsent(n, Buffers::new);
    }

    /** Releases the off-heap memory of the convolutions and the threads of the other layers. */
    @Override
    public void close() {
        stem.close();
        for (BasicBlock b : blocks) {
            b.close();
        }
        buffers.clear();
        loop.close();
    }

    /** The arrays of the head and what backward needs to know of each block's input size. */
    private final class Buffers {
        final int n;
        final int[] heights = new int[blocks.size()], widths = new int[blocks.size()];
        final float[] pooled, logits, gLogits, gPooled;
        float[] gLast;
        int lastPlane;

        Buffers(int n) {
            this.n = n;
            int channels = fc.inputs(), h = arch.height(), w = arch.width();
            for (BasicBlock b : blocks) {
                h = b.outputSize(h);
                w = b.outputSize(w);
            }
            pooled = new float[n * channels];
            gPooled = new float[n * channels];
            logits = new float[n * arch.classes()];
            gLogits = new float[logits.length];
            gLast = new float[n * channels * h * w];
        }
    }

    /** The stem, for {@link FoldedResNet}. */
    Conv stem() {
        return stem;
    }

    BatchNorm stemNorm() {
        return stemNorm;
    }

    List<BasicBlock> blocks() {
        return blocks;
    }

    Dense fc() {
        return fc;
    }
}
