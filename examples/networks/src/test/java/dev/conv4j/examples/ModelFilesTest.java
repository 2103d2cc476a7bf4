package dev.conv4j.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import dev.conv4j.io.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFilesTest {
    private static final LeNet.Architecture ARCH = LeNet.Architecture.fashionMnist();

    private static float[] images(int n) {
        Random r = new Random(11);
        float[] x = new float[n * 28 * 28];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    @Test
    void aSavedModelLoadsAndPredictsTheSame(@TempDir Path dir) throws IOException {
        float[] x = images(5);
        try (LeNet net = LeNet.create(ARCH, ConvEngines.fastest(), 0.25f, 0.5f, 1)) {
            net.predict(x, 5, new int[5]);
            float[] before = net.logits(5).clone();
            ModelFiles.save(net, dir, FashionMnist.CLASSES, Map.of("epochs", 0));
            try (LeNet back = ModelFiles.load(dir, ConvEngines.fastest())) {
                assertEquals(ARCH, back.architecture());
                assertEquals(0.25f, back.mean());
                assertEquals(0.5f, back.std());
                back.predict(x, 5, new int[5]);
                assertArrayEquals(before, back.logits(5), "the same weights on the same engine give the same logits");
            }
        }
        assertEquals(FashionMnist.CLASSES, ModelFiles.classNames(dir));
    }

    @Test
    void theFilesAreWhatNumpyAndPytorchExpect(@TempDir Path dir) throws IOException {
        try (LeNet net = LeNet.create(ARCH, ConvEngines.naive(), 0.286f, 0.353f, 1)) {
            ModelFiles.save(net, dir, FashionMnist.CLASSES, Map.of());
            Map<?, ?> doc = (Map<?, ?>) new ObjectMapper().readValue(Files.readString(dir.resolve("model.json")), Object.class);
            assertEquals("conv4j-lenet", doc.get("format"));
            assertEquals(0.286, ((Map<?, ?>) doc.get("normalize")).get("mean"));
            assertEquals(10, ((List<?>) doc.get("layers")).size());
            // nn.Conv2d and nn.Linear layouts: [out, in, kh, kw] and [out, in]
            Object[][] expected = {
                {"conv1.weight", new int[] {16, 1, 5, 5}}, {"conv1.bias", new int[] {16}},
                {"conv2.weight", new int[] {32, 16, 5, 5}}, {"conv2.bias", new int[] {32}},
                {"fc1.weight", new int[] {128, 800}}, {"fc1.bias", new int[] {128}},
                {"fc2.weight", new int[] {10, 128}}, {"fc2.bias", new int[] {10}},
            };
            for (Object[] e : expected) {
                try (Tensor t = Npy.read(dir.resolve(e[0] + ".npy"))) {
                    assertArrayEquals((int[]) e[1], t.shape(), (String) e[0]);
                }
            }
            assertArrayEquals(net.parameters().get(4).value, readAll(dir.resolve("fc1.weight.npy")));
        }
    }

    private static float[] readAll(Path p) throws IOException {
        try (Tensor t = Npy.read(p)) {
            return t.toArray();
        }
    }

    @Test
    void brokenModelFoldersAreRefusedWithTheReason(@TempDir Path dir) throws IOException {
        IOException e = assertThrows(IOException.class, () -> ModelFiles.load(dir, ConvEngines.naive()));
        assertTrue(e.getMessage().contains("no model.json"), e.getMessage());

        try (LeNet net = LeNet.create(ARCH, ConvEngines.naive(), 0f, 1f, 1)) {
            ModelFiles.save(net, dir, FashionMnist.CLASSES, Map.of());
        }
        try (Tensor wrong = Tensor.zeros(11)) {
            Npy.write(dir.resolve("fc2.bias.npy"), wrong);
        }
        e = assertThrows(IOException.class, () -> ModelFiles.load(dir, ConvEngines.naive()));
        assertTrue(e.getMessage().contains("fc2.bias") && e.getMessage().contains("[11]"), e.getMessage());

        Files.delete(dir.resolve("conv2.weight.npy"));
        e = assertThrows(IOException.class, () -> ModelFiles.load(dir, ConvEngines.naive()));
        assertTrue(e.getMessage().contains("conv2.weight.npy"), e.getMessage());

        Files.writeString(dir.resolve("model.json"), "{\"format\": \"something-else\"}");
        e = assertThrows(IOException.class, () -> ModelFiles.load(dir, ConvEngines.naive()));
        assertTrue(e.getMessage().contains("something-else"), e.getMessage());
    }
}
