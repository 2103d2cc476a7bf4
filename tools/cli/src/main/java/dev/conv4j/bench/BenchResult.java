package dev.conv4j.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/** The measured speed of every contender on one shape and pass, in GFLOP/s (absent when not run). */
public final class BenchResult {
    public final BenchShape shape;
    public final Pass pass;
    public final double gflop;
    public final Map<String, Double> gflops = new LinkedHashMap<>();

    BenchResult(BenchShape shape, Pass pass) {
        this.shape = shape;
        this.pass = pass;
        this.gflop = shape.flops() / 1e9;
    }

    public Double get(String contender) {
        return gflops.get(contender);
    }

    /**
     * The channel-blocked pass over the same call on NCHW tensors: {@code blocked / plan} forward (both
     * the blas plan with prepacked weights), {@code blocked / blas} backward (both the engine); else NaN.
     */
    public double blockedOverNchw() {
        return ratio("blocked", pass == Pass.FORWARD ? "plan" : "blas");
    }

    /** {@code a / b} when both were measured, else NaN. */
    public double ratio(String a, String b) {
        Double x = gflops.get(a), y = gflops.get(b);
        return x == null || y == null ? Double.NaN : x / y;
    }
}
