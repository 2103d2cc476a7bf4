package dev.conv4j.jmh;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.bench.BenchShape;
import java.io.IOException;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Forward, backward-data and backward-weights of the java and blas engines over the shape suite,
 * with preallocated outputs (so {@code -prof gc} shows what one call allocates). GFLOP/s =
 * {@code 2·N·O·(C/G)·KH·KW·OH·OW / time}; the flops of each shape are printed at setup.
 * The raw sgemm ceiling of the same shapes is {@link SgemmBenchmark}; the naive engine is
 * {@link NaiveBenchmark} (small shapes only).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ConvBenchmark {
    @Param({"tiny_3x3", "lenet_c1_b64", "lenet_c2_b64", "r50_conv1_b1", "r50_res2_3x3_b1", "r50_res2_1x1a_b1",
        "r50_res2_1x1b_b1", "r50_res3_3x3s2_b1", "r50_res3_3x3_b1", "r50_res4_3x3_b1", "r50_res5_3x3_b1",
        "r50_down_1x1s2_b1", "r50_res2_3x3_b8", "r50_res4_3x3_b8", "dilated_3x3_d2_b1", "mbv1_dw_3x3_b1"})
    public String shape;

    @Param({"blas", "java"})
    public String engine;

    @Param({"1"})
    public int threads;

    ConvEngine e;
    BenchShape s;
    Tensor x, w, b, y, gy, gx, gw, gb;
    dev.conv4j.Conv2dPlan plan;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        s = find(shape);
        e = ConvEngines.byName(engine, threads);
        ConvGeometry g = s.geometry();
        Random r = new Random(1);
        x = random(r, g.inputShape());
        w = random(r, g.weightShape());
        b = random(r, g.o);
        gy = random(r, g.outputShape());
        y = Tensor.zeros(g.outputShape());
        gx = Tensor.zeros(g.inputShape());
        gw = Tensor.zeros(g.weightShape());
        gb = Tensor.zeros(g.o);
        plan = e.plan(s.params, g.inputShape(), g.weightShape());
        plan.prepackWeights(w, b);
        System.out.printf("%n%s: %.4f GFLOP per pass%n", shape, g.flops() / 1e9);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        plan.close();
        for (Tensor t : new Tensor[] {x, w, b, y, gy, gx, gw, gb}) {
            t.close();
        }
    }

    @Benchmark
    public void forward() {
        e.forward(s.params, x, w, b, y);
    }

    /** Forward through a plan with prepacked weights (Winograd-transformed where AUTO picks it). */
    @Benchmark
    public void planForward() {
        plan.forward(x, y);
    }

    @Benchmark
    public void backwardData() {
        e.backwardData(s.params, gy, w, gx);
    }

    @Benchmark
    public void backwardWeights() {
        e.backwardWeights(s.params, x, gy, gw, gb);
    }

    static BenchShape find(String name) throws IOException {
        for (BenchShape b : BenchShape.defaults()) {
            if (b.name.equals(name)) {
                return b;
            }
        }
        throw new IllegalArgumentException("no shape " + name);
    }

    static Tensor random(Random r, int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() * 2 - 1;
        }
        return Tensor.of(a, shape);
    }
}
