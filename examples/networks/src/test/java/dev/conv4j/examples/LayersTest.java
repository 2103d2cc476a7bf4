package dev.conv4j.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.ConvEngines;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Each layer on values worked out by hand, and the whole network against finite differences. */
class LayersTest {

    @Test
    void maxPoolRoutesGradientsToTheMaxima() {
        // one 2x4 plane, pooled into 1x2; an odd 5th column would be dropped
        float[] x = {1, 5, -1, -3,
                     2, 0, -2, -4};
        float[] y = new float[2];
        int[] at = new int[2];
        MaxPool2d.forward(x, 1, 2, 4, y, at);
        assertArrayEquals(new float[] {5, -1}, y);
        assertArrayEquals(new int[] {1, 2}, at);
        float[] gx = new float[8];
        java.util.Arrays.fill(gx, 9f);
        MaxPool2d.backward(new float[] {10, 20}, at, 2, gx, 8);
        assertArrayEquals(new float[] {0, 10, 20, 0, 0, 0, 0, 0}, gx);
    }

    @Test
    void reluZeroesNegativesAndTheirGradients() {
        float[] v = {-1, 0, 2};
        Relu.forward(v, 3);
        assertArrayEquals(new float[] {0, 0, 2}, v);
        float[] g = {5, 6, 7};
        Relu.backward(v, g, 3);
        assertArrayEquals(new float[] {0, 0, 7}, g);
    }

    @Test
    void denseComputesXTimesWTransposedPlusBias() {
        Dense d = new Dense("fc", 3, 2);
        System.arraycopy(new float[] {1, 2, 3, 4, 5, 6}, 0, d.weight().value, 0, 6);
        d.bias().value[0] = 0.5f;
        d.bias().value[1] = -1f;
        d.sync();
        float[] y = new float[4];
        d.forward(new float[] {1, 0, -1, 2, 1, 0}, y, 2);
        assertArrayEquals(new float[] {1 - 3 + 0.5f, 4 - 6 - 1, 2 + 2 + 0.5f, 8 + 5 - 1}, y);

        float[] gx = new float[6];
        d.backward(new float[] {1, 0, -1, 2, 1, 0}, new float[] {1, 0, 0, 2}, gx, 2);
        assertArrayEquals(new float[] {1, 2, 3, 8, 10, 12}, gx);
        assertArrayEquals(new float[] {1, 0, -1, 4, 2, 0}, d.weight().grad);
        assertArrayEquals(new float[] {1, 2}, d.bias().grad);
    }

    @Test
    void softmaxCrossEntropyOfEqualLogitsIsLogOfTheClassCount() {
        float[] grad = new float[8];
        float loss = SoftmaxCrossEntropy.lossAndGradient(new float[8], new int[] {1, 3}, 2, 4, grad);
        assertEquals(Math.log(4), loss, 1e-6);
        // (softmax - onehot) / n
        assertArrayEquals(new float[] {0.125f, -0.375f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f, -0.375f}, grad, 1e-7f);
        float big = SoftmaxCrossEntropy.lossAndGradient(new float[] {1000, 0}, new int[] {0}, 1, 2, new float[2]);
        assertEquals(0, big, 1e-6, "large logits must not overflow");
        assertEquals(1, SoftmaxCrossEntropy.argmax(new float[] {0, 0, 1, 3}, 1, 2));
    }

    @Test
    void adamsFirstStepMovesEachValueByTheLearningRate() {
        Parameter p = new Parameter("p", 3);
        p.grad[0] = 0.5f;
        p.grad[1] = -20f;
        p.grad[2] = 0f;
        new Adam(List.of(p), 0.01f).step();
        // m/sqrt(v) after bias correction is the sign of the gradient
        assertArrayEquals(new float[] {-0.01f, 0.01f, 0f}, p.value, 1e-6f);
    }

    /** The gradients the network computes against central differences of its loss. */
    @Test
    void networkGradientsMatchFiniteDifferences() {
        LeNet.Architecture a = new LeNet.Architecture(1, 12, 12, 3, 4, 3, 8, 5);
        int n = 3, plane = 12 * 12;
        Random r = new Random(42);
        float[] images = new float[n * plane];
        for (int i = 0; i < images.length; i++) {
            images[i] = (float) r.nextGaussian();
        }
        int[] labels = {0, 3, 4};
        try (LeNet net = LeNet.create(a, ConvEngines.naive(), 0f, 1f, 5)) {
            net.trainBatch(images, labels, n);
            List<float[]> grads = new java.util.ArrayList<>();
            for (Parameter p : net.parameters()) {
                grads.add(p.grad.clone());
            }
            int checked = 0;
            for (int pi = 0; pi < grads.size(); pi++) {
                Parameter p = net.parameters().get(pi);
                float[] analytic = grads.get(pi);
                // a spread of entries of every parameter, the first and last included
                int[] entries = java.util.stream.IntStream.range(0, 6).map(k -> k * (p.size() - 1) / 5).distinct().toArray();
                for (int i : entries) {
                    float saved = p.value[i];
                    // small enough that no ReLU input or pooling maximum changes sides
                    double eps = 1e-3;
                    p.value[i] = (float) (saved + eps);
                    net.parametersChanged();
                    double up = net.trainBatch(images, labels, n).loss();
                    p.value[i] = (float) (saved - eps);
                    net.parametersChanged();
                    double down = net.trainBatch(images, labels, n).loss();
                    p.value[i] = saved;
                    net.parametersChanged();
                    double numeric = (up - down) / (2 * eps);
                    assertEquals(numeric, analytic[i], 1e-3 + 0.01 * Math.abs(numeric), p.name() + "[" + i + "]");
                    checked++;
                }
            }
            assertTrue(checked > 35, checked + " entries checked");
        }
    }

    @Test
    void everyEngineGivesTheSameNetwork() {
        LeNet.Architecture a = LeNet.Architecture.fashionMnist();
        float[] images = new float[2 * 28 * 28];
        Random r = new Random(3);
        for (int i = 0; i < images.length; i++) {
            images[i] = r.nextFloat();
        }
        float[][] logits = new float[3][];
        int e = 0;
        for (var engine : new dev.conv4j.ConvEngine[] {ConvEngines.naive(), ConvEngines.java(2), ConvEngines.fastest()}) {
            try (LeNet net = LeNet.create(a, engine, 0f, 1f, 9)) {
                net.predict(images, 2, new int[2]);
                logits[e++] = net.logits(2).clone();
            }
        }
        for (int i = 1; i < 3; i++) {
            for (int j = 0; j < logits[0].length; j++) {
                assertTrue(Math.abs(logits[i][j] - logits[0][j]) < 1e-3 * (1 + Math.abs(logits[0][j])),
                        "engine " + i + " logit " + j + ": " + logits[i][j] + " vs " + logits[0][j]);
            }
        }
    }
}
