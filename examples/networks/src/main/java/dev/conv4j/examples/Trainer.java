package dev.conv4j.examples;

import java.util.Random;

/**
 * Mini-batch training of a {@link Network} with an {@link Optimizer}: each epoch visits the
 * training images in a fresh random order (drawn from the trainer's seed) in batches of a fixed
 * size, the last batch taking what is left, optionally {@linkplain #augment augmented} and with
 * the learning rate of a {@link Schedule}.
 */
public final class Trainer {

    /** Where an epoch stands after a batch: running mean loss and accuracy over the epoch so far. */
    public record Progress(int epoch, int epochs, int seen, int total, float batchLoss, double loss, double accuracy,
                           double seconds) {
        public double imagesPerSecond() {
            return seconds > 0 ? seen / seconds : 0;
        }
    }

    /** The outcome of one epoch. */
    public record EpochResult(int epoch, int images, double loss, double accuracy, double seconds) {
        public double imagesPerSecond() {
            return images / seconds;
        }
    }

    /** Told about every batch; implementations decide how often to show anything. */
    public interface Listener {
        void batchDone(Progress p);
    }

    /** The accuracy of a network on a data set, and how fast it ran. */
    public record Evaluation(int images, int correct, double seconds) {
        public double accuracy() {
            return images == 0 ? 0 : (double) correct / images;
        }

        public double imagesPerSecond() {
            return images / seconds;
        }
    }

    private final Network net;
    private final Optimizer optimizer;
    private final int batchSize;
    private final Random shuffle;
    private final float baseRate;
    private Schedule schedule;
    private Augmentation augmentation;
    private long steps;

    /**
     * @param batchSize images per step
     * @param seed      seeds the order in which each epoch visits the images
     */
    public Trainer(Network net, Optimizer optimizer, int batchSize, long seed) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        }
        this.net = net;
        this.optimizer = optimizer;
        this.batchSize = batchSize;
        this.shuffle = new Random(seed);
        this.baseRate = optimizer.learningRate();
    }

    /**
     * Lowers the learning rate along a half cosine, from its initial value to zero at the end of
     * {@code epochs} epochs of {@code images} images: large steps while far from a minimum, small
     * ones to settle into it.
     */
    public Trainer cosineDecay(int epochs, int images) {
        return schedule(Schedule.cosine(baseRate, stepsFor(epochs, images)));
    }

    /** Sets the learning rate of every step from now on by {@code schedule} (steps count from the first). */
    public Trainer schedule(Schedule schedule) {
        this.schedule = schedule;
        return this;
    }

    /** Transforms every training image by {@code augmentation} (null: none). */
    public Trainer augment(Augmentation augmentation) {
        this.augmentation = augmentation;
        return this;
    }

    /** The optimizer steps of {@code epochs} epochs over {@code images} images. */
    public long stepsFor(int epochs, int images) {
        return (long) epochs * ((images + batchSize - 1) / batchSize);
    }

    /** Trains one epoch over {@code data}, numbered {@code epoch} of {@code epochs} for the listener. */
    public EpochResult trainEpoch(Dataset data, int epoch, int epochs, Listener listener) {
        checkFits(net, data);
        int total = data.size(), plane = data.height() * data.width();
        int[] order = permutation(total);
        float[] images = new float[batchSize * plane];
        int[] labels = new int[batchSize];
        double lossSum = 0;
        int correct = 0, seen = 0;
        long start = System.nanoTime();
        for (int from = 0; from < total; from += batchSize) {
            int n = Math.min(batchSize, total - from);
            float[] batch = n == batchSize ? images : new float[n * plane];
            data.batch(order, from, n, net.mean(), net.std(), augmentation, batch, labels);
            Network.BatchResult r = net.trainBatch(batch, labels, n);
            if (schedule != null) {
                optimizer.learningRate((float) schedule.rate(steps));
            }
            optimizer.step();
            steps++;
            net.parametersChanged();
            lossSum += (double) r.loss() * n;
            correct += r.correct();
            seen += n;
            if (listener != null) {
                listener.batchDone(new Progress(epoch, epochs, seen, total, r.loss(), lossSum / seen,
                        (double) correct / seen, (System.nanoTime() - start) / 1e9));
            }
        }
        return new EpochResult(epoch, total, lossSum / total, (double) correct / total, (System.nanoTime() - start) / 1e9);
    }

    /** Classifies every image of {@code data} in batches of {@code batchSize} and counts the right answers. */
    public static Evaluation evaluate(Classifier net, Dataset data, int batchSize) {
        checkFits(net, data);
        int total = data.size(), plane = data.height() * data.width();
        int[] order = new int[total];
        for (int i = 0; i < total; i++) {
            order[i] = i;
        }
        float[] images = new float[batchSize * plane];
        int[] labels = new int[batchSize], predicted = new int[batchSize];
        int correct = 0;
        long start = System.nanoTime();
        for (int from = 0; from < total; from += batchSize) {
            int n = Math.min(batchSize, total - from);
            float[] batch = n == batchSize ? images : new float[n * plane];
            data.batch(order, from, n, net.mean(), net.std(), batch, labels);
            net.predict(batch, n, predicted);
            for (int i = 0; i < n; i++) {
                if (predicted[i] == labels[i]) {
                    correct++;
                }
            }
        }
        return new Evaluation(total, correct, (System.nanoTime() - start) / 1e9);
    }

    private int[] permutation(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = shuffle.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    private static void checkFits(Classifier a, Dataset data) {
        if (a.channels() != 1 || a.height() != data.height() || a.width() != data.width()) {
            throw new IllegalArgumentException("the network takes " + a.channels() + "x" + a.height() + "x" + a.width()
                    + " images but the data set has 1x" + data.height() + "x" + data.width());
        }
        if (a.classes() < data.classes()) {
            throw new IllegalArgumentException("the network has " + a.classes() + " classes but the data set "
                    + data.classes());
        }
    }
}
