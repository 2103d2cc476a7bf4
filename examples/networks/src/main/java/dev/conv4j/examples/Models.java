package dev.conv4j.examples;

import dev.conv4j.ConvEngine;
import dev.conv4j.examples.resnet.ResNetFiles;
import java.io.IOException;
import java.nio.file.Path;

/** Opens a saved model folder of any of the example networks, by the format its model.json names. */
public final class Models {
    private Models() {
    }

    /**
     * The network saved in {@code dir}, its convolutions on {@code engine} and its other layers on
     * {@code threads} threads where it has such.
     */
    public static Network load(Path dir, ConvEngine engine, int threads) throws IOException {
        Object format = ModelFiles.readDescription(dir).get("format");
        if (ResNetFiles.FORMAT.equals(format)) {
            return ResNetFiles.load(dir, engine, threads);
        }
        if ("conv4j-lenet".equals(format)) {
            return ModelFiles.load(dir, engine);
        }
        throw new IOException(dir.resolve(ModelFiles.DESCRIPTION) + ": format is " + format + "; known are "
                + ResNetFiles.FORMAT + " and conv4j-lenet");
    }
}
