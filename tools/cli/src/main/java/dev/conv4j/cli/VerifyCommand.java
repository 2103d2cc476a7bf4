package dev.conv4j.cli;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import dev.conv4j.golden.GoldenCase;
import dev.conv4j.cli.onnx.OnnxConformance;
import dev.conv4j.cli.onnx.OnnxTestCase;
import dev.conv4j.golden.GoldenCheck;
import dev.conv4j.io.Npy;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** {@code verify}: every golden case through the chosen engines. */
final class VerifyCommand {
    private VerifyCommand() {
    }

    static int run(Options o, PrintStream out, PrintStream err) {
        o.allow("golden", "onnx", "engine", "save", "threads");
        if (o.has("onnx") == o.has("golden")) {
            throw new Options.UsageException("verify needs one of --golden DIR and --onnx DIR");
        }
        String engineArg = o.get("engine", "all");
        int threads = o.getInt("threads", Runtime.getRuntime().availableProcessors());
        Path save = o.has("save") ? Path.of(o.require("save")) : null;
        List<String> names = engineArg.equals("all") ? List.of("naive", "java", "blas") : List.of(engineArg.split(","));
        for (String n : names) {
            if (!List.of("naive", "java", "blas").contains(n)) {
                throw new Options.UsageException("unknown engine '" + n + "' (naive, java, blas, all)");
            }
        }
        List<ConvEngine> engines = new ArrayList<>();
        int unavailable = 0;
        for (String n : names) {
            try {
                engines.add(ConvEngines.byName(n, threads));
            } catch (UnsupportedOperationException e) {
                out.println(n + ": unavailable, not run (" + e.getMessage() + ")");
                unavailable++;
            }
        }
        if (o.has("onnx")) {
            return onnx(Path.of(o.require("onnx")), engines, unavailable, out, err);
        }
        Path root = Path.of(o.require("golden"));
        List<Path> cases;
        try {
            cases = GoldenCase.list(root);
        } catch (IOException e) {
            err.println("verify: " + e.getMessage());
            return 1;
        }
        int passed = 0, failed = 0;
        for (Path dir : cases) {
            GoldenCase c;
            try {
                c = GoldenCase.load(dir);
            } catch (IOException | RuntimeException e) {
                out.println("FAIL " + dir.getFileName() + ": cannot load: " + e.getMessage());
                failed += engines.size();
                continue;
            }
            try (c) {
                for (ConvEngine e : engines) {
                    try (GoldenCheck.Result r = GoldenCheck.run(e, c, GoldenCheck.TOLERANCE)) {
                        if (r.passed) {
                            passed++;
                        } else {
                            failed++;
                            out.println("FAIL " + e.name() + " " + c.name + ": "
                                    + r.describeFailures(GoldenCheck.TOLERANCE, c.isExact()));
                        }
                        if (save != null) {
                            for (Map.Entry<String, Tensor> t : r.outputs.entrySet()) {
                                Npy.write(save.resolve(e.name()).resolve(c.name).resolve(t.getKey() + ".npy"), t.getValue());
                            }
                        }
                    } catch (IOException ex) {
                        err.println("verify: cannot save results: " + ex.getMessage());
                        return 1;
                    } catch (RuntimeException ex) {
                        failed++;
                        out.println("FAIL " + e.name() + " " + c.name + ": " + ex);
                    }
                }
            }
        }
        out.println("engines: " + String.join(", ", engines.stream().map(ConvEngine::name).toArray(String[]::new))
                + (unavailable > 0 ? " (" + unavailable + " unavailable)" : "") + "; cases: " + cases.size());
        out.println(passed + " passed, " + failed + " failed");
        return failed == 0 && unavailable == 0 && !engines.isEmpty() ? 0 : 1;
    }

    /** {@code --onnx DIR}: every Conv/ConvTranspose test of an ONNX test-data folder, forward, on each engine. */
    private static int onnx(Path root, List<ConvEngine> engines, int unavailable, PrintStream out, PrintStream err) {
        List<OnnxTestCase.Found> found;
        try {
            found = OnnxTestCase.find(root);
        } catch (IOException e) {
            err.println("verify: " + e.getMessage());
            return 1;
        }
        if (found.isEmpty()) {
            err.println("verify: no Conv or ConvTranspose test (*/model.onnx) under " + root);
            return 1;
        }
        int passed = 0, failed = 0;
        for (OnnxTestCase.Found f : found) {
            String name = root.relativize(f.dir()).toString();
            OnnxTestCase test;
            try {
                test = f.load();
            } catch (IOException | RuntimeException e) {
                out.println("FAIL " + name + ": cannot load: " + e.getMessage());
                failed += engines.size();
                continue;
            }
            for (ConvEngine e : engines) {
                OnnxConformance.Outcome r = OnnxConformance.run(test, e);
                if (r.passed()) {
                    passed++;
                } else {
                    failed++;
                    out.println("FAIL " + e.name() + " " + name + ": " + r.detail());
                }
            }
        }
        out.println("engines: " + String.join(", ", engines.stream().map(ConvEngine::name).toArray(String[]::new))
                + (unavailable > 0 ? " (" + unavailable + " unavailable)" : "") + "; ONNX tests: " + found.size());
        out.println(passed + " passed, " + failed + " failed");
        return failed == 0 && unavailable == 0 && !engines.isEmpty() ? 0 : 1;
    }
}
