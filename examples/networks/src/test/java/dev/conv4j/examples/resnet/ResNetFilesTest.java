package dev.conv4j.examples.resnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import dev.conv4j.examples.ModelFiles;
import dev.conv4j.examples.Models;
import dev.conv4j.examples.Network;
import dev.conv4j.io.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A saved ResNet folder: what it holds, that it loads back to the same network, and what is refused. */
class ResNetFilesTest {
    private static final List<String> CLASSES = List.of("a", "b", "c");

    private static Path saved(Path dir) throws IOException {
        try (ResNet net = FoldedResNetTest.trainedLooking(ConvEngines.java(1), 3)) {
            ResNetFiles.save(net, dir, CLASSES, Map.of("epochs", 1));
        }
        return dir;
    }

    @Test
    void aSavedNetworkLoadsBackToTheSameLogits(@TempDir Path dir) throws IOException {
        float[] x = ResNetGradientTest.images(3, 8);
        float[] want;
        try (ResNet net = FoldedResNetTest.trainedLooking(ConvEngines.java(1), 3)) {
            want = net.logits(x, 3).clone();
            ResNetFiles.save(net, dir, CLASSES, Map.of("epochs", 1));
        }
        assertTrue(Files.isRegularFile(dir.resolve("layer2.0.downsample.1.running_var.npy")));
        assertTrue(Files.isRegularFile(dir.resolve("layer1.1.conv2.weight.npy")));
        try (Tensor t = Npy.read(dir.resolve("layer2.0.downsample.0.weight.npy"))) {
            assertArrayEquals(new int[] {4, 3, 1, 1}, t.shape());
        }
        Map<String, Object> doc = ModelFiles.readDescription(dir);
        assertEquals("conv4j-resnet", doc.get("format"));
        assertEquals(CLASSES, doc.get("classes"));
        try (Network net = Models.load(dir, ConvEngines.java(1), 1)) {
            assertTrue(net instanceof ResNet);
            assertArrayEquals(want, ((ResNet) net).logits(x, 3));
            assertEquals(CLASSES, ModelFiles.classNames(dir));
        }
    }

    @Test
    void anIncompleteFolderIsRefusedNamingTheMissingFile(@TempDir Path dir) throws IOException {
        saved(dir);
        Files.delete(dir.resolve("layer1.0.bn2.running_mean.npy"));
        IOException e = assertThrows(IOException.class, () -> Models.load(dir, ConvEngines.java(1), 1));
        assertTrue(e.getMessage().contains("layer1.0.bn2.running_mean.npy"), e.getMessage());
    }

    @Test
    void aWeightOfTheWrongShapeIsRefused(@TempDir Path dir) throws IOException {
        saved(dir);
        try (Tensor t = Tensor.zeros(4, 3, 3, 3)) {
            Npy.write(dir.resolve("layer2.0.downsample.0.weight.npy"), t);
        }
        IOException e = assertThrows(IOException.class, () -> Models.load(dir, ConvEngines.java(1), 1));
        assertTrue(e.getMessage().contains("[4, 3, 3, 3]") && e.getMessage().contains("[4, 3, 1, 1]"), e.getMessage());
    }

    @Test
    void anInconsistentDescriptionIsRefused(@TempDir Path dir) throws IOException {
        saved(dir);
        Path json = dir.resolve("model.json");
        String good = Files.readString(json);
        Files.writeString(json, good.replace("\"c\"", "\"c\", \"d\""));
        IOException e = assertThrows(IOException.class, () -> Models.load(dir, ConvEngines.java(1), 1));
        assertTrue(e.getMessage().contains("classes"), e.getMessage());
        Files.writeString(json, good.replace("\"widths\" : [ 3, 4 ]", "\"widths\" : [ 3, 5 ]"));
        e = assertThrows(IOException.class, () -> Models.load(dir, ConvEngines.java(1), 1));
        assertTrue(e.getMessage().contains("does not match"), e.getMessage());
        Files.writeString(json, good.replace("conv4j-resnet", "conv4j-vgg"));
        e = assertThrows(IOException.class, () -> Models.load(dir, ConvEngines.java(1), 1));
        assertTrue(e.getMessage().contains("conv4j-vgg"), e.getMessage());
        Files.writeString(json, good.replace("\"blocks\" : 2", "\"blocks\" : -2"));
        e = assertThrows(IOException.class, () -> Models.load(dir, ConvEngines.java(1), 1));
        assertTrue(e.getMessage().contains("blocks"), e.getMessage());
        Files.delete(json);
        e = assertThrows(IOException.class, () -> Models.load(dir, ConvEngines.java(1), 1));
        assertTrue(e.getMessage().contains("model.json"), e.getMessage());
    }
}
