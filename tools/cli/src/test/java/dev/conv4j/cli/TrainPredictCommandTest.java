package dev.conv4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code train} and {@code predict} from the command line, on the synthetic data set. */
class TrainPredictCommandTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();

    private int run(String... args) {
        out.reset();
        err.reset();
        return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private static String lastLine(String s) {
        String[] lines = s.trim().split("\n");
        return lines[lines.length - 1];
    }

    @Test
    void trainSavesAModelThatPredictReloads(@TempDir Path dir) {
        Path model = dir.resolve("model");
        assertEquals(0, run("train", "--data", "synthetic", "--epochs", "1", "--limit", "1500", "--save", model.toString()), out() + err);
        String trained = lastLine(out());
        Matcher m = Pattern.compile("test accuracy: (0\\.\\d{4}|1\\.0000) \\((\\d+) images\\)").matcher(trained);
        assertTrue(m.matches(), "train must end with the test accuracy: " + out());
        assertTrue(Double.parseDouble(m.group(1)) > 0.5, trained);
        assertEquals("1000", m.group(2));
        assertTrue(out().contains("epoch 1/1 [##"), "progress lines: " + out());
        assertTrue(out().contains("time per epoch: "), out());
        assertTrue(Files.exists(model.resolve("model.json")));

        assertEquals(0, run("predict", "--model", model.toString(), "--data", "synthetic", "--batch", "100"), out() + err);
        assertTrue(out().contains("accuracy: " + m.group(1) + " (1000 images)"), "the same model on the same images: " + out());
        assertTrue(lastLine(out()).matches("speed: \\d+ images/s \\(\\d+\\.\\d\\d s\\)"), out());
    }

    @Test
    void mistakesAreReportedNotThrown(@TempDir Path dir) {
        assertEquals(1, run("train", "--data", dir.resolve("nothing-here").toString(), "--epochs", "1"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("no such folder"), err.toString(StandardCharsets.UTF_8));
        assertEquals(1, run("train", "--data", dir.toString(), "--epochs", "1"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("train-images-idx3-ubyte"), err.toString(StandardCharsets.UTF_8));
        assertEquals(2, run("train", "--engine", "cuda"));
        assertEquals(2, run("train", "--lr", "-1"));
        assertEquals(2, run("predict", "--data", "synthetic"));
        assertEquals(1, run("predict", "--model", dir.toString(), "--data", "synthetic"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("no model.json"), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aResNetTrainsSavesLogsPredictsOnEveryPathAndPlots(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("resnet"), log = dir.resolve("run.csv"), png = dir.resolve("curve.png");
        assertEquals(0, run("train", "--model", "resnet", "--data", "synthetic", "--epochs", "2", "--limit", "512",
                "--save", model.toString(), "--log", log.toString()), out() + err);
        assertTrue(out().contains("ResNet-20 1x28x28"), out());
        assertTrue(out().contains("test accuracy after epoch 1:"), out());
        assertTrue(Files.readString(model.resolve("model.json")).contains("\"conv4j-resnet\""));
        java.util.List<String> rows = Files.readAllLines(log);
        assertEquals("epoch,seconds,train_loss,train_accuracy,test_accuracy,lr", rows.get(0));
        assertEquals(3, rows.size(), rows.toString());
        String trainedAccuracy = lastLine(out()).replaceAll("test accuracy: ([0-9.]+).*", "$1");
        for (String path : new String[] {"per-call", "plan", "blocked"}) {
            assertEquals(0, run("predict", "--model", model.toString(), "--data", "synthetic", "--path", path), out() + err);
            assertTrue(out().contains("accuracy: " + trainedAccuracy + " "), path + " must give the accuracy train printed ("
                    + trainedAccuracy + "): " + out());
        }
        Path logits = dir.resolve("logits.npy");
        assertEquals(0, run("predict", "--model", model.toString(), "--data", "synthetic", "--logits", logits.toString(),
                "--count", "7"), out() + err);
        try (dev.conv4j.Tensor t = dev.conv4j.io.Npy.read(logits)) {
            assertEquals(java.util.List.of(7, 10), java.util.Arrays.stream(t.shape()).boxed().toList());
        }
        assertEquals(2, run("predict", "--model", model.toString(), "--path", "gpu"));
        assertEquals(0, run("plot", "--runs", "conv4j=" + log, "--out", png.toString()), out() + err);
        assertTrue(javax.imageio.ImageIO.read(png.toFile()).getWidth() > 500);
        assertEquals(2, run("plot", "--runs", "nolabel", "--out", png.toString()));
        Files.delete(model.resolve("fc.weight.npy"));
        assertEquals(1, run("predict", "--model", model.toString(), "--data", "synthetic"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("fc.weight.npy"), err.toString(StandardCharsets.UTF_8));
        assertEquals(2, run("train", "--model", "vgg"));
    }
}
