package dev.conv4j.examples.resnet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.conv4j.ConvEngine;
import dev.conv4j.Tensor;
import dev.conv4j.examples.Parameter;
import dev.conv4j.io.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One training step of conv4j's ResNet (loss and every parameter's gradient, batch norms in training
 * mode) against PyTorch's autograd on the same weights and batch ({@code examples/pytorch/resnet_gradients.py}).
 */
class PyTorchAgreementTest {

    static java.util.stream.Stream<ConvEngine> engines() {
        return ResNetGradientTest.engines();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void gradientsAgreeWithAutograd(ConvEngine engine, @TempDir Path dir) throws IOException {
        PyTorch.assumeAvailable();
        int n = 5;
        float[] x = ResNetGradientTest.images(n, 3);
        int[] labels = {0, 2, 1, 1, 0};
        // seed 13 is one whose loss is too rough near the point for finite differences (ResNetGradientTest)
        try (ResNet net = ResNet.create(ResNetGradientTest.TINY, engine, 2, 0f, 1f, 13)) {
            Random r = new Random(5);
            for (Parameter p : net.parameters()) {
                if (p.name().contains("bn") || p.name().contains("downsample.1")) {
                    for (int i = 0; i < p.size(); i++) {
                        p.value[i] += (float) (0.3 * r.nextGaussian());
                    }
                }
            }
            net.parametersChanged();
            ResNetFiles.save(net, dir, List.of("a", "b", "c"), Map.of());
            float loss = net.trainBatch(x, labels, n).loss();
            Files.createDirectories(dir.resolve("grad"));
            for (Parameter p : net.parameters()) {
                write(dir.resolve("grad").resolve(p.name() + ".npy"), p.grad, p.shape());
            }
            write(dir.resolve("x.npy"), x, n, 1, 8, 8);
            float[] l = new float[n];
            for (int i = 0; i < n; i++) {
                l[i] = labels[i];
            }
            write(dir.resolve("labels.npy"), l, n);
            write(dir.resolve("loss.npy"), new float[] {loss}, 1);
        }
        PyTorch.Result res = PyTorch.run(List.of(PyTorch.script("resnet_gradients.py").toString(), dir.toString()), 300);
        System.out.println(res.output());
        assertEquals(0, res.exit(), res.output());
    }

    private static void write(Path file, float[] values, int... shape) throws IOException {
        try (Tensor t = Tensor.of(values, shape)) {
            Npy.write(file, t);
        }
    }
}
