package dev.conv4j.examples.resnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.conv4j.ConvEngine;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Inference with folded batch norms, on every path, against the network's own unfolded inference. */
class FoldedResNetTest {

    static java.util.stream.Stream<ConvEngine> engines() {
        return ResNetGradientTest.engines();
    }

    /** A network with random running averages and affine parameters, as training leaves them. */
    static ResNet trainedLooking(ConvEngine engine, long seed) {
        ResNet net = ResNet.create(ResNetGradientTest.TINY, engine, 2, 0.2f, 0.5f, seed);
        Random r = new Random(seed + 1);
        for (Map.Entry<String, float[]> e : net.state().entrySet()) {
            float[] v = e.getValue();
            for (int i = 0; i < v.length; i++) {
                if (e.getKey().endsWith("running_var")) {
                    v[i] = (float) (0.2 + r.nextDouble());
                } else if (e.getKey().endsWith("running_mean") || e.getKey().contains("bn")
                        || e.getKey().contains("downsample.1") || e.getKey().startsWith("fc")) {
                    v[i] = (float) (0.5 * r.nextGaussian() + (e.getKey().endsWith(".weight") ? 1 : 0));
                }
            }
        }
        net.parametersChanged();
        return net;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void everyPathGivesTheUnfoldedLogits(ConvEngine engine) {
        float[] x = ResNetGradientTest.images(6, 9);
        try (ResNet net = trainedLooking(engine, 4)) {
            float[] want = net.logits(x, 6).clone();
            for (FoldedResNet.Path path : FoldedResNet.Path.values()) {
                try (FoldedResNet f = new FoldedResNet(net, engine, path)) {
                    float[] got = f.logits(x, 6);
                    for (int i = 0; i < want.length; i++) {
                        assertEquals(want[i], got[i], 1e-4 + 1e-4 * Math.abs(want[i]), path + " logit " + i);
                    }
                    // a second batch size, then the first again: each has its own tensors
                    float[] one = f.logits(java.util.Arrays.copyOf(x, 64), 1).clone();
                    assertArrayEquals(java.util.Arrays.copyOf(got, 3), one, 1e-5f, path + ", batch of one");
                    assertArrayEquals(got, f.logits(x, 6), path + ", again");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void theFoldedCopyDoesNotFollowLaterTraining(ConvEngine engine) {
        float[] x = ResNetGradientTest.images(2, 1);
        try (ResNet net = trainedLooking(engine, 2); FoldedResNet f = new FoldedResNet(net, engine, FoldedResNet.Path.PLAN)) {
            float[] before = f.logits(x, 2).clone();
            net.state().get("fc.bias")[0] += 5f;
            net.parametersChanged();
            assertArrayEquals(before, f.logits(x, 2));
            assertThrows(IllegalArgumentException.class, () -> f.logits(x, 0));
        }
    }
}
