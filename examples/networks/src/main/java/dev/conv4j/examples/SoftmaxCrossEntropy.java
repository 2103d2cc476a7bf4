package dev.conv4j.examples;

/** The softmax cross-entropy loss of a batch of logits, averaged over the batch, and its gradient. */
public final class SoftmaxCrossEntropy {
    private SoftmaxCrossEntropy() {
    }

    /**
     * Returns the mean loss of {@code n} rows of {@code classes} logits for the given labels, and
     * writes its gradient with respect to the logits, {@code (softmax - onehot) / n}, into {@code grad}.
     */
    public static float lossAndGradient(float[] logits, int[] labels, int n, int classes, float[] grad) {
        double loss = 0;
        for (int b = 0; b < n; b++) {
            int row = b * classes;
            // subtracting the largest logit keeps exp() finite without changing the softmax
            float max = logits[row];
            for (int k = 1; k < classes; k++) {
                max = Math.max(max, logits[row + k]);
            }
            double sum = 0;
            for (int k = 0; k < classes; k++) {
                double e = Math.exp(logits[row + k] - max);
                grad[row + k] = (float) e;
                sum += e;
            }
            loss += Math.log(sum) - (logits[row + labels[b]] - max);
            for (int k = 0; k < classes; k++) {
                grad[row + k] = (float) (grad[row + k] / sum / n);
            }
            grad[row + labels[b]] -= 1f / n;
        }
        return (float) (loss / n);
    }

    /** The index of the largest of the {@code classes} values of row {@code b}: the predicted class. */
    public static int argmax(float[] logits, int b, int classes) {
        int row = b * classes, best = 0;
        for (int k = 1; k < classes; k++) {
            if (logits[row + k] > logits[row + best]) {
                best = k;
            }
        }
        return best;
    }
}
