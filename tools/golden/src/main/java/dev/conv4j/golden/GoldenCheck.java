package dev.conv4j.golden;

import dev.conv4j.ConvEngine;
import dev.conv4j.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs one golden case through an engine (forward, backward-data, backward-weights with bias) and
 * measures each result against the reference by the scale-free error
 * {@code max|candidate - reference| / max|reference|}, or exactly for the exact-integer cases.
 */
public final class GoldenCheck {
    /** The default bound on the scale-free error of an im2col/direct float32 implementation. */
    public static final double TOLERANCE = 1e-4;

    /** The outcome of one case: each output's error, and the outputs themselves (owned by this object). */
    public static final class Result implements AutoCloseable {
        public final String caseName;
        public final Map<String, Double> errors = new LinkedHashMap<>();
        public final Map<String, Tensor> outputs = new LinkedHashMap<>();
        public boolean passed = true;

        Result(String caseName) {
            this.caseName = caseName;
        }

        /** A short description of the failing outputs, e.g. {@code gx err 3.1e-02 > 1e-04}. */
        public String describeFailures(double tolerance, boolean exact) {
            StringBuilder sb = new StringBuilder();
            errors.forEach((k, v) -> {
                boolean bad = exact ? v != 0 : !(v <= tolerance);
                if (bad) {
                    sb.append(sb.length() == 0 ? "" : ", ").append(k).append(" err ")
                            .append(String.format("%.3e", v)).append(exact ? " (must be exact)" : String.format(" > %.0e", tolerance));
                }
            });
            return sb.toString();
        }

        @Override
        public void close() {
            outputs.values().forEach(Tensor::close);
        }
    }

    private GoldenCheck() {
    }

    /** Runs {@code c} through {@code engine}; an exception from the engine propagates. */
    public static Result run(ConvEngine engine, GoldenCase c, double tolerance) {
        Result r = new Result(c.name);
        try {
            Tensor y = Tensor.zeros(c.y.shape());
            r.outputs.put("y", y);
            y.fill(Float.NaN);
            c.op.forward(engine, c.x, c.w, c.b, y);
            compare(r, "y", y, c.y, c.isExact(), tolerance);
            if (!c.hasBackward()) {
                return r;
            }
            Tensor gx = Tensor.zeros(c.gx.shape());
            r.outputs.put("gx", gx);
            gx.fill(Float.NaN);
            c.op.backwardData(engine, c.gy, c.w, gx);
            Tensor gw = Tensor.zeros(c.gw.shape());
            r.outputs.put("gw", gw);
            gw.fill(Float.NaN);
            Tensor gb = null;
            if (c.gb != null) {
                gb = Tensor.zeros(c.gb.shape());
                r.outputs.put("gb", gb);
                gb.fill(Float.NaN);
            }
            c.op.backwardWeights(engine, c.x, c.gy, gw, gb);
            compare(r, "gx", gx, c.gx, c.isExact(), tolerance);
            compare(r, "gw", gw, c.gw, c.isExact(), tolerance);
            if (gb != null) {
                compare(r, "gb", gb, c.gb, c.isExact(), tolerance);
            }
            return r;
        } catch (RuntimeException | Error e) {
            r.close();
            throw e;
        }
    }

    private static void compare(Result r, String name, Tensor got, Tensor ref, boolean exact, double tolerance) {
        double err = relativeError(got.toArray(), ref.toArray());
        r.errors.put(name, err);
        if (exact ? err != 0 : !(err <= tolerance)) {
            r.passed = false;
        }
    }

    /**
     * {@code max|a - ref| / max|ref|}; NaN when {@code a} holds a NaN (so no bound accepts it);
     * when {@code ref} is all zeros, the absolute error.
     */
    public static double relativeError(float[] a, float[] ref) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < a.length; i++) {
            if (Float.isNaN(a[i])) {
                return Double.NaN;
            }
            maxDiff = Math.max(maxDiff, Math.abs((double) a[i] - ref[i]));
            maxRef = Math.max(maxRef, Math.abs((double) ref[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }
}
