package dev.conv4j.cli;

import java.io.PrintStream;
import java.util.Arrays;

/** {@code java -jar conv4j-cli.jar <command> [options]}. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs a command and returns its exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("help") || args[0].equals("--help") || args[0].equals("-h")) {
            usage(out);
            return args.length == 0 ? 2 : 0;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try {
            switch (args[0]) {
                case "verify":
                    return VerifyCommand.run(Options.parse(rest), out, err);
                case "info":
                    return InfoCommand.run(out);
                case "bench":
                    return BenchCommand.run(Options.parse(rest), out, err);
                case "train":
                    return TrainCommand.run(Options.parse(rest), out, err);
                case "predict":
                    return PredictCommand.run(Options.parse(rest), out, err);
                case "plot":
                    return PlotCommand.run(Options.parse(rest), out, err);
                default:
                    err.println("unknown command '" + args[0] + "'");
                    usage(err);
                    return 2;
            }
        } catch (Options.UsageException e) {
            err.println(e.getMessage());
            usage(err);
            return 2;
        }
    }

    static void usage(PrintStream out) {
        out.println("conv4j " + InfoCommand.version() + " - convolution layers on the CPU");
        out.println();
        out.println("usage: java -jar conv4j-cli.jar <command> [options]");
        out.println();
        out.println("commands:");
        out.println("  verify --golden DIR [--engine naive|java|blas|all] [--threads N] [--save OUTDIR]");
        out.println("        run every golden case in DIR through the engine(s), print failures and");
        out.println("        'N passed, M failed'; --save writes each engine's results as .npy files; case.json's");
        out.println("        \"op\" names the operation (conv2d, conv1d, conv3d, conv_transpose1d/2d/3d), and a case");
        out.println("        without gy.npy checks the forward output alone");
        out.println("  verify --onnx DIR [--engine naive|java|blas|all] [--threads N]");
        out.println("        run every float Conv/ConvTranspose test of ONNX test data under DIR (e.g. Debian's");
        out.println("        /usr/share/libonnx-testdata/data); an unsupported test fails, named with the reason");
        out.println("  bench [--shapes FILE] [--threads N] [--passes fwd,bwd] [--out DIR] [--engines naive,java,blas]");
        out.println("        [--only SHAPE,...] [--samples N]: GFLOP/s of each engine and of the raw sgemm ceiling");
        out.println("        per shape (default: the bundled ResNet-50/LeNet/depthwise suite); table, CSV and PNG");
        out.println("  info  version, Java, the engines available (and why not), OpenBLAS build, core, threads");
        out.println("  train [--model lenet|resnet] [--data DIR|synthetic] [--epochs N] [--engine naive|java|blas|fastest]");
        out.println("        [--threads N] [--save MODEL_DIR] [--log FILE.csv] [--batch N] [--lr X]");
        out.println("        [--schedule cosine|onecycle|constant] [--augment on|off] [--seed N] [--limit N]");
        out.println("        train a LeNet (Adam, cosine) or a ResNet-20 (SGD, one-cycle, crops and flips) on the");
        out.println("        Fashion-MNIST IDX files in DIR (default: the Debian package's folder, else a synthetic set)");
        out.println("        and print 'test accuracy: A (N images)'");
        out.println("  predict --model MODEL_DIR [--data DIR|synthetic] [--engine ...] [--threads N] [--batch N]");
        out.println("        [--path per-call|plan|blocked] [--logits FILE.npy [--count N]]");
        out.println("        classify the test images with a saved model; print accuracy and images/s (a ResNet runs");
        out.println("        with its batch norms folded, on --path); --logits writes the first N images' logits");
        out.println("  plot --runs LABEL=FILE.csv[,LABEL=FILE.csv...] --out FILE.png [--title T]");
        out.println("        training curves (loss, test accuracy per epoch) from train --log and resnet_fashion.py --log");
    }
}
