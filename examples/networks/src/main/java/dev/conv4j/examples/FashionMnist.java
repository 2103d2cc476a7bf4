package dev.conv4j.examples;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Fashion-MNIST: 60,000 training and 10,000 test images of 28x28 grey pixels in 10 classes of
 * clothing, in the IDX format of MNIST. Debian's {@code dataset-fashion-mnist} package installs the
 * gzip-compressed files in {@link #DEBIAN_DIR}.
 */
public final class FashionMnist {
    /** Where {@code apt-get install dataset-fashion-mnist} puts the files. */
    public static final Path DEBIAN_DIR = Path.of("/usr/share/datasets/fashion-mnist");

    /** The ten classes, by label. */
    public static final List<String> CLASSES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    /** Mean and standard deviation of the training pixels scaled to [0, 1]. */
    public static final float MEAN = 0.2860f, STD = 0.3530f;

    private FashionMnist() {
    }

    /** True when {@code dir} holds the four IDX files. */
    public static boolean isPresent(Path dir) {
        return Dataset.hasIdx(dir, "train") && Dataset.hasIdx(dir, "t10k");
    }

    /** Reads the training set ({@code train-*}) and the test set ({@code t10k-*}) from a folder. */
    public static Dataset.Split load(Path dir) throws IOException {
        Dataset train = Dataset.readIdx(dir, "train", CLASSES);
        Dataset test = Dataset.readIdx(dir, "t10k", CLASSES);
        return new Dataset.Split(train, test, "Fashion-MNIST from " + dir);
    }

    /** Reads only the test set ({@code t10k-*}) from a folder. */
    public static Dataset loadTest(Path dir) throws IOException {
        return Dataset.readIdx(dir, "t10k", CLASSES);
    }
}
