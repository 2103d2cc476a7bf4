package dev.conv4j.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Labelled grey images held as bytes (a quarter of the memory of floats; Fashion-MNIST's 70,000
 * images take 55 MB), converted to normalized floats one batch at a time.
 */
public final class Dataset {
    /** A training set and a test set of the same image size and classes. */
    public record Split(Dataset train, Dataset test, String description) {
    }

    private final byte[] pixels;
    private final byte[] labels;
    private final int count, height, width, classes;
    private final List<String> classNames;

    /**
     * @param pixels     {@code count * height * width} grey values, image after image, row-major
     * @param labels     {@code count} class indices in {@code [0, classNames.size())}
     * @param classNames the name of each class
     */
    public Dataset(byte[] pixels, byte[] labels, int height, int width, List<String> classNames) {
        this.count = labels.length;
        this.height = height;
        this.width = width;
        this.classes = classNames.size();
        this.classNames = List.copyOf(classNames);
        if ((long) count * height * width != pixels.length) {
            throw new IllegalArgumentException(pixels.length + " pixels do not make " + count + " images of "
                    + height + "x" + width);
        }
        for (int i = 0; i < count; i++) {
            if ((labels[i] & 0xff) >= classes) {
                throw new IllegalArgumentException("label " + (labels[i] & 0xff) + " of image " + i
                        + " is not below the number of classes, " + classes);
            }
        }
        this.pixels = pixels;
        this.labels = labels;
    }

    /**
     * Reads {@code <prefix>-images-idx3-ubyte} and {@code <prefix>-labels-idx1-ubyte} from a folder,
     * each optionally gzip-compressed ({@code .gz}); {@code .idx3-ubyte} names are accepted too.
     *
     * @param prefix {@code train} or {@code t10k} for (Fashion-)MNIST
     */
    public static Dataset readIdx(Path dir, String prefix, List<String> classNames) throws IOException {
        Path imageFile = find(dir, prefix + "-images", "idx3-ubyte");
        Path labelFile = find(dir, prefix + "-labels", "idx1-ubyte");
        Idx.Array images = Idx.read(imageFile), labels = Idx.read(labelFile);
        if (images.dims.length != 3) {
            throw new IOException(imageFile + ": expected images (count, rows, columns) but the dimensions are "
                    + Arrays.toString(images.dims));
        }
        if (labels.dims.length != 1 || labels.dims[0] != images.dims[0]) {
            throw new IOException(labelFile + ": expected " + images.dims[0] + " labels for " + imageFile.getFileName()
                    + " but the dimensions are " + Arrays.toString(labels.dims));
        }
        return new Dataset(images.data, labels.data, images.dims[1], images.dims[2], classNames);
    }

    /** True when {@code dir} holds both IDX files of {@code prefix} under one of the accepted names. */
    public static boolean hasIdx(Path dir, String prefix) {
        try {
            find(dir, prefix + "-images", "idx3-ubyte");
            find(dir, prefix + "-labels", "idx1-ubyte");
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static Path find(Path dir, String stem, String type) throws IOException {
        String[] names = {stem + "-" + type, stem + "-" + type + ".gz", stem + "." + type, stem + "." + type + ".gz"};
        for (String n : names) {
            Path p = dir.resolve(n);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new IOException("no " + names[0] + " (or " + names[1] + ") in " + dir);
    }

    /** The first {@code n} images (all of them when there are fewer). */
    public Dataset first(int n) {
        int m = Math.min(n, count);
        return new Dataset(Arrays.copyOf(pixels, m * height * width), Arrays.copyOf(labels, m), height, width, classNames);
    }

    /** The number of images. */
    public int size() {
        return count;
    }

    /** Rows of every image. */
    public int height() {
        return height;
    }

    /** Columns of every image. */
    public int width() {
        return width;
    }

    /** The number of classes. */
    public int classes() {
        return classes;
    }

    /** The name of each class, by label. */
    public List<String> classNames() {
        return classNames;
    }

    /** The class of image {@code i}. */
    public int label(int i) {
        return labels[i] & 0xff;
    }

    /**
     * Copies images {@code order[from .. from+n)} into {@code images} as {@code (v/255 - mean) / std}
     * and their classes into {@code classes}.
     */
    public void batch(int[] order, int from, int n, float mean, float std, float[] images, int[] classes) {
        batch(order, from, n, mean, std, null, images, classes);
    }

    /**
     * As {@link #batch(int[], int, int, float, float, float[], int[])}, each image transformed by
     * {@code augmentation} first (unless it is null).
     */
    public void batch(int[] order, int from, int n, float mean, float std, Augmentation augmentation, float[] images,
                      int[] classes) {
        int plane = height * width;
        float scale = 1f / (255f * std), shift = -mean / std;
        for (int b = 0; b < n; b++) {
            int img = order[from + b];
            int src = img * plane, dst = b * plane;
            if (augmentation != null) {
                augmentation.apply(pixels, src, height, width, scale, shift, images, dst);
            } else {
                for (int i = 0; i < plane; i++) {
                    images[dst + i] = (pixels[src + i] & 0xff) * scale + shift;
                }
            }
            classes[b] = labels[img] & 0xff;
        }
    }
}
