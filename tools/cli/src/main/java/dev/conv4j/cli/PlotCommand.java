package dev.conv4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code plot}: training curves (PNG) from the per-epoch CSV logs of {@code train --log} and the PyTorch script. */
final class PlotCommand {
    private PlotCommand() {
    }

    static int run(Options o, PrintStream out, PrintStream err) {
        o.allow("runs", "out", "title");
        Path file = Path.of(o.require("out"));
        String title = o.get("title", "ResNet-20 on Fashion-MNIST");
        List<TrainingCurves.Run> runs = new ArrayList<>();
        try {
            for (String spec : o.require("runs").split(",")) {
                int eq = spec.indexOf('=');
                if (eq <= 0 || eq == spec.length() - 1) {
                    throw new Options.UsageException("--runs takes LABEL=FILE.csv,..., got '" + spec + "'");
                }
                runs.add(TrainingCurves.read(spec.substring(0, eq), Path.of(spec.substring(eq + 1))));
            }
            TrainingCurves.write(runs, title, file);
        } catch (IOException e) {
            err.println("plot: " + e.getMessage());
            return 1;
        }
        out.println("wrote " + file);
        return 0;
    }
}
