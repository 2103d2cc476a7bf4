package dev.conv4j.cli;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.examples.Adam;
import dev.conv4j.examples.Augmentation;
import dev.conv4j.examples.Dataset;
import dev.conv4j.examples.FashionMnist;
import dev.conv4j.examples.LeNet;
import dev.conv4j.examples.ModelFiles;
import dev.conv4j.examples.Network;
import dev.conv4j.examples.Optimizer;
import dev.conv4j.examples.ProgressBar;
import dev.conv4j.examples.Schedule;
import dev.conv4j.examples.Sgd;
import dev.conv4j.examples.SyntheticImages;
import dev.conv4j.examples.Trainer;
import dev.conv4j.examples.resnet.ResNet;
import dev.conv4j.examples.resnet.ResNetFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** {@code train}: a LeNet or a ResNet on Fashion-MNIST (or a synthetic set), its convolutions on a conv4j engine. */
final class TrainCommand {
    /** The word {@code --data} takes for the built-in synthetic data set. */
    static final String SYNTHETIC = "synthetic";
    private static final long SYNTHETIC_SEED = 7;
    private static final int SYNTHETIC_TRAIN = 6000, SYNTHETIC_TEST = 1000;

    private TrainCommand() {
    }

    /** The training recipe of a model: what each option defaults to. */
    private record Recipe(String model, int epochs, int batch, String optimizer, float lr, String schedule,
                          boolean augment) {
        static Recipe of(String model) {
            switch (model) {
                case "lenet":
                    return new Recipe(model, 3, 64, "adam", 2e-3f, "cosine", false);
                case "resnet":
                    return new Recipe(model, RESNET_EPOCHS, 128, "sgd", 0.2f, "onecycle", true);
                default:
                    throw new Options.UsageException("unknown --model '" + model + "' (lenet, resnet)");
            }
        }
    }

    /** The ResNet's default epochs: the most whose run stays within half an hour on two cores (see README). */
    static final int RESNET_EPOCHS = 8;

    static int run(Options o, PrintStream out, PrintStream err) {
        o.allow("model", "data", "epochs", "engine", "threads", "save", "batch", "lr", "seed", "limit", "schedule",
                "augment", "log");
        Recipe recipe = Recipe.of(o.get("model", "lenet"));
        int epochs = o.getInt("epochs", recipe.epochs());
        int batch = o.getInt("batch", recipe.batch());
        int seed = o.getInt("seed", 1, 0);
        float lr = positiveFloat(o, "lr", recipe.lr());
        String schedule = o.get("schedule", recipe.schedule());
        if (!schedule.equals("cosine") && !schedule.equals("constant") && !schedule.equals("onecycle")) {
            throw new Options.UsageException("unknown --schedule '" + schedule + "' (cosine, onecycle, constant)");
        }
        String augment = o.get("augment", recipe.augment() ? "on" : "off");
        if (!augment.equals("on") && !augment.equals("off")) {
            throw new Options.UsageException("--augment takes on or off, got '" + augment + "'");
        }
        Path save = o.has("save") ? Path.of(o.require("save")) : null;
        Path log = o.has("log") ? Path.of(o.require("log")) : null;
        ConvEngine engine = engine(o);
        int threads = threads(o);

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

        boolean resnet = recipe.model().equals("resnet");
        try (Network net = resnet
                ? ResNet.create(ResNet.Architecture.resnet20(), engine, threads, FashionMnist.MEAN, FashionMnist.STD, seed)
                : LeNet.create(LeNet.Architecture.fashionMnist(), engine, FashionMnist.MEAN, FashionMnist.STD, seed)) {
            Optimizer optimizer = recipe.optimizer().equals("sgd")
                    ? new Sgd(net.parameters(), lr, SGD_MOMENTUM, SGD_WEIGHT_DECAY)
                    : new Adam(net.parameters(), lr);
            String optimizerText = recipe.optimizer().equals("sgd")
                    ? String.format(Locale.ROOT, "SGD nesterov momentum %s weight decay %s, lr %s", SGD_MOMENTUM,
                    SGD_WEIGHT_DECAY, lr)
                    : "Adam lr " + lr;
            out.println(String.format(Locale.ROOT, "engine: %s, %d threads; network: %s", engine.name(), threads,
                    net.describe()));
            out.println(String.format(Locale.ROOT, "batch %d, %s (%s), augmentation %s, seed %d", batch, optimizerText,
                    schedule, augment.equals("on") ? "crops of 2 pixels and flips" : "none", seed));
            Trainer trainer = new Trainer(net, optimizer, batch, seed);
            long steps = trainer.stepsFor(epochs, train.size());
            if (schedule.equals("cosine")) {
                trainer.schedule(Schedule.cosine(lr, steps));
            } else if (schedule.equals("onecycle")) {
                trainer.schedule(Schedule.oneCycle(lr, steps, 0.25, 25, 1e4));
            }
            if (augment.equals("on")) {
                trainer.augment(new Augmentation(2, true, seed + 1L));
            }
            ProgressBar bar = new ProgressBar(out, out == System.out && System.console() != null);
            double seconds = 0;
            Trainer.EpochResult last = null;
            Trainer.Evaluation test = null;
            StringBuilder csv = new StringBuilder("epoch,seconds,train_loss,train_accuracy,test_accuracy,lr\n");
            for (int e = 1; e <= epochs; e++) {
                last = trainer.trainEpoch(train, e, epochs, bar);
                float rate = optimizer.learningRate(); // of the epoch's last step
                bar.epochDone(last, epochs);
                seconds += last.seconds();
                // a ResNet's curve is followed on the test set every epoch; LeNet's only at the end
                if (resnet || log != null || e == epochs) {
                    test = Trainer.evaluate(net, data.test(), 256);
                    if (e < epochs) {
                        out.println(String.format(Locale.ROOT, "  test accuracy after epoch %d: %.4f", e, test.accuracy()));
                    }
                }
                csv.append(String.format(Locale.ROOT, "%d,%.2f,%.5f,%.5f,%s,%s%n", e, last.seconds(), last.loss(),
                        last.accuracy(), test == null ? "" : String.format(Locale.ROOT, "%.5f", test.accuracy()), rate));
            }
            out.println(String.format(Locale.ROOT, "time per epoch: %.1f s (%.0f images/s)", seconds / epochs,
                    (double) train.size() * epochs / seconds));
            if (log != null) {
                try {
                    Files.writeString(log, csv.toString());
                } catch (IOException e) {
                    err.println("train: cannot write the log: " + e.getMessage());
                    return 1;
                }
                out.println("log written to " + log);
            }
            if (save != null) {
                Map<String, Object> facts = new LinkedHashMap<>();
                facts.put("data", data.description());
                facts.put("images", train.size());
                facts.put("epochs", epochs);
                facts.put("batch", batch);
                facts.put("optimizer", optimizerText + " " + schedule);
                facts.put("augmentation", augment);
                facts.put("seed", seed);
                facts.put("engine", engine.name());
                facts.put("seconds_per_epoch", seconds / epochs);
                facts.put("train_loss", last.loss());
                facts.put("test_accuracy", test.accuracy());
                try {
                    if (net instanceof ResNet) {
                        ResNetFiles.save((ResNet) net, save, train.classNames(), facts);
                    } else {
                        ModelFiles.save((LeNet) net, save, train.classNames(), facts);
                    }
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

    static final float SGD_MOMENTUM = 0.9f, SGD_WEIGHT_DECAY = 5e-4f;

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
