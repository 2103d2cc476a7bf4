package dev.conv4j.cli;

import dev.conv4j.ConvEngine;
import dev.conv4j.Tensor;
import dev.conv4j.examples.Classifier;
import dev.conv4j.examples.Dataset;
import dev.conv4j.examples.FashionMnist;
import dev.conv4j.examples.Models;
import dev.conv4j.examples.Network;
import dev.conv4j.examples.Trainer;
import dev.conv4j.examples.resnet.FoldedResNet;
import dev.conv4j.examples.resnet.ResNet;
import dev.conv4j.io.Npy;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * {@code predict}: batched inference with a model saved by {@code train --save} (or by the PyTorch
 * script's {@code --save}). A ResNet runs with its batch norms folded into the convolutions, on the
 * path {@code --path} names.
 */
final class PredictCommand {
    private PredictCommand() {
    }

    static int run(Options o, PrintStream out, PrintStream err) {
        o.allow("model", "data", "engine", "threads", "batch", "path", "logits", "count");
        Path modelDir = Path.of(o.require("model"));
        int batch = o.getInt("batch", 256);
        String pathName = o.get("path", FoldedResNet.Path.BLOCKED.label());
        FoldedResNet.Path path;
        try {
            path = FoldedResNet.Path.of(pathName);
        } catch (IllegalArgumentException e) {
            throw new Options.UsageException("--path: " + e.getMessage());
        }
        Path logitsFile = o.has("logits") ? Path.of(o.require("logits")) : null;
        ConvEngine engine = TrainCommand.engine(o);
        int threads = TrainCommand.threads(o);
        try (Network net = Models.load(modelDir, engine, threads);
             Classifier c = net instanceof ResNet ? new FoldedResNet((ResNet) net, engine, path) : null) {
            Classifier model = c != null ? c : net;
            out.println(String.format(Locale.ROOT, "model: %s: %s; engine %s, %d threads, batch %d", modelDir,
                    model.describe(), engine.name(), threads, batch));
            Path dir = TrainCommand.dataFolder(o, out);
            Dataset test = dir == null ? TrainCommand.synthetic().test() : FashionMnist.loadTest(dir);
            out.println("data: " + (dir == null ? "synthetic" : dir.toString()) + ": " + test.size() + " test images");
            if (logitsFile != null) {
                writeLogits(model, net, test, o.getInt("count", Math.min(256, test.size())), logitsFile);
                out.println("logits written to " + logitsFile);
            }
            // a first pass warms up the JIT and allocates the batch buffers; the second is timed
            Trainer.evaluate(model, test.first(Math.min(test.size(), 4 * batch)), batch);
            Trainer.Evaluation r = Trainer.evaluate(model, test, batch);
            out.println(String.format(Locale.ROOT, "accuracy: %.4f (%d images)", r.accuracy(), r.images()));
            out.println(String.format(Locale.ROOT, "speed: %.0f images/s (%.2f s)", r.imagesPerSecond(), r.seconds()));
            return 0;
        } catch (IOException | IllegalArgumentException e) {
            err.println("predict: " + e.getMessage());
            return 1;
        }
    }

    /** The logits of the first {@code count} test images as a float32 count x classes .npy (for comparisons). */
    private static void writeLogits(Classifier model, Network net, Dataset test, int count, Path file) throws IOException {
        if (count < 1 || count > test.size()) {
            throw new IllegalArgumentException("--count must be between 1 and the " + test.size() + " test images, got "
                    + count);
        }
        float[] images = new float[count * model.channels() * model.height() * model.width()];
        int[] order = new int[count], labels = new int[count];
        for (int i = 0; i < count; i++) {
            order[i] = i;
        }
        test.batch(order, 0, count, model.mean(), model.std(), images, labels);
        float[] logits;
        if (model instanceof FoldedResNet) {
            logits = ((FoldedResNet) model).logits(images, count);
        } else if (net instanceof ResNet) {
            logits = ((ResNet) net).logits(images, count);
        } else {
            throw new IllegalArgumentException("--logits is for ResNet models");
        }
        try (Tensor t = Tensor.of(logits, count, model.classes())) {
            Npy.write(file, t);
        }
    }
}
