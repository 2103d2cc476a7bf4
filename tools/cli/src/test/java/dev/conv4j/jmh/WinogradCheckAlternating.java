package dev.conv4j.jmh;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * What AUTO's check for non-finite values costs where it picks Winograd F(4x4): the same layer with
 * {@code AUTO} (weights and input rows scanned, tiles recomputed only where needed) and with an explicit
 * {@code WINOGRAD_4X4} (raw values, no scan), forward and input gradient, blas engine, one thread.
 * The two alternate in one JVM, 20 calls each, 30 rounds, and the median ratio of each round's speeds
 * is printed: a difference of a percent or two, which runs one after another (JMH) cannot resolve on a
 * machine whose speed drifts. ResNet-50's res2 (64 channels, 56x56) and res3 (128, 28x28) 3x3 layers.
 *
 * <pre>
 * mvn -q -B package -DskipTests &amp;&amp; mvn -q -B test-compile
 * java -cp target/test-classes:target/conv4j-cli.jar dev.conv4j.jmh.WinogradCheckAlternating
 * </pre>
 */
public final class WinogradCheckAlternating {
    private WinogradCheckAlternating() {
    }

    public static void main(String[] args) {
        ConvEngine e = ConvEngines.blas(1);
        Conv2dParams auto = Conv2dParams.builder().padding(1).build();
        Conv2dParams raw = Conv2dParams.builder().padding(1).algorithm(ConvAlgorithm.WINOGRAD_4X4).build();
        for (int[] l : new int[][] {{64, 56}, {128, 28}}) {
            int c = l[0], hw = l[1];
            Random r = new Random(1);
            float[] xs = new float[c * hw * hw], ws = new float[c * c * 9];
            for (int i = 0; i < xs.length; i++) {
                xs[i] = r.nextFloat();
            }
            for (int i = 0; i < ws.length; i++) {
                ws[i] = r.nextFloat() - 0.5f;
            }
            try (Tensor x = Tensor.of(xs, 1, c, hw, hw); Tensor w = Tensor.of(ws, c, c, 3, 3);
                 Tensor y = Tensor.zeros(1, c, hw, hw); Tensor gx = Tensor.zeros(1, c, hw, hw)) {
                double flop = 2.0 * c * c * 9 * hw * hw;
                List<Double> fwd = new ArrayList<>(), bwd = new ArrayList<>();
                double[] g = new double[4];
                for (int round = 0; round < 33; round++) {
                    for (int k = 0; k < 4; k++) {
                        Conv2dParams p = k % 2 == 0 ? auto : raw;
                        long t0 = System.nanoTime();
                        for (int i = 0; i < 20; i++) {
                            if (k < 2) {
                                e.forward(p, x, w, null, y);
                            } else {
                                e.backwardData(p, y, w, gx);
                            }
                        }
                        g[k] = flop * 20 / (System.nanoTime() - t0);
                    }
                    if (round >= 3) { // the first rounds warm up
                        fwd.add(g[0] / g[1]);
                        bwd.add(g[2] / g[3]);
                    }
                }
                System.out.printf("C=%d, %dx%d: AUTO / WINOGRAD_4X4 speed, median of 30 rounds: forward %.3f, input gradient %.3f"
                        + " (last round %.1f / %.1f GFLOP/s forward)%n", c, hw, hw, median(fwd), median(bwd), g[0], g[1]);
            }
        }
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }
}
