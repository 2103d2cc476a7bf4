package dev.conv4j.examples;

/**
 * What evaluation and the {@code predict} command need of a classifier of grey images: its input
 * size and normalization, and a prediction.
 */
public interface Classifier extends AutoCloseable {

    /** Channels of an input image. */
    int channels();

    /** Rows of an input image. */
    int height();

    /** Columns of an input image. */
    int width();

    /** The number of classes the network scores. */
    int classes();

    /** The mean subtracted from pixels scaled to [0, 1]. */
    float mean();

    /** The standard deviation the centred pixels are divided by. */
    float std();

    /** Classifies {@code n} normalized images (N×C×H×W) into {@code predicted}. */
    void predict(float[] images, int n, int[] predicted);

    /** A one-line description: the layers and the number of parameters. */
    String describe();

    /** Releases the off-heap memory. */
    @Override
    void close();
}
