package dev.conv4j.jmh;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
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
 * The channel-blocked layout (NCHW16C) and the fused forward pass, as the {@code blocked} and
 * {@code fused} columns of {@code bench} measure them: a plan with prepacked weights, x and y in
 * NCHW16C (reordered once, at setup); the same with a residual of its own (NCHW16C) and ReLU,
 * {@code y = relu(conv(x) + bias + residual)}; and the engine's backward passes with x, gx and gy in
 * NCHW16C. {@link #planForward} is the plan on NCHW tensors beside them. GFLOP/s counts the
 * convolution alone: {@code 2·N·O·(C/G)·KH·KW·OH·OW / time}, the flops printed at setup.
 *
 * <p>With {@code -prof gc} the plan's calls show about 0 B/op (its staging, where it stages, is its own),
 * and so do the engine's backward passes where a channel-blocked kernel computes them; where the
 * engine stages NCHW16C instead (e.g. im2col layers: r50_res2_1x1a_b1's backward passes), each call
 * makes and frees its staging tensors, about 1.4 kB/op on the heap.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class BlockedBenchmark {
    @Param({"r50_res2_3x3_b1", "r50_res2_1x1a_b1", "r50_res3_3x3s2_b1", "r50_res4_3x3_b1", "r50_res5_3x3_b1",
        "r50_down_1x1s2_b1", "r50_res2_3x3_b8"})
    public String shape;

    @Param({"blas"})
    public String engine;

    @Param({"1"})
    public int threads;

    ConvEngine e;
    BenchShape s;
    /** NCHW: x, y; NCHW16C: xb, yb, residual, gyb, gxb; OIHW and vectors: w, b, gw, gb. */
    Tensor x, y, w, b, xb, yb, residual, gyb, gxb, gw, gb;
    Conv2dPlan plan;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        s = ConvBenchmark.find(shape);
        e = ConvEngines.byName(engine, threads);
        ConvGeometry g = s.geometry();
        Random r = new Random(1);
        x = ConvBenchmark.random(r, g.inputShape());
        w = ConvBenchmark.random(r, g.weightShape());
        b = ConvBenchmark.random(r, g.o);
        y = Tensor.zeros(g.outputShape());
        xb = x.toLayout(Layout.NCHW16C);
        yb = Tensor.zeros(Layout.NCHW16C, g.outputShape());
        try (Tensor res = ConvBenchmark.random(r, g.outputShape()); Tensor gy = ConvBenchmark.random(r, g.outputShape())) {
            residual = res.toLayout(Layout.NCHW16C);
            gyb = gy.toLayout(Layout.NCHW16C);
        }
        gxb = Tensor.zeros(Layout.NCHW16C, g.inputShape());
        gw = Tensor.zeros(g.weightShape());
        gb = Tensor.zeros(g.o);
        plan = e.plan(s.params, g.inputShape(), g.weightShape());
        plan.prepackWeights(w, b);
        System.out.printf("%n%s: %.4f GFLOP per pass%n", shape, g.flops() / 1e9);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        plan.close();
        for (Tensor t : new Tensor[] {x, y, w, b, xb, yb, residual, gyb, gxb, gw, gb}) {
            t.close();
        }
    }

    /** The plan on NCHW tensors, for comparison (as {@link ConvBenchmark#planForward}). */
    @Benchmark
    public void planForward() {
        plan.forward(x, y);
    }

    /** The plan with x and y in NCHW16C. */
    @Benchmark
    public void planForwardBlocked() {
        plan.forward(xb, yb);
    }

    /** The plan in NCHW16C, fused: conv + bias + residual (NCHW16C, a tensor of its own) + ReLU in one call. */
    @Benchmark
    public void planForwardFused() {
        plan.forward(xb, residual, Activation.RELU, yb);
    }

    /** The engine's input gradient with gy and gx in NCHW16C. */
    @Benchmark
    public void backwardDataBlocked() {
        e.backwardData(s.params, gyb, w, gxb);
    }

    /** The engine's weight and bias gradients with x and gy in NCHW16C. */
    @Benchmark
    public void backwardWeightsBlocked() {
        e.backwardWeights(s.params, xb, gyb, gw, gb);
    }
}
