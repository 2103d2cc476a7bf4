package example;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.bench.BenchShape;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Times conv4j against oneDNN (and libtorch and ONNX Runtime when they are present) on the same
 * layers, in one JVM, and checks that they agree.
 *
 * <p>The machine this was written for is shared and noisy, so the systems are measured interleaved:
 * for each layer and pass, every system is warmed up, then in each of {@code --rounds} rounds each
 * system runs back-to-back calls for {@code --burst-ms} (after a short pause that lets the other
 * systems' idle threads go to sleep), in an order that rotates from round to round. Every call is
 * timed; a burst counts as the 10th percentile of its call times (the calls that no other process
 * interrupted, on a machine with more busy threads than cores), and a system's time is the median
 * over the rounds of its bursts. GFLOP/s is {@code 2·N·O·(C/G)·KH·KW·OH·OW / time} for all three passes.
 *
 * <p>Besides 2-D convolutions, the layers may be conv4j's other operations (transposed, 1-D and 3-D
 * convolutions, the {@code ops} group): conv4j runs them per call ({@code c4j-blas}; a 2-D transposed
 * convolution also through its plan, {@code c4j-plan}), libtorch with its own functions, oneDNN the 3-D
 * convolution only; the other columns stay empty for them. Their reference is {@code dnnl-nchw} where
 * it runs, else {@code torch}, else {@code c4j-blas}.
 *
 * <pre>
 * --threads N        threads of every system (default 1); OpenMP's count comes from OMP_NUM_THREADS,
 *                    so the program restarts itself with OMP_NUM_THREADS=N when it differs (and with
 *                    OMP_WAIT_POLICY=PASSIVE when that is unset: see README.md)
 * --rounds N         measured rounds (default 7), after --warmup N rounds (default 2)
 * --burst-ms N       length of one system's burst in a round (default 100)
 * --pause-ms N       pause before each burst (default 20)
 * --call-quantile q  the quantile of a burst's call times that counts (default 0.1; 0.5 is the median)
 * --shapes a,b,...   layer names from conv4j's benchmark-shapes.csv or docs/mobilenet-v1-depthwise.csv,
 *                    groups (default: resnet50 and three MobileNet v1 depthwise layers; resnet50: the
 *                    nine ResNet-50 batch-1 layers; mobilenet: the six MobileNet v1 depthwise layers;
 *                    ops: the layers of the other operations in benchmark-shapes.csv, transposed, 1-D
 *                    and 3-D convolutions; all: every layer of both files), or a CSV file of layers in
 *                    the same format
 * --passes a,b,...   forward, backward-data, backward-weights (default: all three)
 * --no-torch         leave libtorch out even when its natives are on the class path
 * --no-ort           leave ONNX Runtime out even when it is on the class path
 * --out FILE         also write the report (not the progress lines) to FILE
 * --csv FILE         write one row per layer, pass and system to FILE (GFLOP/s, seconds, difference)
 * </pre>
 */
public final class Compare {
    /** The layers of the geometric means: ResNet-50 at batch 1. */
    static final List<String> RESNET50 = List.of("r50_conv1_b1", "r50_res2_3x3_b1", "r50_res2_1x1a_b1",
            "r50_res2_1x1b_b1", "r50_res3_3x3s2_b1", "r50_res3_3x3_b1", "r50_res4_3x3_b1", "r50_res5_3x3_b1",
            "r50_down_1x1s2_b1");

    /**
     * The MobileNet v1 depthwise layers of the default set, from {@link #MOBILENET_CSV}: both stride-1
     * layers (32 channels at 112x112, 128 at 56x56) and the largest stride-2 one (64 channels, 112x112 to 56x56).
     */
    static final List<String> MOBILENET_DEFAULT = List.of("mbv1_dw_3x3_b1", "mbv1_dw3_b1", "mbv1_dw2_s2_b1");

    /** conv4j's file of MobileNet v1's depthwise layers, found from the working directory or a folder above it. */
    static final String MOBILENET_CSV = "docs/mobilenet-v1-depthwise.csv";

    /** The group of the layers of the other operations (transposed, 1-D, 3-D) in conv4j's benchmark-shapes.csv. */
    static final String OPS = "ops";

    /**
     * The reference of the correctness check, and the denominator of the ratios. A layer of the other
     * operations that oneDNN does not run is checked against {@link #OPS_REFERENCES}'s first system that ran.
     */
    static final String REFERENCE = "dnnl-nchw";

    /** The references of the correctness check on a layer of the other operations, the first that ran. */
    static final List<String> OPS_REFERENCES = List.of(REFERENCE, "torch", "c4j-blas");

    /** The ratio under which a layer counts as behind in the summary: conv4j's target is none under 0.9x. */
    static final double TARGET = 0.9;

    /**
     * The ratio columns of the tables, conv4j over another system; a table shows those whose two
     * systems it has.
     */
    static final Map<Pass, List<Ratio>> RATIOS = Map.of(
            Pass.FORWARD, List.of(
                    new Ratio("blas/dnnl", "c4j-blas", REFERENCE),
                    new Ratio("plan/dnnl", "c4j-plan", REFERENCE),
                    new Ratio("plan/any", "c4j-plan", "dnnl-any"),
                    new Ratio("blocked/any", "c4j-blocked", "dnnl-any"),
                    new Ratio("plan/torch", "c4j-plan", "torch"),
                    new Ratio("blas/torch", "c4j-blas", "torch", true),
                    new Ratio("blas/ort", "c4j-blas", "ort"),
                    new Ratio("plan/ort", "c4j-plan", "ort")),
            Pass.BACKWARD_DATA, List.of(
                    new Ratio("c4j/dnnl", "c4j-blas", REFERENCE),
                    new Ratio("blocked/any", "c4j-blocked", "dnnl-any"),
                    new Ratio("c4j/torch", "c4j-blas", "torch")),
            Pass.BACKWARD_WEIGHTS, List.of(
                    new Ratio("c4j/dnnl", "c4j-blas", REFERENCE),
                    new Ratio("blocked/any", "c4j-blocked", "dnnl-any"),
                    new Ratio("c4j/torch", "c4j-blas", "torch")));

    /** Where the report goes: standard output, and the --out file when there is one. */
    static PrintStream out = System.out;

    private Compare() {
    }

    /** One column: a system of one pass. */
    interface Factory {
        Runner create(Layer l);
    }

    /**
     * Columns from a library that is an optional dependency of this project, created by class name
     * so that the program compiles and runs without it (see pom.xml).
     */
    interface Peer {
        /** Loads the library and returns one line about it; throws when it is missing. */
        String init(int threads, boolean spin);

        /** The columns, by pass. */
        Map<Pass, Map<String, Factory>> columns();
    }

    /**
     * A ratio column: {@code num}'s GFLOP/s over {@code den}'s; {@code opsOnly}: shown only in a table
     * with a layer of the other operations (where conv4j's only column may be {@code c4j-blas}).
     */
    record Ratio(String label, String num, String den, boolean opsOnly) {
        Ratio(String label, String num, String den) {
            this(label, num, den, false);
        }

        boolean shownWith(List<String> systems, List<Row> rows) {
            return systems.contains(num) && systems.contains(den) && (!opsOnly || rows.stream().anyMatch(r -> !r.conv2d));
        }

        double of(Row row) {
            return row.gflops(num) / row.gflops(den);
        }

        /** The width of its column in a table. */
        int width() {
            return Math.max(10, label.length());
        }
    }

    static final class Options {
        int threads = 1, rounds = 7, warmup = 2, burstMs = 100, pauseMs = 20;
        double callQuantile = 0.1;
        String shapes = "default", out = "", csv = "";
        List<Pass> passes = List.of(Pass.values());
        boolean torch = true, ort = true;

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--no-torch")) {
                    o.torch = false;
                    continue;
                }
                if (a.equals("--no-ort")) {
                    o.ort = false;
                    continue;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("missing value after " + a);
                }
                String v = args[++i];
                switch (a) {
                    case "--threads": o.threads = positive(a, v); break;
                    case "--rounds": o.rounds = positive(a, v); break;
                    case "--warmup": o.warmup = Integer.parseInt(v); break;
                    case "--burst-ms": o.burstMs = positive(a, v); break;
                    case "--pause-ms": o.pauseMs = Integer.parseInt(v); break;
                    case "--shapes": o.shapes = v; break;
                    case "--out": o.out = v; break;
                    case "--csv": o.csv = v; break;
                    case "--call-quantile":
                        o.callQuantile = Double.parseDouble(v);
                        if (!(o.callQuantile >= 0 && o.callQuantile <= 1)) {
                            throw new IllegalArgumentException("--call-quantile must lie in [0, 1]");
                        }
                        break;
                    case "--passes":
                        List<Pass> ps = new ArrayList<>();
                        for (String p : v.split(",")) {
                            ps.add(Pass.of(p.trim()));
                        }
                        o.passes = ps;
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option " + a + " (see the class comment of example.Compare)");
                }
            }
            return o;
        }

        private static int positive(String name, String v) {
            int n = Integer.parseInt(v);
            if (n < 1) {
                throw new IllegalArgumentException(name + " must be at least 1");
            }
            return n;
        }
    }

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.ROOT);
        Options o = Options.parse(args);
        if (!String.valueOf(o.threads).equals(System.getenv("OMP_NUM_THREADS")) || System.getenv("OMP_WAIT_POLICY") == null) {
            System.exit(restart(args, o.threads));
        }
        List<BenchShape> shapes = select(o.shapes);
        if (!o.out.isEmpty()) {
            out = new PrintStream(new Tee(System.out, new FileOutputStream(o.out)), true, "UTF-8");
        }
        ConvEngine blas = ConvEngines.blas(o.threads);
        DnnlRunners.init();

        String torchInfo = null;
        if (o.torch) {
            try {
                torchInfo = TorchRunners.init(o.threads);
            } catch (Throwable t) {
                torchInfo = "skipped: " + t; // natives missing (-DskipTorch) or failing to load
            }
        }
        boolean torch = torchInfo != null && !torchInfo.startsWith("skipped");

        // ONNX Runtime's pool threads spin when idle unless told not to: they follow OpenMP's policy
        boolean spin = !"PASSIVE".equalsIgnoreCase(System.getenv("OMP_WAIT_POLICY"));
        List<Peer> peers = new ArrayList<>();
        String ortInfo = null;
        if (o.ort) {
            try {
                Peer ort = (Peer) Class.forName("example.OrtRunners").getDeclaredConstructor().newInstance();
                ortInfo = ort.init(o.threads, spin);
                peers.add(ort);
            } catch (ClassNotFoundException e) {
                ortInfo = "skipped: not compiled (-DskipOrt)";
            } catch (ReflectiveOperationException | RuntimeException | LinkageError t) {
                ortInfo = "skipped: " + t; // not on the class path, or its natives failing to load
            }
        }

        header(o, blas, torchInfo, ortInfo, shapes.stream().anyMatch(sh -> sh.params == null));
        Map<Pass, Map<String, Factory>> systems = systems(blas, torch, peers);

        Map<Pass, List<Row>> rows = new EnumMap<>(Pass.class);
        List<String> details = new ArrayList<>();
        long start = System.nanoTime();
        for (BenchShape s : shapes) {
            try (Layer l = new Layer(s)) {
                for (Pass pass : o.passes) {
                    Row row = measure(l, pass, systems.get(pass), o, details);
                    rows.computeIfAbsent(pass, k -> new ArrayList<>()).add(row);
                    System.err.printf("  %-18s %-16s %s%n", s.name, pass.label, row.brief());
                }
            }
        }
        for (Pass pass : o.passes) {
            print(pass, new ArrayList<>(systems.get(pass).keySet()), rows.get(pass), o);
        }
        out.println();
        out.println("Implementations (oneDNN: impl_info_str of the primitive; conv4j plan: the algorithm asked for;"
                + " ONNX Runtime: the nodes of its optimized graph)");
        details.forEach(d -> out.println("  " + d));
        summary(systems, rows, o);
        if (!o.csv.isEmpty()) {
            writeCsv(Path.of(o.csv), systems, rows, o);
        }
        out.printf("%nTotal time %.0f s; load average at the end: %s%n", (System.nanoTime() - start) / 1e9, loadAverage());
    }

    /** The columns of each pass, in table order: conv4j's, oneDNN's, libtorch's, then the peers'. */
    static Map<Pass, Map<String, Factory>> systems(ConvEngine blas, boolean torch, List<Peer> peers) {
        Map<Pass, Map<String, Factory>> m = new EnumMap<>(Pass.class);
        for (Pass pass : Pass.values()) {
            Map<String, Factory> f = new LinkedHashMap<>(Conv4jRunners.columns(blas, pass));
            f.putAll(DnnlRunners.columns(pass));
            if (torch) {
                f.putAll(TorchRunners.columns(pass));
            }
            for (Peer p : peers) { // 2-D convolutions only: empty for the other operations
                p.columns().getOrDefault(pass, Map.of()).forEach((name, factory) -> f.put(name, l -> l.conv2d() ? factory.create(l) : null));
            }
            m.put(pass, f);
        }
        return m;
    }

    /** The measurements of one layer and pass. */
    static final class Row {
        final String shape;
        final double gflop;
        /** Whether the layer is a 2-D convolution, not one of the other operations. */
        final boolean conv2d;
        /** The system the others are checked against: {@link #REFERENCE}, or for the other operations another. */
        String reference;
        final Map<String, double[]> seconds = new LinkedHashMap<>(); // per system: one mean time per call per round
        final Map<String, Double> diff = new LinkedHashMap<>();       // per system: max|a - ref| / max|ref|
        final Map<String, String> failed = new LinkedHashMap<>();

        Row(String shape, double gflop, boolean conv2d) {
            this.shape = shape;
            this.gflop = gflop;
            this.conv2d = conv2d;
        }

        double gflops(String system) {
            double[] t = seconds.get(system);
            return t == null ? Double.NaN : gflop / median(t);
        }

        /** The widest interquartile range of the systems' round times, relative to their median. */
        double spread() {
            double worst = 0;
            for (double[] t : seconds.values()) {
                double[] s = t.clone();
                Arrays.sort(s);
                worst = Math.max(worst, (quantile(s, 0.75) - quantile(s, 0.25)) / quantile(s, 0.5));
            }
            return worst;
        }

        String brief() {
            StringBuilder b = new StringBuilder();
            seconds.keySet().forEach(k -> b.append(String.format("%s %.1f  ", k, gflops(k))));
            failed.forEach((k, v) -> b.append(k).append(" failed: ").append(v).append("  "));
            return b.toString().trim();
        }
    }

    static Row measure(Layer l, Pass pass, Map<String, Factory> factories, Options o, List<String> details) {
        Row row = new Row(l.shape.name, l.flops() / 1e9, l.conv2d());
        Map<String, Runner> runners = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Factory> e : factories.entrySet()) {
                try {
                    Runner r = e.getValue().create(l);
                    if (r == null) { // the column does not apply to the layer's operation: left empty
                        continue;
                    }
                    runners.put(e.getKey(), r);
                    if (r.detail() != null) {
                        details.add(String.format("%-18s %-16s %-9s %s", l.shape.name, pass.label, e.getKey(), r.detail()));
                    }
                } catch (RuntimeException | LinkageError ex) {
                    row.failed.put(e.getKey(), String.valueOf(ex.getMessage()));
                }
            }
            List<String> names = new ArrayList<>(runners.keySet());
            int n = names.size();
            long burst = o.burstMs * 1_000_000L;
            long[] callTimes = new long[1024];
            for (String name : names) {
                row.seconds.put(name, new double[o.rounds]);
            }
            for (int round = -o.warmup; round < o.rounds; round++) {
                for (int k = 0; k < n; k++) {
                    String name = names.get(Math.floorMod(k + round, n));
                    Runner r = runners.get(name);
                    pause(o.pauseMs);
                    long start = System.nanoTime(), now = start;
                    int calls = 0;
                    do {
                        long t0 = now;
                        r.run();
                        now = System.nanoTime();
                        if (calls == callTimes.length) {
                            callTimes = Arrays.copyOf(callTimes, 2 * calls);
                        }
                        callTimes[calls++] = now - t0;
                    } while (now - start < burst);
                    if (round >= 0) {
                        row.seconds.get(name)[round] = callQuantile(callTimes, calls, o.callQuantile) / 1e9;
                    }
                }
            }
            row.reference = REFERENCE;
            if (!l.conv2d()) {
                row.reference = OPS_REFERENCES.stream().filter(runners::containsKey).findFirst().orElse(REFERENCE);
            }
            float[] ref = runners.containsKey(row.reference) ? runners.get(row.reference).result() : null;
            for (String name : names) {
                if (ref != null && !name.equals(row.reference)) {
                    row.diff.put(name, scaleFreeDiff(runners.get(name).result(), ref));
                }
            }
        } finally {
            runners.values().forEach(Runner::close);
        }
        return row;
    }

    static double scaleFreeDiff(float[] a, float[] ref) {
        double d = 0, m = 0;
        for (int i = 0; i < ref.length; i++) {
            d = Math.max(d, Math.abs((double) a[i] - ref[i]));
            m = Math.max(m, Math.abs((double) ref[i]));
        }
        return m == 0 ? d : d / m;
    }

    /** The ratio columns of a pass's table with these systems. */
    static List<Ratio> ratios(Pass pass, List<String> systems, List<Row> rows) {
        List<Ratio> shown = new ArrayList<>();
        for (Ratio r : RATIOS.get(pass)) {
            if (r.shownWith(systems, rows)) {
                shown.add(r);
            }
        }
        return shown;
    }

    static void print(Pass pass, List<String> systems, List<Row> rows, Options o) {
        List<Ratio> ratios = ratios(pass, systems, rows);
        out.printf("%n%s, %s: GFLOP/s (median of %d rounds), %d thread(s)%n", pass.label, pass.what, o.rounds, o.threads);
        StringBuilder h = new StringBuilder(String.format("%-18s %6s", "shape", "GFLOP"));
        systems.forEach(s -> h.append(String.format(" %" + width(s) + "s", s)));
        ratios.forEach(r -> h.append(String.format(" %" + r.width() + "s", r.label())));
        h.append(String.format(" %6s", "iqr%"));
        out.println(h);
        for (Row row : rows) {
            StringBuilder b = new StringBuilder(String.format("%-18s %6.3f", row.shape, row.gflop));
            systems.forEach(s -> b.append(String.format(" %" + width(s) + "s", fmt(row.gflops(s), 1))));
            ratios.forEach(r -> b.append(String.format(" %" + r.width() + "s", ratio(r.of(row)))));
            b.append(String.format(" %6.0f", 100 * row.spread()));
            out.println(b);
        }
        List<Row> geo = new ArrayList<>();
        for (Row row : rows) {
            if (RESNET50.contains(row.shape)) {
                geo.add(row);
            }
        }
        String label = geo.size() == RESNET50.size() ? "geomean ResNet-50" : "geomean of " + geo.size() + " r50";
        if (geo.isEmpty()) {
            geo = rows;
            label = "geomean of " + rows.size();
        }
        StringBuilder b = new StringBuilder(String.format("%-18s %6s", label, ""));
        for (String s : systems) {
            b.append(String.format(" %" + width(s) + "s", fmt(geomean(geo, r -> r.gflops(s)), 1)));
        }
        for (Ratio r : ratios) {
            b.append(String.format(" %" + r.width() + "s", ratio(geomean(geo, r::of))));
        }
        out.println(b);

        List<String> compared = new ArrayList<>(systems);
        compared.remove(REFERENCE);
        boolean otherRef = rows.stream().anyMatch(r -> r.reference != null && !r.reference.equals(REFERENCE));
        out.printf("%s, max|a - b| / max|b| against %s%s:%n", pass.label, REFERENCE,
                otherRef ? " (where it did not run, against the system marked ref)" : "");
        StringBuilder dh = new StringBuilder(String.format("%-18s %6s", "", ""));
        compared.forEach(s -> dh.append(String.format(" %" + width(s) + "s", s)));
        out.println(dh);
        for (Row row : rows) {
            StringBuilder d = new StringBuilder(String.format("%-18s %6s", row.shape, ""));
            compared.forEach(s -> d.append(String.format(" %" + width(s) + "s", row.diff.containsKey(s) ? String.format("%.1e", row.diff.get(s))
                    : s.equals(row.reference) && row.seconds.containsKey(s) ? "ref" : "-")));
            out.println(d);
            row.failed.forEach((k, v) -> out.printf("%-18s %s failed: %s%n", "", k, v));
        }
    }

    /**
     * The end of the report: per pass, over all the layers run, the geometric mean of each system's
     * GFLOP/s and of each ratio, the smallest ratio of a layer and how many layers fall under {@link #TARGET}.
     */
    static void summary(Map<Pass, Map<String, Factory>> systems, Map<Pass, List<Row>> rows, Options o) {
        Set<String> all = new LinkedHashSet<>();
        o.passes.forEach(p -> all.addAll(systems.get(p).keySet()));
        out.printf("%nSummary, %d thread(s): geometric means over the layers run, GFLOP/s%n", o.threads);
        StringBuilder h = new StringBuilder(String.format("%-18s %6s", "pass", "layers"));
        all.forEach(s -> h.append(String.format(" %" + width(s) + "s", s)));
        out.println(h);
        boolean partial = false;
        for (Pass pass : o.passes) {
            List<Row> r = rows.get(pass);
            StringBuilder b = new StringBuilder(String.format("%-18s %6d", pass.label, r.size()));
            for (String s : all) {
                double[] g = available(r, row -> row.gflops(s));
                partial |= g[1] > 0 && g[1] < r.size();
                b.append(String.format(" %" + width(s) + "s", g[1] == 0 ? "-" : fmt(g[0], 1) + (g[1] < r.size() ? "*" : "")));
            }
            out.println(b);
        }
        if (partial) {
            out.println("* over the layers where the system ran");
        }
        out.printf("%-18s %-22s %7s %7s %6s  %s%n", "pass", "ratio", "geomean", "min", "<" + fmt(TARGET, 1) + "x",
                "layer of the minimum");
        for (Pass pass : o.passes) {
            List<Row> r = rows.get(pass);
            for (Ratio ratio : ratios(pass, new ArrayList<>(systems.get(pass).keySet()), r)) {
                double[] g = available(r, ratio::of);
                double min = Double.NaN;
                String at = "-";
                int under = 0;
                for (Row row : r) {
                    double v = ratio.of(row);
                    if (v > 0 && !(v >= min)) {
                        min = v;
                        at = row.shape;
                    }
                    under += v < TARGET ? 1 : 0;
                }
                out.printf("%-18s %-22s %7s %7s %6d  %s%n", pass.label, ratio.num() + "/" + ratio.den(),
                        g[1] == 0 ? "-" : ratio(g[0]), ratio(min), under, at);
            }
        }
    }

    /** The geometric mean of the positive values of f over the rows, and how many there were. */
    static double[] available(List<Row> rows, java.util.function.ToDoubleFunction<Row> f) {
        double s = 0;
        int n = 0;
        for (Row r : rows) {
            double v = f.applyAsDouble(r);
            if (v > 0) {
                s += Math.log(v);
                n++;
            }
        }
        return new double[] {n == 0 ? Double.NaN : Math.exp(s / n), n};
    }

    /** One line per layer, pass and system: GFLOP/s, seconds per call, and the difference to the reference. */
    static void writeCsv(Path file, Map<Pass, Map<String, Factory>> systems, Map<Pass, List<Row>> rows, Options o)
            throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("threads,pass,shape,gflop,system,seconds,gflops,diff");
        for (Pass pass : o.passes) {
            for (Row row : rows.get(pass)) {
                for (String s : systems.get(pass).keySet()) {
                    if (row.seconds.containsKey(s)) {
                        lines.add(String.format("%d,%s,%s,%.6f,%s,%.6e,%.2f,%s", o.threads, pass.label, row.shape,
                                row.gflop, s, median(row.seconds.get(s)), row.gflops(s),
                                row.diff.containsKey(s) ? String.format("%.2e", row.diff.get(s)) : ""));
                    }
                }
            }
        }
        Files.write(file, lines);
    }

    static double geomean(List<Row> rows, java.util.function.ToDoubleFunction<Row> f) {
        double s = 0;
        int n = 0;
        for (Row r : rows) {
            double v = f.applyAsDouble(r);
            if (!(v > 0)) {
                return Double.NaN;
            }
            s += Math.log(v);
            n++;
        }
        return n == 0 ? Double.NaN : Math.exp(s / n);
    }

    /** The width of a system's column in a table. */
    static int width(String system) {
        return Math.max(9, system.length());
    }

    /** A ratio: two decimals, three under 0.1, so that a small one does not print as 0.00. */
    static String ratio(double v) {
        return fmt(v, v < 0.1 ? 3 : 2);
    }

    static String fmt(double v, int decimals) {
        return Double.isNaN(v) ? "-" : String.format("%." + decimals + "f", v);
    }

    /** The q-quantile of the first n call times. */
    static double callQuantile(long[] t, int n, double q) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            d[i] = t[i];
        }
        Arrays.sort(d);
        return quantile(d, q);
    }

    static double median(double[] t) {
        double[] s = t.clone();
        Arrays.sort(s);
        return quantile(s, 0.5);
    }

    static double quantile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int i = (int) Math.floor(pos);
        int j = Math.min(i + 1, sorted.length - 1);
        return sorted[i] + (pos - i) * (sorted[j] - sorted[i]);
    }

    /**
     * The layers of {@code --shapes}: comma-separated layer names (from conv4j's benchmark-shapes.csv,
     * then {@link #MOBILENET_CSV}), groups (default, resnet50, mobilenet, ops, all) and CSV files of layers.
     */
    static List<BenchShape> select(String spec) throws IOException {
        List<BenchShape> known = new ArrayList<>(BenchShape.defaults());
        Path mobilenetCsv = findUp(MOBILENET_CSV);
        List<String> mobilenet = new ArrayList<>();
        if (mobilenetCsv != null) {
            for (BenchShape s : BenchShape.load(mobilenetCsv)) {
                mobilenet.add(s.name);
                if (find(known, s.name) == null) {
                    known.add(s);
                }
            }
        }
        List<BenchShape> out = new ArrayList<>();
        for (String item : spec.split(",")) {
            String name = item.trim();
            List<String> names;
            switch (name) {
                case "default":
                    names = new ArrayList<>(RESNET50);
                    names.addAll(MOBILENET_DEFAULT);
                    break;
                case "resnet50":
                    names = RESNET50;
                    break;
                case "mobilenet":
                    names = mobilenetCsv == null ? MOBILENET_DEFAULT : mobilenet;
                    break;
                case OPS:
                    names = new ArrayList<>();
                    for (BenchShape s : BenchShape.defaults()) {
                        if (s.params == null) {
                            names.add(s.name);
                        }
                    }
                    break;
                case "all":
                    names = new ArrayList<>();
                    for (BenchShape s : known) {
                        names.add(s.name);
                    }
                    break;
                default:
                    if (name.endsWith(".csv")) {
                        out.addAll(BenchShape.load(Path.of(name)));
                        continue;
                    }
                    names = List.of(name);
            }
            for (String n : names) {
                BenchShape found = find(known, n);
                if (found == null) {
                    throw new IllegalArgumentException("no shape '" + n + "' in benchmark-shapes.csv"
                            + (mobilenetCsv == null ? " (and no " + MOBILENET_CSV + " found from " + Path.of("").toAbsolutePath()
                                    + " upwards: run from the conv4j folder or below it)" : " or " + mobilenetCsv)
                            + "; there are " + known);
                }
                out.add(found);
            }
        }
        return out;
    }

    private static BenchShape find(List<BenchShape> shapes, String name) {
        for (BenchShape s : shapes) {
            if (s.name.equals(name)) {
                return s;
            }
        }
        return null;
    }

    /** {@code relative} resolved against the working directory or the nearest folder above it that has it, or null. */
    static Path findUp(String relative) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path p = dir.resolve(relative);
            if (Files.isRegularFile(p)) {
                return p.normalize();
            }
        }
        return null;
    }

    static void header(Options o, ConvEngine blas, String torchInfo, String ortInfo, boolean ops) {
        boolean torch = torchInfo != null && !torchInfo.startsWith("skipped");
        boolean ort = ortInfo != null && !ortInfo.startsWith("skipped");
        out.println("conv4j vs oneDNN" + (torch ? " vs libtorch" : "") + (ort ? " vs ONNX Runtime" : "")
                + (ops ? ": 2-D convolution and other operations" : ": 2-D convolution") + ", float32, one JVM, systems interleaved");
        out.println("date:     " + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm")));
        out.println("cpu:      " + cpuModel() + ", " + Runtime.getRuntime().availableProcessors()
                + " logical CPU(s) visible; load average at the start: " + loadAverage());
        out.println("java:     " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        out.println("conv4j:   " + blas.name() + " engine, " + o.threads + " thread(s); "
                + firstWords(org.bytedeco.openblas.global.openblas_full.openblas_get_config().getString(), 4) + ", core "
                + org.bytedeco.openblas.global.openblas_full.openblas_get_corename().getString());
        out.println("oneDNN:   " + DnnlRunners.version() + ", OMP_NUM_THREADS=" + System.getenv("OMP_NUM_THREADS")
                + ", OMP_WAIT_POLICY=" + System.getenv("OMP_WAIT_POLICY"));
        if (torchInfo != null) {
            out.println("libtorch: " + torchInfo);
        }
        if (ortInfo != null) {
            out.println("ORT:      " + ortInfo);
        }
        out.printf("method:   per layer and pass, %d warm-up + %d measured rounds; in each round every system runs"
                + " calls for %d ms after a %d ms pause, in rotating order;%n          time = median over rounds of the"
                + " %s of the burst's call times; GFLOP/s = 2*N*O*(C/G)*KH*KW*OH*OW / time%n", o.warmup, o.rounds, o.burstMs, o.pauseMs,
                o.callQuantile == 0.5 ? "median" : o.callQuantile == 0 ? "minimum" : (int) Math.round(100 * o.callQuantile) + "th percentile");
        out.println("systems:  c4j-blas  ConvEngines.blas(threads): forward/backwardData/backwardWeights into preallocated outputs");
        out.println("          c4j-plan  engine.plan(...) with prepackWeights, plan.forward(x, y)");
        out.println("          c4j-blocked  activations in Layout.NCHW16C, inputs reordered once before timing, outputs"
                + " left blocked: forward the plan of c4j-plan, backward ConvEngines.blas(threads) (gw, gb plain)");
        out.println("          dnnl-nchw oneDNN primitive (convolution_direct) on plain nchw/oihw memory in and out,"
                + " reference implementations skipped");
        out.println("          dnnl-any  oneDNN primitive with format_tag::any for activations and weights: blocked layouts,"
                + " inputs reordered once before timing, outputs left blocked (primitive only)");
        if (torch) {
            out.println("          torch     at::conv2d / at::convolution_backward on tensors wrapping the same memory"
                    + " (allocates its output per call)");
        }
        if (ort) {
            out.println("          ort       forward only: OrtSession.run of a one-node Conv model (W, B initializers),"
                    + " input over the same memory, preallocated pinned output");
        }
        if (ops) {
            out.println("other operations (transposed, 1-D, 3-D convolutions): c4j-blas engine.forward/backwardData/backwardWeights"
                    + " of their params; c4j-plan for conv_transpose2d only (ConvTranspose2dPlan, prepacked weights);");
            out.println("          torch at::conv_transpose2d / conv1d / conv3d (...) and at::convolution_backward (transposed for"
                    + " the transposed ones); dnnl-nchw, dnnl-any for conv3d only (ncdhw/oidhw); other columns empty");
        }
        out.println("all systems: bias in forward, bias gradient in backward-weights; iqr% = widest interquartile"
                + " range of a system's round times, relative to its median");
    }

    static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    static String firstWords(String s, int n) {
        String[] w = s.trim().split("\\s+");
        return String.join(" ", Arrays.copyOf(w, Math.min(n, w.length)));
    }

    private static void pause(int ms) {
        if (ms > 0) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Writes to two streams. */
    static final class Tee extends OutputStream {
        private final OutputStream a, b;

        Tee(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int c) throws IOException {
            a.write(c);
            b.write(c);
        }

        @Override
        public void write(byte[] buf, int off, int len) throws IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }

        @Override
        public void flush() throws IOException {
            a.flush();
            b.flush();
        }
    }

    /**
     * Runs this program again in a new JVM with OMP_NUM_THREADS set, and OMP_WAIT_POLICY (PASSIVE
     * unless set), which OpenMP reads only at start-up.
     */
    static int restart(String[] args, int threads) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Compare.class.getName());
        cmd.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
        pb.environment().putIfAbsent("OMP_WAIT_POLICY", "PASSIVE");
        System.err.println("restarting with OMP_NUM_THREADS=" + threads + " OMP_WAIT_POLICY=" + pb.environment().get("OMP_WAIT_POLICY"));
        return pb.start().waitFor();
    }
}
