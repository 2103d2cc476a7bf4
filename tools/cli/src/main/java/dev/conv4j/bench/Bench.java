package dev.conv4j.bench;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Measures the engines and the raw sgemm ceiling over a list of shapes, interleaving their samples
 * within each shape and pass so that all contenders see the same machine. With the blas engine it
 * also measures the channel-blocked layout: {@code blocked} is the pass with its activations in
 * NCHW16C (forward: the blas plan with prepacked weights; backward: the engine) and {@code fused}
 * the plan's forward pass in NCHW16C with a residual and ReLU; their inputs are reordered once,
 * before timing, and the flops counted are the convolution's alone.
 */
public final class Bench {
    /** Settings of one run. */
    public static final class Config {
        public int threads = 1;
        public List<Pass> passes = List.of(Pass.FORWARD, Pass.BACKWARD_DATA, Pass.BACKWARD_WEIGHTS);
        public List<String> engines = List.of("naive", "java", "blas");
        public int samples = 5;
        public long warmupNanos = 200_000_000L;
        public long sampleNanos = 40_000_000L;
        /** The naive engine runs only on shapes of at most this many GFLOP per pass. */
        public double naiveMaxGflop = 0.3;
    }

    private final Config config;
    private final PrintStream progress;

    public Bench(Config config, PrintStream progress) {
        this.config = config;
        this.progress = progress;
    }

    public List<BenchResult> run(List<BenchShape> shapes) {
        Map<String, ConvEngine> engines = new LinkedHashMap<>();
        for (String e : config.engines) {
            engines.put(e, ConvEngines.byName(e, config.threads));
        }
        if (config.threads > 1 && engines.containsKey("blas")) {
            // the speed-up over one thread, measured interleaved with the rest: runs apart drift too much
            engines.put("blas1", ConvEngines.blas(1));
        }
        boolean ceiling = ConvEngines.isNativeAvailable();
        List<BenchResult> results = new ArrayList<>();
        int i = 0;
        for (BenchShape s : shapes) {
            i++;
            for (Pass pass : config.passes) {
                progress.printf("\r[%2d/%d] %-22s %-11s", i, shapes.size(), s.name, pass.label);
                progress.flush();
                results.add(measure(s, pass, engines, ceiling));
            }
        }
        progress.printf("\r%60s\r", "");
        return results;
    }

    private BenchResult measure(BenchShape s, Pass pass, Map<String, ConvEngine> engines, boolean ceiling) {
        BenchResult r = new BenchResult(s, pass);
        Random rnd = new Random(42);
        Conv2dPlan plan = null;
        // the channel-blocked contenders (plan, NCHW16C) are those of the 2-D convolution
        boolean blocked = engines.containsKey("blas") && s.params != null, forward = pass == Pass.FORWARD;
        try (Tensor x = random(rnd, s.input); Tensor w = random(rnd, s.weight);
             Tensor b = random(rnd, s.biasLength); Tensor y = Tensor.zeros(s.output);
             Tensor gy = random(rnd, s.output); Tensor gx = Tensor.zeros(s.input);
             Tensor gw = Tensor.zeros(s.weight); Tensor gb = Tensor.zeros(s.biasLength);
             // the same data in NCHW16C, reordered once here: the blocked contenders time the pass alone
             Tensor xb = blocked && pass != Pass.BACKWARD_DATA ? x.toLayout(Layout.NCHW16C) : null;
             Tensor yb = blocked && forward ? Tensor.zeros(Layout.NCHW16C, s.output) : null;
             Tensor residual = blocked && forward ? random(rnd, Layout.NCHW16C, s.output) : null;
             Tensor gyb = blocked && !forward ? gy.toLayout(Layout.NCHW16C) : null;
             Tensor gxb = blocked && pass == Pass.BACKWARD_DATA ? Tensor.zeros(Layout.NCHW16C, s.input) : null;
             SgemmCeiling sgemm = ceiling ? new SgemmCeiling(s.products, pass) : null) {
            Map<String, Stopwatch> watches = new LinkedHashMap<>();
            for (Map.Entry<String, ConvEngine> e : engines.entrySet()) {
                if (e.getKey().equals("naive") && r.gflop > config.naiveMaxGflop) {
                    continue;
                }
                ConvEngine engine = e.getValue();
                Runnable call;
                switch (pass) {
                    case FORWARD:
                        call = () -> s.layer.forward(engine, x, w, b, y);
                        break;
                    case BACKWARD_DATA:
                        call = () -> s.layer.backwardData(engine, gy, w, gx);
                        break;
                    default:
                        call = () -> s.layer.backwardWeights(engine, x, gy, gw, gb);
                        break;
                }
                boolean naive = e.getKey().equals("naive");
                watches.put(e.getKey(), new Stopwatch(call, naive ? 1 : config.samples));
            }
            if (forward && blocked) {
                plan = engines.get("blas").plan(s.params, s.input, s.weight);
                plan.prepackWeights(w, b);
                Conv2dPlan p = plan;
                watches.put("plan", new Stopwatch(() -> p.forward(x, y), config.samples));
                watches.put("blocked", new Stopwatch(() -> p.forward(xb, yb), config.samples));
                // conv + bias + residual + ReLU in one call; the residual is a tensor of its own, so every
                // call computes the same
                watches.put("fused", new Stopwatch(() -> p.forward(xb, residual, Activation.RELU, yb), config.samples));
            } else if (blocked) {
                ConvEngine blas = engines.get("blas");
                watches.put("blocked", new Stopwatch(pass == Pass.BACKWARD_DATA
                        ? () -> blas.backwardData(s.params, gyb, w, gxb)
                        : () -> blas.backwardWeights(s.params, xb, gyb, gw, gb), config.samples));
            }
            if (sgemm != null) {
                watches.put("sgemm", new Stopwatch(sgemm::run, config.samples));
            }
            for (Map.Entry<String, Stopwatch> e : watches.entrySet()) {
                withCeilingThreads(e.getKey(), () -> e.getValue().warmUp(
                        e.getKey().equals("naive") ? 1 : config.warmupNanos, config.sampleNanos));
            }
            if (config.threads > 1 && watches.containsKey("sgemm")) {
                pause(OPENBLAS_IDLE_MILLIS);
            }
            // With several threads the ceiling runs OpenBLAS's own threads, which spin for a while after
            // each call and would steal cores from the engines: sample it apart, after them, then wait.
            Stopwatch ceilingWatch = config.threads > 1 ? watches.remove("sgemm") : null;
            boolean more = true;
            while (more) {
                more = false;
                for (Map.Entry<String, Stopwatch> e : watches.entrySet()) {
                    if (!e.getValue().done()) {
                        withCeilingThreads(e.getKey(), e.getValue()::sample);
                        more |= !e.getValue().done();
                    }
                }
            }
            if (ceilingWatch != null) {
                withCeilingThreads("sgemm", () -> {
                    while (!ceilingWatch.done()) {
                        ceilingWatch.sample();
                    }
                });
                watches.put("sgemm", ceilingWatch);
                pause(OPENBLAS_IDLE_MILLIS);
            }
            watches.forEach((k, v) -> r.gflops.put(k, s.flops() / v.median() / 1e9));
        } finally {
            if (plan != null) {
                plan.close();
            }
        }
        return r;
    }

    /** The sgemm ceiling runs with as many OpenBLAS threads as the engines get; the engines with OpenBLAS at 1. */
    private void withCeilingThreads(String contender, Runnable r) {
        if (!contender.equals("sgemm") || config.threads == 1) {
            r.run();
            return;
        }
        SgemmCeiling.threads(config.threads);
        try {
            r.run();
        } finally {
            SgemmCeiling.threads(1);
        }
    }

    /** Longer than OpenBLAS's threads keep spinning after their last call (about 0.1 s). */
    private static final long OPENBLAS_IDLE_MILLIS = 200;

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Tensor random(Random r, Layout layout, int... shape) {
        try (Tensor t = random(r, shape)) {
            return t.toLayout(layout);
        }
    }

    private static Tensor random(Random r, int... shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] a = new float[(int) n];
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextFloat() * 2 - 1;
        }
        return Tensor.of(a, shape);
    }
}
