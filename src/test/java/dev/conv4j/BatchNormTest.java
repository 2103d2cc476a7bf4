package dev.conv4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Folding batch normalization into the convolution: the same outputs as the convolution then the normalization. */
class BatchNormTest {
    private static final double EPS = 1e-5;

    @Test
    void foldedConvolutionEqualsConvolutionThenBatchNorm() {
        ConvEngine naive = ConvEngines.naive();
        Random r = new Random(31);
        Conv2dParams[] params = {Conv2dParams.builder().padding(1).build(), Conv2dParams.builder().stride(2).groups(3).build()};
        int[][] xShapes = {{2, 5, 9, 8}, {1, 6, 11, 7}}, wShapes = {{7, 5, 3, 3}, {9, 2, 3, 2}};
        for (int k = 0; k < params.length; k++) {
            for (boolean withBias : new boolean[] {true, false}) {
                int o = wShapes[k][0];
                try (Tensor x = TestData.random(r, 1, xShapes[k]); Tensor w = TestData.random(r, 1, wShapes[k]);
                     Tensor b = withBias ? TestData.random(r, 1, o) : null; Tensor gamma = TestData.random(r, 2, o);
                     Tensor beta = TestData.random(r, 1, o); Tensor mean = TestData.random(r, 1, o);
                     Tensor var = positive(r, o); Tensor wf = Tensor.zeros(wShapes[k]); Tensor bf = Tensor.zeros(o);
                     Tensor y = naive.forward(params[k], x, w, b)) {
                    BatchNorm.fold(w, b, gamma, beta, mean, var, EPS, wf, bf);
                    try (Tensor yf = naive.forward(params[k], x, wf, bf)) {
                        float[] ref = batchNorm(y, gamma.toArray(), beta.toArray(), mean.toArray(), var.toArray());
                        double err = TestData.relErr(yf.toArray(), ref);
                        assertTrue(err <= 1e-6, "folded vs unfolded error " + err);
                    }
                    // in place: w and the bias (or, without one, a fresh vector) become the folded ones
                    try (Tensor bOut = b != null ? b : Tensor.zeros(o)) {
                        BatchNorm.fold(w, b, gamma, beta, mean, var, EPS, w, bOut);
                        assertArrayEquals(wf.toArray(), w.toArray());
                        assertArrayEquals(bf.toArray(), bOut.toArray());
                    }
                }
            }
        }
    }

    @Test
    void argumentsAreChecked() {
        try (Tensor w = Tensor.zeros(4, 2, 3, 3); Tensor v4 = Tensor.zeros(4); Tensor v3 = Tensor.zeros(3); Tensor ones = Tensor.zeros(4);
             Tensor wOut = Tensor.zeros(4, 2, 3, 3); Tensor bOut = Tensor.zeros(4); Tensor wNhwc = Tensor.zeros(Layout.NHWC, 4, 2, 3, 3);
             Tensor shared = Tensor.zeros(80)) {
            ones.fill(1f);
            expect(() -> BatchNorm.fold(w, null, v3, v4, v4, ones, EPS, wOut, bOut), "gamma", "[3]", "[4]");
            expect(() -> BatchNorm.fold(w, v3, v4, v4, v4, ones, EPS, wOut, bOut), "bias", "[3]");
            expect(() -> BatchNorm.fold(w, null, v4, v4, v4, ones, -1, wOut, bOut), "eps", "-1");
            expect(() -> BatchNorm.fold(w, null, v4, v4, v4, ones, Double.NaN, wOut, bOut), "eps");
            expect(() -> BatchNorm.fold(w, null, v4, v4, v4, v4, 0, wOut, bOut), "var + eps", "channel 0");
            expect(() -> BatchNorm.fold(wNhwc, null, v4, v4, v4, ones, EPS, wOut, bOut), "w", "NCHW");
            expect(() -> BatchNorm.fold(w, null, v4, v4, v4, ones, EPS, v4, bOut), "wOut", "[4]");
            expect(() -> BatchNorm.fold(w, null, null, v4, v4, ones, EPS, wOut, bOut), "gamma", "null");
            Tensor wIn = shared.view(0, 4, 2, 3, 3);
            Tensor bIn = shared.view(70, 4);
            expect(() -> BatchNorm.fold(w, null, v4, v4, v4, ones, EPS, wIn, bIn), "wOut", "biasOut", "share");
            Tensor closed = Tensor.zeros(4);
            closed.close();
            assertThrows(IllegalStateException.class, () -> BatchNorm.fold(w, null, v4, v4, closed, ones, EPS, wOut, bOut));
        }
    }

    private static Tensor positive(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = 0.1f + r.nextFloat();
        }
        return Tensor.of(v, n);
    }

    /** (y - mean) * gamma / sqrt(var + eps) + beta per output channel, in double. */
    private static float[] batchNorm(Tensor y, float[] gamma, float[] beta, float[] mean, float[] var) {
        int[] s = y.shape();
        float[] a = y.toArray();
        int plane = s[2] * s[3];
        for (int i = 0; i < a.length; i++) {
            int o = (i / plane) % s[1];
            a[i] = (float) ((a[i] - (double) mean[o]) * gamma[o] / Math.sqrt(var[o] + EPS) + beta[o]);
        }
        return a;
    }

    private static void expect(Executable call, String... words) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "message '" + e.getMessage() + "' should mention '" + w + "'");
        }
    }
}
