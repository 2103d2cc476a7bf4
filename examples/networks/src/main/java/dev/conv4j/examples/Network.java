package dev.conv4j.examples;

import java.util.List;

/**
 * What {@link Trainer} and the {@code predict} command need of a classifier of grey images: its
 * input size and normalization, its parameters, a training step and a prediction.
 */
public interface Network extends AutoCloseable {

    /** The mean loss of a training batch and how many of its images were classified right. */
    record BatchResult(float loss, int correct) {
    }

    /** Channels of an input image. */
    int channels();

    /** Rows of an input image. */
    int height();

    /** Columns of an input image. */
    int width();

    /** The number of classes the network scores. */
    int classes();

    /** The mean subtracted from pixels scaled to [0, 1]. */
    float mean();

    /** The standard deviation the centred pixels are divided by. */
    float std();

    /** Every trainable parameter, in a fixed order. */
    List<Parameter> parameters();

    /** Hands changed parameter values to the layers' working copies; call after every optimizer step or load. */
    void parametersChanged();

    /**
     * Forward and backward through a batch of {@code n} normalized images (N×C×H×W): leaves the
     * gradient of the mean loss in every {@link Parameter#grad}.
     */
    BatchResult trainBatch(float[] images, int[] labels, int n);

    /** Classifies {@code n} normalized images into {@code predicted}. */
    void predict(float[] images, int n, int[] predicted);

    /** A one-line description: the layers and the number of parameters. */
    String describe();

    /** Releases the network's off-heap memory. */
    @Override
    void close();

    /** How many rows of {@code n x classes} logits have their largest value at the label. */
    static int countCorrect(float[] logits, int[] labels, int n) {
        int classes = logits.length / n, correct = 0;
        for (int i = 0; i < n; i++) {
            if (SoftmaxCrossEntropy.argmax(logits, i, classes) == labels[i]) {
                correct++;
            }
        }
        return correct;
    }
}
