package dev.conv4j.cli;

import dev.conv4j.ConvEngines;
import dev.conv4j.bench.Bench;
import dev.conv4j.bench.BenchReport;
import dev.conv4j.bench.BenchResult;
import dev.conv4j.bench.BenchShape;
import dev.conv4j.bench.Pass;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;

/** {@code bench}: the engines against each other and against the raw sgemm ceiling. */
final class BenchCommand {
    private BenchCommand() {
    }

    static int run(Options o, PrintStream out, PrintStream err) {
        o.allow("shapes", "threads", "passes", "out", "engines", "samples", "only");
        Bench.Config c = new Bench.Config();
        c.threads = o.getInt("threads", 1);
        c.samples = o.getInt("samples", c.samples);
        c.passes = passes(o.get("passes", "fwd,bwd"));
        c.engines = List.of(o.get("engines", "naive,java,blas").split(","));
        Path outDir = Path.of(o.get("out", "bench-out"));
        List<BenchShape> shapes;
        try {
            shapes = o.has("shapes") ? BenchShape.load(Path.of(o.require("shapes"))) : BenchShape.defaults();
        } catch (IOException e) {
            err.println("bench: " + e.getMessage());
            return 1;
        }
        if (o.has("only")) {
            List<String> names = List.of(o.require("only").split(","));
            shapes.removeIf(s -> !names.contains(s.name));
        }
        String machine = machine();
        String title = "conv4j bench: " + shapes.size() + " shapes, passes " + o.get("passes", "fwd,bwd") + ", threads "
                + c.threads + ", " + c.samples + " interleaved samples (median)";
        out.println(title);
        out.println(machine);
        List<BenchResult> results;
        try {
            results = new Bench(c, err).run(shapes);
        } catch (UnsupportedOperationException e) {
            err.println("bench: " + e.getMessage() + " (choose --engines naive,java)");
            return 1;
        }
        BenchReport.table(results, out);
        try {
            Files.createDirectories(outDir);
            String header = machine + ", threads " + c.threads + ", " + LocalDate.now();
            BenchReport.csv(results, outDir.resolve("bench.csv"), header);
            BenchReport.chart(results, outDir.resolve("bench.png"), "conv4j bench: GFLOP/s per layer and pass, "
                    + c.threads + " thread" + (c.threads == 1 ? "" : "s"), header);
            try (PrintStream txt = new PrintStream(Files.newOutputStream(outDir.resolve("bench.txt")), true,
                    StandardCharsets.UTF_8)) {
                txt.println(title);
                txt.println(header);
                BenchReport.table(results, txt);
            }
            out.println("wrote " + outDir.resolve("bench.txt") + ", " + outDir.resolve("bench.csv") + " and "
                    + outDir.resolve("bench.png"));
        } catch (IOException e) {
            err.println("bench: cannot write results: " + e.getMessage());
            return 1;
        }
        return 0;
    }

    private static List<Pass> passes(String spec) {
        List<Pass> p = new ArrayList<>();
        for (String s : spec.split(",")) {
            switch (s.trim()) {
                case "fwd": p.add(Pass.FORWARD); break;
                case "bwd": p.add(Pass.BACKWARD_DATA); p.add(Pass.BACKWARD_WEIGHTS); break;
                case "bwd-data": p.add(Pass.BACKWARD_DATA); break;
                case "bwd-weights": p.add(Pass.BACKWARD_WEIGHTS); break;
                default: throw new Options.UsageException("unknown pass '" + s + "' (fwd, bwd, bwd-data, bwd-weights)");
            }
        }
        return p;
    }

    private static String machine() {
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux: the OS name below still says where it ran
        }
        String blas = ConvEngines.isNativeAvailable() ? "OpenBLAS core " + InfoCommand.openblasCore() : "no native library";
        return cpu + ", " + Runtime.getRuntime().availableProcessors() + " processors, Java "
                + System.getProperty("java.version") + ", " + blas;
    }
}
