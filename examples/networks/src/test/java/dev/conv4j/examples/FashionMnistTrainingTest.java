package dev.conv4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conv4j.ConvEngines;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A short training run on the real Fashion-MNIST (Debian's {@code dataset-fashion-mnist}, or the
 * folder in {@code -Dconv4j.fashionmnist=DIR}). Under CI ({@code CI=true}) a missing data set is a
 * failure; elsewhere the synthetic set stands in.
 */
class FashionMnistTrainingTest {
    private static final Path DIR = Path.of(System.getProperty("conv4j.fashionmnist", FashionMnist.DEBIAN_DIR.toString()));

    private static boolean underCi() {
        return "true".equalsIgnoreCase(System.getenv("CI"));
    }

    private static Dataset.Split data() throws IOException {
        if (FashionMnist.isPresent(DIR)) {
            return FashionMnist.load(DIR);
        }
        if (underCi()) {
            throw new AssertionError("CI=true but Fashion-MNIST is not in " + DIR
                    + ": apt-get install dataset-fashion-mnist (or -Dconv4j.fashionmnist=DIR)");
        }
        System.err.println("Fashion-MNIST not found in " + DIR + ": training on the synthetic set instead");
        return SyntheticImages.generate(4000, 1000, 7);
    }

    @Test
    void aFractionOfAnEpochLowersTheLossAndBeatsChanceByFar() throws IOException {
        Dataset.Split data = data();
        Dataset train = data.train().first(4000), test = data.test().first(1000);
        try (LeNet net = LeNet.create(LeNet.Architecture.fashionMnist(), ConvEngines.fastest(), FashionMnist.MEAN,
                FashionMnist.STD, 1)) {
            Trainer trainer = new Trainer(net, new Adam(net.parameters(), 1e-3f), 64, 1);
            List<Float> losses = new ArrayList<>();
            Trainer.EpochResult r = trainer.trainEpoch(train, 1, 1, p -> losses.add(p.batchLoss()));
            double first = mean(losses.subList(0, 10)), last = mean(losses.subList(losses.size() - 10, losses.size()));
            Trainer.Evaluation test1 = Trainer.evaluate(net, test, 256);
            System.out.printf("%s: %d images in %.1f s, loss of the first 10 batches %.3f, of the last 10 %.3f,"
                    + " accuracy on %d test images %.4f%n", data.description(), train.size(), r.seconds(), first, last,
                    test1.images(), test1.accuracy());
            assertTrue(last < 0.5 * first, "the loss must fall: first batches " + first + ", last batches " + last);
            assertTrue(test1.accuracy() > 0.5, "accuracy " + test1.accuracy() + " (chance is 0.1)");
        }
    }

    @Test
    void theDebianFilesHoldTheWholeDataSet() throws IOException {
        assumeTrue(FashionMnist.isPresent(DIR) || underCi(), "Fashion-MNIST is not installed");
        Dataset.Split data = data();
        assertEquals(60000, data.train().size());
        assertEquals(10000, data.test().size());
        assertEquals(28, data.train().height());
        assertEquals(28, data.train().width());
        int[] perClass = new int[10];
        for (int i = 0; i < data.train().size(); i++) {
            perClass[data.train().label(i)]++;
        }
        for (int c = 0; c < 10; c++) {
            assertEquals(6000, perClass[c], "Fashion-MNIST has 6000 training images of class " + c);
        }
    }

    private static double mean(List<Float> v) {
        return v.stream().mapToDouble(Float::doubleValue).average().orElseThrow();
    }
}
