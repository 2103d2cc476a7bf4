package dev.conv4j.examples.resnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import dev.conv4j.examples.Augmentation;
import dev.conv4j.examples.Dataset;
import dev.conv4j.examples.FashionMnist;
import dev.conv4j.examples.Schedule;
import dev.conv4j.examples.Sgd;
import dev.conv4j.examples.SyntheticImages;
import dev.conv4j.examples.Trainer;
import dev.conv4j.io.Npy;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ResNet-20 trained briefly on a slice of the real Fashion-MNIST (Debian's
 * {@code dataset-fashion-mnist}, or {@code -Dconv4j.fashionmnist=DIR}; required under CI) with the
 * recipe of {@code train --model resnet} (with a lower peak rate: a few dozen steps at 0.2 leave the
 * batch norms' running averages behind a fast-moving network), saved, and its forward pass on the
 * saved weights compared with PyTorch's ({@code resnet_fashion.py --check}).
 */
class ResNetTrainingTest {
    private static final Path DIR = Path.of(System.getProperty("conv4j.fashionmnist", FashionMnist.DEBIAN_DIR.toString()));

    private static Dataset.Split data() throws IOException {
        if (FashionMnist.isPresent(DIR)) {
            return FashionMnist.load(DIR);
        }
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError("CI=true but Fashion-MNIST is not in " + DIR + ": apt-get install dataset-fashion-mnist");
        }
        return SyntheticImages.generate(4096, 1000, 7);
    }

    @Test
    void aShortRunLearnsAndPyTorchComputesTheSameLogitsFromTheSavedModel(@TempDir Path dir) throws IOException {
        Dataset.Split data = data();
        Dataset train = data.train().first(4096), test = data.test().first(1000);
        try (ResNet net = ResNet.create(ResNet.Architecture.resnet20(), ConvEngines.fastest(), 2, FashionMnist.MEAN,
                FashionMnist.STD, 1)) {
            Sgd sgd = new Sgd(net.parameters(), 0.05f, 0.9f, 5e-4f);
            Trainer trainer = new Trainer(net, sgd, 128, 1);
            trainer.schedule(Schedule.oneCycle(0.05, trainer.stepsFor(1, train.size()), 0.25, 25, 1e4))
                    .augment(new Augmentation(2, true, 2));
            List<Float> losses = new ArrayList<>();
            Trainer.EpochResult r = trainer.trainEpoch(train, 1, 1, p -> losses.add(p.batchLoss()));
            double first = mean(losses.subList(0, 4)), last = mean(losses.subList(losses.size() - 4, losses.size()));
            Trainer.Evaluation eval = Trainer.evaluate(net, test, 250);
            System.out.printf("%s: %d images in %.1f s, loss of the first 4 batches %.3f, of the last 4 %.3f,"
                    + " accuracy on %d test images %.4f%n", data.description(), train.size(), r.seconds(), first, last,
                    eval.images(), eval.accuracy());
            assertTrue(last < 0.7 * first, "the loss must fall: first batches " + first + ", last " + last);
            assertTrue(eval.accuracy() > 0.5, "accuracy " + eval.accuracy() + " (chance is 0.1)");

            ResNetFiles.save(net, dir, train.classNames(), Map.of("test", true));
            int n = 256;
            float[] images = new float[n * 28 * 28];
            int[] order = new int[n], labels = new int[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            data.test().batch(order, 0, n, net.mean(), net.std(), images, labels);
            float[] unfolded = net.logits(images, n).clone();
            try (FoldedResNet folded = new FoldedResNet(net, ConvEngines.fastest(), FoldedResNet.Path.BLOCKED)) {
                float[] logits = folded.logits(images, n);
                for (int i = 0; i < logits.length; i++) {
                    assertEquals(unfolded[i], logits[i], 1e-3 * (1 + Math.abs(unfolded[i])), "logit " + i);
                }
                try (Tensor t = Tensor.of(logits, n, 10)) {
                    Npy.write(dir.resolve("logits.npy"), t);
                }
            }
        }
        PyTorch.assumeAvailable();
        PyTorch.Result res = PyTorch.run(List.of(PyTorch.script("resnet_fashion.py").toString(), "--check",
                dir.toString(), "--logits", dir.resolve("logits.npy").toString(), "--data", dataFolder()), 600);
        System.out.println(res.output());
        assertEquals(0, res.exit(), res.output());
    }

    private static String dataFolder() {
        return DIR.toString();
    }

    private static double mean(List<Float> v) {
        return v.stream().mapToDouble(Float::doubleValue).average().orElseThrow();
    }
}
