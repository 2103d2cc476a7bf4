package dev.conv4j.examples;

import java.util.List;

/** A {@link Classifier} that {@link Trainer} can train: its parameters and a training step. */
public interface Network extends Classifier {

    /** The mean loss of a training batch and how many of its images were classified right. */
    record BatchResult(float loss, int correct) {
    }

    /** Every trainable parameter, in a fixed order. */
    List<Parameter> parameters();

    /** Hands changed parameter values to the layers' working copies; call after every optimizer step or load. */
    void parametersChanged();

    /**
     * Forward and backward through a batch of {@code n} normalized images (N×C×H×W): leaves the
     * gradient of the mean loss in every {@link Parameter#grad}.
     */
    BatchResult trainBatch(float[] images, int[] labels, int n);

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
