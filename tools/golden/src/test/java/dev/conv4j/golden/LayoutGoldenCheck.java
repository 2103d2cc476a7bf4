package dev.conv4j.golden;

import dev.conv4j.ConvEngine;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;

/**
 * {@link GoldenCheck#run} with the activations in another layout: x and gy reordered into it, y and gx
 * written into it (wrapped memory full of NaN, NCHW16C padding channels included), the weights and their
 * gradient in OIHW as always; the results are compared in logical order, and NCHW16C outputs must come
 * out with zero padding channels.
 */
final class LayoutGoldenCheck {
    private LayoutGoldenCheck() {
    }

    static GoldenCheck.Result run(ConvEngine engine, GoldenCase c, Layout layout, double tolerance) {
        if (layout == Layout.NCHW) {
            return GoldenCheck.run(engine, c, tolerance);
        }
        GoldenCheck.Result r = new GoldenCheck.Result(c.name);
        try (Tensor x = c.x.toLayout(layout); Tensor gy = c.gy.toLayout(layout)) {
            Tensor y = TestData.garbage(layout, c.y.shape());
            r.outputs.put("y", y);
            engine.forward(c.params, x, c.w, c.b, y);
            Tensor gx = TestData.garbage(layout, c.gx.shape());
            r.outputs.put("gx", gx);
            engine.backwardData(c.params, gy, c.w, gx);
            Tensor gw = TestData.garbage(c.gw.shape());
            r.outputs.put("gw", gw);
            Tensor gb = null;
            if (c.gb != null) {
                gb = TestData.garbage(c.gb.shape());
                r.outputs.put("gb", gb);
            }
            engine.backwardWeights(c.params, x, gy, gw, gb);
            compare(r, "y", y, c.y, c.isExact(), tolerance);
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

    private static void compare(GoldenCheck.Result r, String name, Tensor got, Tensor ref, boolean exact, double tolerance) {
        double err = GoldenCheck.relativeError(TestData.logical(got), ref.toArray());
        if (!paddingIsZero(got)) {
            err = Double.NaN; // fails every bound: a padding channel was left as it was
        }
        r.errors.put(name, err);
        if (exact ? err != 0 : !(err <= tolerance)) {
            r.passed = false;
        }
    }

    private static boolean paddingIsZero(Tensor t) {
        if (t.layout() != Layout.NCHW16C) {
            return true;
        }
        int[] s = t.shape();
        float[] mem = t.toArray();
        int blocks = (s[1] + 15) / 16, p = s[2] * s[3];
        for (int n = 0; n < s[0]; n++) {
            for (int c = s[1]; c < blocks * 16; c++) {
                for (int q = 0; q < p; q++) {
                    if (Float.floatToRawIntBits(mem[((n * blocks + c / 16) * p + q) * 16 + c % 16]) != 0) {
                        return false;
                    }
                }
            }
        }
        return true;
    }
}
