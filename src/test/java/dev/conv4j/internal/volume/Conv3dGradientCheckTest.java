package dev.conv4j.internal.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams.AutoPad;
import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The naive 3-D backward passes against central finite differences of {@code L = sum(y · gy)} (summed
 * in double), on small layers with stride, asymmetric padding, dilation, groups, a depthwise layer with a
 * channel multiplier and automatic padding; and every engine against the adjoint identities
 * {@code <conv(x, w), g> = <x, dX(g, w)> = <w, dW(x, g)>}.
 */
class Conv3dGradientCheckTest {
    private static final Conv3dParams[] PARAMS = {
        Conv3dParams.builder().stride(2, 1, 2).padding(1, 0, 0, 2, 1, 1).dilation(1, 2, 1).groups(2).build(),
        Conv3dParams.builder().stride(1, 2, 1).padding(1).groups(3).build(),
        Conv3dParams.builder().stride(2, 2, 1).dilation(1, 1, 2).autoPad(AutoPad.SAME_LOWER).build(),
    };
    private static final int[][][] SHAPES = {
        {{2, 4, 5, 6, 5}, {4, 2, 2, 2, 3}},
        {{1, 3, 4, 5, 4}, {6, 1, 3, 3, 2}},
        {{1, 2, 5, 4, 6}, {3, 2, 2, 3, 2}},
    };

    @Test
    void naiveGradientsMatchFiniteDifferences() {
        ConvEngine naive = ConvEngines.naive();
        for (int k = 0; k < PARAMS.length; k++) {
            Conv3dParams p = PARAMS[k];
            int[] xs = SHAPES[k][0], ws = SHAPES[k][1];
            Conv3dGeometry g = Conv3dGeometry.of(p, xs, ws);
            Random r = new Random(k);
            float[] x = TestData.uniform(r, size(xs), 1), w = TestData.uniform(r, size(ws), 1);
            float[] b = TestData.uniform(r, g.o, 1), gy = TestData.uniform(r, size(g.outputShape()), 1);
            float[] gx, gw, gb;
            try (Tensor tx = Tensor.of(x, xs); Tensor tw = Tensor.of(w, ws); Tensor tgy = Tensor.of(gy, g.outputShape());
                 Tensor tgx = Tensor.zeros(xs); Tensor tgw = Tensor.zeros(ws); Tensor tgb = Tensor.zeros(g.o)) {
                naive.backwardData(p, tgy, tw, tgx, false);
                naive.backwardWeights(p, tx, tgy, tgw, tgb, false);
                gx = tgx.toArray();
                gw = tgw.toArray();
                gb = tgb.toArray();
            }
            float eps = 1e-2f;
            for (int i = 0; i < x.length; i++) {
                float[] xp = x.clone(), xm = x.clone();
                xp[i] += eps;
                xm[i] -= eps;
                double fd = (loss(naive, p, xp, xs, w, ws, b, gy) - loss(naive, p, xm, xs, w, ws, b, gy)) / (2 * eps);
                assertEquals(fd, gx[i], 1e-3 * (1 + Math.abs(fd)), "gx[" + i + "] case " + k);
            }
            for (int i = 0; i < w.length; i++) {
                float[] wp = w.clone(), wm = w.clone();
                wp[i] += eps;
                wm[i] -= eps;
                double fd = (loss(naive, p, x, xs, wp, ws, b, gy) - loss(naive, p, x, xs, wm, ws, b, gy)) / (2 * eps);
                assertEquals(fd, gw[i], 1e-3 * (1 + Math.abs(fd)), "gw[" + i + "] case " + k);
            }
            for (int i = 0; i < b.length; i++) {
                float[] bp = b.clone(), bm = b.clone();
                bp[i] += eps;
                bm[i] -= eps;
                double fd = (loss(naive, p, x, xs, w, ws, bp, gy) - loss(naive, p, x, xs, w, ws, bm, gy)) / (2 * eps);
                assertEquals(fd, gb[i], 1e-3 * (1 + Math.abs(fd)), "gb[" + i + "] case " + k);
            }
        }
    }

    static Stream<ConvEngine> engines() {
        return Engines.allStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void backwardPassesAreAdjointsOfForward(ConvEngine engine) {
        for (Conv3dCases.Case c : Conv3dCases.generate(11, 40)) {
            Conv3dGeometry g = c.geometry();
            Random r = new Random(c.seed);
            try (Tensor x = TestData.random(r, 1, c.x); Tensor w = TestData.random(r, 1, c.w);
                 Tensor gy = TestData.random(r, 1, g.outputShape());
                 Tensor y = engine.forward(c.params, x, w, null);
                 Tensor gx = Tensor.zeros(c.x); Tensor gw = Tensor.zeros(c.w)) {
                engine.backwardData(c.params, gy, w, gx, false);
                engine.backwardWeights(c.params, x, gy, gw, null, false);
                double yg = dot(y.toArray(), gy.toArray()), xgx = dot(x.toArray(), gx.toArray()), wgw = dot(w.toArray(), gw.toArray());
                double scale = 1 + Math.abs(yg);
                assertTrue(Math.abs(yg - xgx) <= 1e-4 * scale, "<y,g> " + yg + " vs <x,gx> " + xgx + " for " + c);
                assertTrue(Math.abs(yg - wgw) <= 1e-4 * scale, "<y,g> " + yg + " vs <w,gw> " + wgw + " for " + c);
            }
        }
    }

    private static double loss(ConvEngine e, Conv3dParams p, float[] x, int[] xs, float[] w, int[] ws, float[] b, float[] gy) {
        try (Tensor tx = Tensor.of(x, xs); Tensor tw = Tensor.of(w, ws); Tensor tb = Tensor.of(b, b.length);
             Tensor y = e.forward(p, tx, tw, tb)) {
            return dot(y.toArray(), gy);
        }
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }

    private static int size(int[] s) {
        int n = 1;
        for (int d : s) {
            n *= d;
        }
        return n;
    }
}
