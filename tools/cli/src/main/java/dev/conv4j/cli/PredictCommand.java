package dev.conv4j.cli;

import dev.conv4j.ConvEngine;
import dev.conv4j.examples.Dataset;
import dev.conv4j.examples.FashionMnist;
import dev.conv4j.examples.Models;
import dev.conv4j.examples.Network;
import dev.conv4j.examples.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/** {@code predict}: batched inference with a model saved by {@code train --save}. */
final class PredictCommand {
    private PredictCommand() {
    }

    static int run(Options o, PrintStream out, PrintStream err) {
        o.allow("model", "data", "engine", "threads", "batch");
        Path modelDir = Path.of(o.require("model"));
        int batch = o.getInt("batch", 256);
        ConvEngine engine = TrainCommand.engine(o);
        try (Network net = Models.load(modelDir, engine, TrainCommand.threads(o))) {
            out.println(String.format(Locale.ROOT, "model: %s: %s; engine %s, %d threads, batch %d", modelDir,
                    net.describe(), engine.name(), TrainCommand.threads(o), batch));
            Path dir = TrainCommand.dataFolder(o, out);
            Dataset test = dir == null ? TrainCommand.synthetic().test() : FashionMnist.loadTest(dir);
            out.println("data: " + (dir == null ? "synthetic" : dir.toString()) + ": " + test.size() + " test images");
            // a first pass warms up the JIT and allocates the batch buffers; the second is timed
            Trainer.evaluate(net, test.first(Math.min(test.size(), 4 * batch)), batch);
            Trainer.Evaluation r = Trainer.evaluate(net, test, batch);
            out.println(String.format(Locale.ROOT, "accuracy: %.4f (%d images)", r.accuracy(), r.images()));
            out.println(String.format(Locale.ROOT, "speed: %.0f images/s (%.2f s)", r.imagesPerSecond(), r.seconds()));
            return 0;
        } catch (IOException | IllegalArgumentException e) {
            err.println("predict: " + e.getMessage());
            return 1;
        }
    }
}
