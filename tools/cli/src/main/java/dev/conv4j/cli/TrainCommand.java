package dev.conv4j.cli;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.examples.Adam;
import dev.conv4j.examples.Dataset;
import dev.conv4j.examples.FashionMnist;
import dev.conv4j.examples.LeNet;
import dev.conv4j.examples.ModelFiles;
import dev.conv4j.examples.ProgressBar;
import dev.conv4j.examples.SyntheticImages;
import dev.conv4j.examples.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** {@code train}: a LeNet on Fashion-MNIST (or a synthetic set), its convolutions on a conv4j engine. */
final class TrainCommand {
    /** The word {@code --data} takes for the built-in synthetic data set. */
    static final String SYNTHETIC = "synthetic";
    private static final long SYNTHETIC_SEED = 7;
    private static final int SYNTHETIC_TRAIN = 6000, SYNTHETIC_TEST = 1000;

    private TrainCommand() {
    }

    static int run(Options o, PrintStream out, PrintStream err) {
        o.allow("data", "epochs", "engine", "threads", "save", "batch", "lr", "seed", "limit", "schedule");
        int epochs = o.getInt("epochs", 3);
        int batch = o.getInt("batch", 64);
        int seed = o.getInt("seed", 1, 0);
        float lr = positiveFloat(o, "lr", 2e-3f);
        String schedule = o.get("schedule", "cosine");
        if (!schedule.equals("cosine") && !schedule.equals("constant")) {
            throw new Options.UsageException("unknown --schedule '" + schedule + "' (cosine, constant)");
        }
        Path save = o.has("save") ? Path.of(o.require("save")) : null;
        ConvEngine engine = engine(o);

        Dataset.Split data;
        try {
            data = loadData(o, out);
        } catch (IOException e) {
            err.println("train: " + e.getMessage());
            return 1;
        }
        Dataset train = o.has("limit") ? data.train().first(o.getInt("limit", 0)) : data.train();
        out.println("data: " + data.description() + ": training on " + train.size() + ", testing on "
                + data.test().size() + " images");

        LeNet.Architecture arch = LeNet.Architecture.fashionMnist();
        try (LeNet net = LeNet.create(arch, engine, FashionMnist.MEAN, FashionMnist.STD, seed)) {
            out.println(String.format(Locale.ROOT, "engine: %s, %d threads; network: %s; batch %d, Adam lr %s (%s), seed %d",
                    engine.name(), threads(o), describe(net), batch, Float.toString(lr), schedule, seed));
            Trainer trainer = new Trainer(net, new Adam(net.parameters(), lr), batch, seed);
            if (schedule.equals("cosine")) {
                trainer.cosineDecay(epochs, train.size());
            }
            ProgressBar bar = new ProgressBar(out, out == System.out && System.console() != null);
            double seconds = 0;
            Trainer.EpochResult last = null;
            for (int e = 1; e <= epochs; e++) {
                last = trainer.trainEpoch(train, e, epochs, bar);
                bar.epochDone(last, epochs);
                seconds += last.seconds();
            }
            out.println(String.format(Locale.ROOT, "time per epoch: %.1f s (%.0f images/s)", seconds / epochs,
                    (double) train.size() * epochs / seconds));
            Trainer.Evaluation test = Trainer.evaluate(net, data.test(), 256);
            if (save != null) {
                Map<String, Object> facts = new LinkedHashMap<>();
                facts.put("data", data.description());
                facts.put("images", train.size());
                facts.put("epochs", epochs);
                facts.put("batch", batch);
                facts.put("optimizer", "adam lr " + lr + " " + schedule);
                facts.put("seed", seed);
                facts.put("engine", engine.name());
                facts.put("train_loss", last.loss());
                facts.put("test_accuracy", test.accuracy());
                try {
                    ModelFiles.save(net, save, train.classNames(), facts);
                } catch (IOException e) {
                    err.println("train: cannot save the model: " + e.getMessage());
                    return 1;
                }
                out.println("model saved to " + save);
            }
            out.println(String.format(Locale.ROOT, "test accuracy: %.4f (%d images)", test.accuracy(), test.images()));
        }
        return 0;
    }

    /** The data {@code --data} names (see {@link #dataFolder}). */
    private static Dataset.Split loadData(Options o, PrintStream out) throws IOException {
        Path dir = dataFolder(o, out);
        return dir == null ? synthetic() : FashionMnist.load(dir);
    }

    static Dataset.Split synthetic() {
        return SyntheticImages.generate(SYNTHETIC_TRAIN, SYNTHETIC_TEST, SYNTHETIC_SEED);
    }

    /**
     * The folder of Fashion-MNIST-style IDX files {@code --data} names, or null for the synthetic
     * set ({@code --data synthetic}); without the option the Debian folder when it is installed,
     * else null.
     */
    static Path dataFolder(Options o, PrintStream out) throws IOException {
        String arg = o.has("data") ? o.require("data") : null;
        if (SYNTHETIC.equals(arg)) {
            return null;
        }
        Path dir = arg != null ? Path.of(arg) : FashionMnist.DEBIAN_DIR;
        if (arg == null && !FashionMnist.isPresent(dir)) {
            out.println("no --data and no Fashion-MNIST in " + dir + " (apt-get install dataset-fashion-mnist):"
                    + " using a synthetic data set");
            return null;
        }
        if (!Files.isDirectory(dir)) {
            throw new IOException("--data " + dir + ": no such folder");
        }
        return dir;
    }

    /** {@code --engine naive|java|blas|fastest} with {@code --threads N}. */
    static ConvEngine engine(Options o) {
        String name = o.get("engine", "fastest");
        int threads = threads(o);
        if (name.equals("fastest")) {
            return ConvEngines.isNativeAvailable() ? ConvEngines.blas(threads) : ConvEngines.java(threads);
        }
        if (!name.equals("naive") && !name.equals("java") && !name.equals("blas")) {
            throw new Options.UsageException("unknown engine '" + name + "' (naive, java, blas, fastest)");
        }
        return ConvEngines.byName(name, threads);
    }

    static int threads(Options o) {
        return o.getInt("threads", Runtime.getRuntime().availableProcessors());
    }

    static String describe(LeNet net) {
        LeNet.Architecture a = net.architecture();
        int params = net.parameters().stream().mapToInt(p -> p.size()).sum();
        return String.format(Locale.ROOT, "LeNet %dx%dx%d, conv%dx%d %d, pool, conv%dx%d %d, pool, dense %d, dense %d"
                + " (%d parameters)", a.channels(), a.height(), a.width(), a.kernel(), a.kernel(), a.conv1(), a.kernel(),
                a.kernel(), a.conv2(), a.hidden(), a.classes(), params);
    }

    private static float positiveFloat(Options o, String name, float fallback) {
        if (!o.has(name)) {
            return fallback;
        }
        String v = o.require(name);
        try {
            float f = Float.parseFloat(v);
            if (!(f > 0) || Float.isInfinite(f)) {
                throw new NumberFormatException();
            }
            return f;
        } catch (NumberFormatException e) {
            throw new Options.UsageException("--" + name + " needs a positive number, got '" + v + "'");
        }
    }
}
