package dev.conv4j.jmh;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose2dPlan;
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
 * The operations beside the 2-D convolution (transposed, 1-D and 3-D layers of the bench suite), per
 * call through the engine and, for a 2-D transposed layer, through its plan.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class OpsBenchmark {
    @Param({"dcgan_up_t2d_b8", "unet_up_t2d_b1", "audio_c1d_b1", "video_c3d_b1"})
    public String shape;

    @Param({"blas", "java"})
    public String engine;

    @Param({"1"})
    public int threads;

    ConvEngine e;
    BenchShape s;
    Tensor x, w, b, y, gy, gx, gw, gb;
    ConvTranspose2dPlan plan;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        s = ConvBenchmark.find(shape);
        e = ConvEngines.byName(engine, threads);
        Random r = new Random(1);
        x = ConvBenchmark.random(r, s.input);
        w = ConvBenchmark.random(r, s.weight);
        b = ConvBenchmark.random(r, s.biasLength);
        gy = ConvBenchmark.random(r, s.output);
        y = Tensor.zeros(s.output);
        gx = Tensor.zeros(s.input);
        gw = Tensor.zeros(s.weight);
        gb = Tensor.zeros(s.biasLength);
        if (s.layer.params() instanceof ConvTranspose2dParams) {
            plan = e.plan((ConvTranspose2dParams) s.layer.params(), s.input, s.weight);
            plan.prepackWeights(w, b);
        }
        System.out.printf("%n%s (%s): %.4f GFLOP per pass%n", shape, s.op, s.flops() / 1e9);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (plan != null) {
            plan.close();
        }
        for (Tensor t : new Tensor[] {x, w, b, y, gy, gx, gw, gb}) {
            t.close();
        }
    }

    @Benchmark
    public void forward() {
        s.layer.forward(e, x, w, b, y);
    }

    /** Forward through a transposed layer's plan (the per-call forward again for the other operations). */
    @Benchmark
    public void planForward() {
        if (plan != null) {
            plan.forward(x, y);
        } else {
            s.layer.forward(e, x, w, b, y);
        }
    }

    @Benchmark
    public void backwardData() {
        s.layer.backwardData(e, gy, w, gx);
    }

    @Benchmark
    public void backwardWeights() {
        s.layer.backwardWeights(e, x, gy, gw, gb);
    }
}
