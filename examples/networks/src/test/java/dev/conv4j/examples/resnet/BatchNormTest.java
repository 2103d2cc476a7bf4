package dev.conv4j.examples.resnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The batch norm layer on its own: statistics, running averages, inference and the gradient of its input. */
class BatchNormTest {
    private static final int N = 3, C = 2, HW = 5;

    private static float[] random(int size, long seed, double scale, double shift) {
        Random r = new Random(seed);
        float[] v = new float[size];
        for (int i = 0; i < size; i++) {
            v[i] = (float) (shift + scale * r.nextGaussian());
        }
        return v;
    }

    @Test
    void trainingNormalizesEachChannelAndMovesTheRunningAveragesAsPyTorchDoes() {
        try (ChannelLoop loop = new ChannelLoop(2)) {
            BatchNorm bn = new BatchNorm("bn", C, false, loop);
            float[] x = random(N * C * HW, 1, 3, 2);
            float[] y = bn.forwardTraining(x, N, HW);
            for (int c = 0; c < C; c++) {
                double sum = 0, sq = 0, xs = 0, xsq = 0;
                for (int i = 0; i < N; i++) {
                    for (int k = 0; k < HW; k++) {
                        double v = y[(i * C + c) * HW + k], u = x[(i * C + c) * HW + k];
                        sum += v;
                        sq += v * v;
                        xs += u;
                        xsq += u * u;
                    }
                }
                int m = N * HW;
                assertEquals(0, sum / m, 1e-5);
                double mean = xs / m, var = xsq / m - mean * mean;
                assertEquals(var / (var + BatchNorm.EPS), sq / m, 1e-4);
                // running = 0.9 running + 0.1 batch, the variance unbiased; from 0 and 1
                assertEquals(0.1 * mean, bn.runningMean[c], 1e-5);
                assertEquals(0.9 + 0.1 * var * m / (m - 1), bn.runningVar[c], 1e-4);
            }
        }
    }

    @Test
    void inferenceUsesTheRunningAveragesAndTheReluClamps() {
        try (ChannelLoop loop = new ChannelLoop(1)) {
            BatchNorm bn = new BatchNorm("bn", 1, true, loop);
            bn.runningMean[0] = 2f;
            bn.runningVar[0] = 4f;
            bn.weight().value[0] = 3f;
            bn.bias().value[0] = 0.5f;
            float[] y = bn.forwardInference(new float[] {0f, 2f, 6f}, 1, 3);
            double s = 3 / Math.sqrt(4 + BatchNorm.EPS);
            assertArrayEquals(new float[] {0f, 0.5f, (float) (4 * s + 0.5)}, y, 1e-5f);
        }
    }

    @Test
    void inputGradientMatchesFiniteDifferences() {
        for (boolean relu : new boolean[] {false, true}) {
            try (ChannelLoop loop = new ChannelLoop(2)) {
                BatchNorm bn = new BatchNorm("bn", C, relu, loop);
                bn.weight().value[0] = 1.5f;
                bn.weight().value[1] = -0.7f;
                bn.bias().value[0] = 0.2f;
                bn.bias().value[1] = 0.1f;
                float[] x = random(N * C * HW, 2, 1, 0.3);
                float[] r = random(x.length, 3, 1, 0);
                // L = sum(r * y): its output gradient is r
                bn.forwardTraining(x, N, HW);
                float[] gx = bn.backward(r, N, HW).clone();
                for (int i = 0; i < x.length; i++) {
                    float keep = x[i];
                    double h = 1e-3;
                    x[i] = (float) (keep + h);
                    double up = dot(r, bn.forwardTraining(x, N, HW));
                    x[i] = (float) (keep - h);
                    double down = dot(r, bn.forwardTraining(x, N, HW));
                    x[i] = keep;
                    assertEquals((up - down) / (2 * h), gx[i], 2e-3, "x[" + i + "], relu " + relu);
                }
            }
        }
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }
}
