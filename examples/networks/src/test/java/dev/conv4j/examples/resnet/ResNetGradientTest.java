package dev.conv4j.examples.resnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.examples.Parameter;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The whole network's backward pass (convolutions on each engine, batch norms in training mode,
 * residual adds, projections, pooling, dense layer, loss) against central finite differences of
 * its loss, on a network small enough to check many of its parameters. A difference quotient is
 * only as good as the loss is smooth around the point, and some seeds put a ReLU input within a
 * step of zero; {@code PyTorchAgreementTest} compares every gradient with PyTorch's autograd exactly.
 */
class ResNetGradientTest {
    static final ResNet.Architecture TINY = new ResNet.Architecture(1, 8, 8, List.of(3, 4), 2, 3);

    static Stream<ConvEngine> engines() {
        return ConvEngines.isNativeAvailable()
                ? Stream.of(ConvEngines.naive(), ConvEngines.java(1), ConvEngines.blas(1), ConvEngines.blas(2))
                : Stream.of(ConvEngines.naive(), ConvEngines.java(1), ConvEngines.java(2));
    }

    static float[] images(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * TINY.channels() * TINY.height() * TINY.width()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void gradientsMatchFiniteDifferences(ConvEngine engine) {
        int n = 5;
        float[] x = images(n, 3);
        int[] labels = {0, 2, 1, 1, 0};
        try (ResNet net = ResNet.create(TINY, engine, 2, 0f, 1f, 11)) {
            // non-trivial batch norm scales and shifts, so their gradients are tested where they matter
            Random r = new Random(5);
            for (Parameter p : net.parameters()) {
                if (p.name().contains("bn") || p.name().contains("downsample.1")) {
                    for (int i = 0; i < p.size(); i++) {
                        p.value[i] += (float) (0.3 * r.nextGaussian());
                    }
                }
            }
            net.parametersChanged();
            net.trainBatch(x, labels, n);
            int checked = 0;
            for (Parameter p : net.parameters()) {
                float[] analytic = p.grad.clone();
                for (int k = 0; k < Math.min(p.size(), 6); k++) {
                    int i = (int) ((long) k * 7919 % p.size());
                    float keep = p.value[i];
                    // small steps: a larger one moves some of the thousands of ReLU inputs across zero, and
                    // the difference quotient then no longer measures the slope at the point
                    double h = 1e-4;
                    p.value[i] = (float) (keep + h);
                    net.parametersChanged();
                    double up = net.trainBatch(x, labels, n).loss();
                    p.value[i] = (float) (keep - h);
                    net.parametersChanged();
                    double down = net.trainBatch(x, labels, n).loss();
                    p.value[i] = keep;
                    net.parametersChanged();
                    double numeric = (up - down) / (2 * h);
                    double tol = 2e-3 + 0.05 * Math.abs(numeric);
                    assertEquals(numeric, analytic[i], tol, p + "[" + i + "] on " + engine.name());
                    checked++;
                }
            }
            assertTrue(checked > 60, "checked " + checked);
        }
    }
}
