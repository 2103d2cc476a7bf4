package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.conv4j.Conv1dParams;
import dev.conv4j.Conv2dParams.AutoPad;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvTranspose1dParams;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link GeometryOverflowTest} for the transposed (2-D, 1-D) and 1-D convolutions: sizes past the
 * 32-bit range (a transposed output that grows by the stride, the dilation, the output padding or a
 * requested output size; the column matrix of the convolution that runs it; the output channels; the
 * input itself; a derived padding) are refused up front with a message that says so, by
 * {@code outputShape}, by plans and by every engine's calls, never wrapped around or truncated. The
 * oracle is exact arithmetic on the shapes.
 */
class TransposedGeometryOverflowTest {
    private static final int MAX = Integer.MAX_VALUE;
    private static final BigInteger INT_MAX = BigInteger.valueOf(MAX);

    /** One refused 2-D layer: what it is, its parameters and shapes, and a part of the message. */
    private static Object[] refused(String what, ConvTranspose2dParams p, int[] x, int[] w, String part) {
        return new Object[] {what, p, x, w, part};
    }

    /** Each of these is refused by outputShape and by every engine's plan, with a message that names the limit. */
    @Test
    void transposedShapesPastTheIntRangeAreRefusedSayingSo() {
        ConvTranspose2dParams plain = ConvTranspose2dParams.DEFAULT;
        Object[][] cases = {
            refused("(W - 1) * stride wraps an int", ConvTranspose2dParams.builder().stride(4).build(),
                    new int[] {1, 1, 1, 1 << 30}, new int[] {1, 1, 1, 1}, "the output width 4294967293 exceeds 2147483647"),
            refused("a huge dilation", ConvTranspose2dParams.builder().dilation(MAX).build(),
                    new int[] {1, 1, 3, 3}, new int[] {1, 1, 3, 3}, "exceeds 2147483647"),
            refused("a huge output padding", ConvTranspose2dParams.builder().outputPadding(0, MAX).build(),
                    new int[] {1, 1, 1, 1}, new int[] {1, 1, 1, 1}, "the output width 2147483648 exceeds 2147483647"),
            refused("a huge stride on two input rows", ConvTranspose2dParams.builder().stride(MAX, 1).build(),
                    new int[] {1, 1, 3, 1}, new int[] {1, 1, 2, 1}, "exceeds 2147483647"),
            refused("C_out = (C_out / groups) * groups", ConvTranspose2dParams.builder().groups(4).build(),
                    new int[] {1, 4, 1, 1}, new int[] {4, MAX, 1, 1}, "the output channels C_out = 8589934588 exceed"),
            refused("the column matrix of the convolution that runs it", plain,
                    new int[] {1, 1, 1 << 15, 1 << 15}, new int[] {1, 64, 3, 3}, "2147483647"),
            refused("(C_out / groups) * KH * KW", plain,
                    new int[] {1, 1, 1, 1}, new int[] {1, 1 << 20, 1 << 6, 1 << 6}, "2147483647"),
            refused("x itself", plain, new int[] {2, 1, 46341, 46341}, new int[] {1, 1, 1, 1}, "more than 2147483647 elements"),
            refused("a derived padding", ConvTranspose2dParams.builder().stride(MAX, 1).outputSize(1, 1).build(),
                    new int[] {1, 1, MAX, 1}, new int[] {1, 1, 1, 1}, "does not fit an int"),
            refused("a padding past the full output", ConvTranspose2dParams.builder().padding(MAX).build(),
                    new int[] {1, 1, 3, 3}, new int[] {1, 1, 3, 3}, "the output height would be -4294967289"),
        };
        List<Executable> checks = new ArrayList<>();
        for (Object[] c : cases) {
            ConvTranspose2dParams p = (ConvTranspose2dParams) c[1];
            int[] x = (int[]) c[2], w = (int[]) c[3];
            String what = (String) c[0], part = (String) c[4];
            checks.add(() -> expectRefused(what + ": outputShape", part, () -> p.outputShape(x, w)));
            for (ConvEngine e : Engines.all()) {
                checks.add(() -> expectRefused(what + ": " + Engines.label(e) + " plan", part, () -> e.plan(p, x, w).close()));
            }
        }
        // the same along one axis
        int[] x1 = {1, 1, 1 << 30}, w1 = {1, 1, 1};
        checks.add(() -> expectRefused("1-D stride", "the output width 4294967293 exceeds 2147483647",
                () -> ConvTranspose1dParams.builder().stride(4).build().outputShape(x1, w1)));
        checks.add(() -> expectRefused("1-D output padding", "exceeds 2147483647",
                () -> ConvTranspose1dParams.builder().outputPadding(MAX).build().outputShape(new int[] {1, 1, 2}, w1)));
        checks.add(() -> expectRefused("1-D column matrix", "2147483647",
                () -> ConvTranspose1dParams.DEFAULT.outputShape(new int[] {1, 1, 1 << 26}, new int[] {1, 64, 3})));
        checks.add(() -> expectRefused("1-D convolution padding", "more than 2147483647 elements",
                () -> Conv1dParams.builder().padding(MAX / 2 + 3).build().outputShape(new int[] {1, 1, 3}, w1)));
        checks.add(() -> expectRefused("1-D convolution column matrix", "column matrix",
                () -> Conv1dParams.DEFAULT.outputShape(new int[] {1, 64, 1 << 26}, new int[] {1, 64, 3})));
        assertAll(checks);
    }

    private static void expectRefused(String what, String part, Executable call) {
        IllegalArgumentException e;
        try {
            call.execute();
            fail(what + " was accepted");
            return;
        } catch (IllegalArgumentException ex) {
            e = ex;
        } catch (Throwable t) {
            throw new AssertionError(what + " threw " + t + " instead of an IllegalArgumentException", t);
        }
        assertTrue(e.getMessage().contains(part), what + ": the message '" + e.getMessage() + "' lacks '" + part + "'");
    }

    /**
     * Calls on small tensors whose parameters make the output (or the full output) pass the int range are
     * refused by every engine before they write anything, saying so; through plans too.
     */
    @Test
    void enginesRefuseCallsWhoseOutputPassesTheIntRange() {
        ConvTranspose2dParams[] t2 = {ConvTranspose2dParams.builder().outputPadding(MAX, 0).build(),
            ConvTranspose2dParams.builder().stride(1, MAX).build(), ConvTranspose2dParams.builder().dilation(MAX).build()};
        ConvTranspose1dParams[] t1 = {ConvTranspose1dParams.builder().outputPadding(MAX).build(),
            ConvTranspose1dParams.builder().stride(MAX).build()};
        Conv1dParams c1 = Conv1dParams.builder().padding(MAX / 2 + 3).build();
        int calls = 0;
        try (Tensor x = Tensor.zeros(1, 3, 4, 4); Tensor w = Tensor.zeros(3, 3, 3, 3); Tensor y = Tensor.zeros(1, 3, 6, 6);
             Tensor gx = Tensor.zeros(1, 3, 4, 4); Tensor gw = Tensor.zeros(3, 3, 3, 3); Tensor x1 = Tensor.zeros(1, 3, 5);
             Tensor w1 = Tensor.zeros(3, 3, 3); Tensor y1 = Tensor.zeros(1, 3, 7); Tensor gx1 = Tensor.zeros(1, 3, 5);
             Tensor gw1 = Tensor.zeros(3, 3, 3)) {
            for (Tensor t : new Tensor[] {y, gx, gw, y1, gx1, gw1}) {
                t.fill(7f);
            }
            for (ConvEngine e : Engines.all()) {
                List<Executable> bad = new ArrayList<>();
                for (ConvTranspose2dParams p : t2) {
                    bad.add(() -> e.forward(p, x, w, null, y));
                    bad.add(() -> e.forward(p, x, w, null).close());
                    bad.add(() -> e.backwardData(p, y, w, gx, false));
                    bad.add(() -> e.backwardWeights(p, x, y, gw, null, true));
                    bad.add(() -> e.plan(p, x.shape(), w.shape()).close());
                }
                for (ConvTranspose1dParams p : t1) {
                    bad.add(() -> e.forward(p, x1, w1, null, y1));
                    bad.add(() -> e.forward(p, x1, w1, null).close());
                    bad.add(() -> e.backwardData(p, y1, w1, gx1, true));
                    bad.add(() -> e.backwardWeights(p, x1, y1, gw1, null, false));
                }
                bad.add(() -> e.forward(c1, x1, w1, null, y1));
                bad.add(() -> e.forward(c1, x1, w1, null).close());
                bad.add(() -> e.backwardData(c1, y1, w1, gx1, false));
                bad.add(() -> e.backwardWeights(c1, x1, y1, gw1, null, false));
                for (Executable call : bad) {
                    IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, call, Engines.label(e));
                    assertTrue(ex.getMessage().contains("2147483647"), Engines.label(e) + ": " + ex.getMessage());
                    calls++;
                }
            }
            for (Tensor t : new Tensor[] {y, gx, gw, y1, gx1, gw1}) {
                for (float v : t.toArray()) {
                    assertEquals(7f, v, "a refused call wrote into an output");
                }
            }
        }
        assertEquals(Engines.all().size() * 27, calls);
    }

    /**
     * Random huge strides, dilations, paddings, output paddings, output sizes and shapes. An accepted
     * layer's output shape must be the exact one (each size within the int range); a layer must be refused
     * when an exact size (an output axis, C_out) passes the int range or an output axis is empty, and
     * accepted when every size of it is small. (An x or y whose axes fit but whose element count does not
     * is the subject of {@link #tensorsWithMoreElementsThanAnIntAreRefused}.)
     */
    @Test
    void randomHugeTransposedLayersAreJudgedExactly() {
        Random r = new Random(43);
        int accepted = 0, refused = 0, small = 0, tooMany = 0;
        for (int i = 0; i < 10_000; i++) {
            int[] x = {1 + r.nextInt(3), 1 + r.nextInt(4), size(r), size(r)};
            int g = r.nextInt(3) == 0 ? x[1] : 1;
            int[] w = {x[1], r.nextInt(8) == 0 ? big(r) : 1 + r.nextInt(4), 1 + r.nextInt(3), r.nextInt(8) == 0 ? big(r) : 1 + r.nextInt(3)};
            ConvTranspose2dParams.Builder b = ConvTranspose2dParams.builder().groups(g)
                    .stride(value(r, 1), value(r, 1)).dilation(value(r, 1), value(r, 1))
                    .outputPadding(value(r, 0), value(r, 0));
            int mode = r.nextInt(6);
            if (mode == 0) {
                b.autoPad(r.nextBoolean() ? AutoPad.SAME_UPPER : AutoPad.SAME_LOWER);
            } else if (mode == 1) {
                b.outputSize(value(r, 1), value(r, 1));
            } else {
                b.padding(value(r, 0), value(r, 0), value(r, 0), value(r, 0));
            }
            ConvTranspose2dParams p = b.build();
            Exact exact = new Exact(p, x, w);
            int[] out;
            try {
                out = p.outputShape(x, w);
            } catch (IllegalArgumentException e) {
                refused++;
                assertFalse(exact.small(), "a small layer was refused: " + p + " x" + Arrays.toString(x) + " w"
                        + Arrays.toString(w) + ": " + e.getMessage());
                String m = e.getMessage();
                assertTrue(m.contains("exceed") || m.contains("more than") || m.contains("would be") || m.contains("fit"),
                        "the message does not say which size is out of range: " + m);
                continue;
            } catch (RuntimeException e) {
                throw new AssertionError("outputShape threw " + e + " for " + p + " x" + Arrays.toString(x) + " w"
                        + Arrays.toString(w), e);
            }
            accepted++;
            String where = p + " x" + Arrays.toString(x) + " w" + Arrays.toString(w) + " -> " + Arrays.toString(out);
            assertFalse(exact.mustRefuse(), "accepted though an exact size is out of range (" + exact + "): " + where);
            assertArrayEquals(exact.shape(), out, "not the exact output shape: " + where);
            small += exact.small() ? 1 : 0;
            tooMany += exact.tooManyElements() ? 1 : 0;
        }
        System.out.printf("transposed geometry: %d random layers accepted (%d of them small, %d with an x or y of more than"
                + " 2^31-1 elements), %d refused%n", accepted, small, tooMany, refused);
        assertTrue(accepted > 1000 && refused > 1000 && small > 500, accepted + " accepted (" + small + " small), " + refused
                + " refused");
    }

    /** A size: mostly small, sometimes huge. */
    private static int size(Random r) {
        return r.nextInt(4) == 0 ? big(r) : 1 + r.nextInt(8);
    }

    private static int big(Random r) {
        return new int[] {MAX, MAX - 1, 1 << 30, 65536, 46341, (1 << 16) + r.nextInt(MAX - (1 << 16))}[r.nextInt(6)];
    }

    /** A parameter value: mostly small (from {@code min}), sometimes huge. */
    private static int value(Random r, int min) {
        return r.nextInt(5) == 0 ? big(r) : min + r.nextInt(3);
    }

    /** The exact geometry of a transposed layer, per its class comment, in arbitrary precision. */
    private static final class Exact {
        final BigInteger[] full = new BigInteger[2], out = new BigInteger[2], pad = new BigInteger[4];
        final BigInteger cout, xElements, column;
        final int[] x;

        Exact(ConvTranspose2dParams p, int[] x, int[] w) {
            this.x = x;
            int[] s = {p.strideH(), p.strideW()}, d = {p.dilationH(), p.dilationW()}, op = {p.outputPaddingH(), p.outputPaddingW()};
            int[] explicit = p.explicitPadding(), size = p.outputSize();
            for (int a = 0; a < 2; a++) {
                BigInteger in = big(x[2 + a]);
                full[a] = in.subtract(BigInteger.ONE).multiply(big(s[a])).add(big(d[a]).multiply(big(w[2 + a] - 1))).add(BigInteger.ONE);
                BigInteger begin, end;
                if (size != null || p.autoPad() == AutoPad.SAME_UPPER || p.autoPad() == AutoPad.SAME_LOWER) {
                    BigInteger target = size != null ? big(size[a]) : in.multiply(big(s[a]));
                    BigInteger total = full[a].add(big(op[a])).subtract(target);
                    BigInteger small = floorHalf(total);
                    begin = p.autoPad() == AutoPad.SAME_UPPER ? small : total.subtract(small);
                    end = total.subtract(begin);
                } else {
                    begin = big(explicit[2 * a]);
                    end = big(explicit[2 * a + 1]);
                }
                pad[2 * a] = begin;
                pad[2 * a + 1] = end;
                out[a] = full[a].add(big(op[a])).subtract(begin).subtract(end);
            }
            cout = big(w[1]).multiply(big(p.groups()));
            xElements = product(x[0], x[1], x[2], x[3]);
            column = big(w[1]).multiply(big(w[2])).multiply(big(w[3])).multiply(big(x[2])).multiply(big(x[3]));
        }

        private static BigInteger floorHalf(BigInteger v) {
            BigInteger[] qr = v.divideAndRemainder(BigInteger.TWO);
            return qr[1].signum() < 0 ? qr[0].subtract(BigInteger.ONE) : qr[0];
        }

        /** An output axis is empty or past the int range, or C_out is. */
        boolean mustRefuse() {
            for (BigInteger o : out) {
                if (o.signum() < 1 || o.compareTo(INT_MAX) > 0) {
                    return true;
                }
            }
            return cout.compareTo(INT_MAX) > 0;
        }

        /** x or y has more elements than an int counts. */
        boolean tooManyElements() {
            BigInteger y = big(x[0]).multiply(cout).multiply(out[0].abs()).multiply(out[1].abs());
            return xElements.compareTo(INT_MAX) > 0 || y.compareTo(INT_MAX) > 0;
        }

        /** Every size of the layer is far inside the int range: it must be accepted. */
        boolean small() {
            BigInteger limit = BigInteger.ONE.shiftLeft(24);
            for (BigInteger v : new BigInteger[] {full[0], full[1], out[0].abs(), out[1].abs(), pad[0].abs(), pad[1].abs(),
                pad[2].abs(), pad[3].abs(), cout, xElements, column, product(out[0].max(BigInteger.ONE), out[1].max(BigInteger.ONE))
                    .multiply(cout).multiply(big(x[0]))}) {
                if (v.compareTo(limit) > 0) {
                    return false;
                }
            }
            return out[0].signum() > 0 && out[1].signum() > 0;
        }

        int[] shape() {
            return new int[] {x[0], cout.intValueExact(), out[0].intValueExact(), out[1].intValueExact()};
        }

        @Override
        public String toString() {
            return "full " + Arrays.toString(full) + ", padding " + Arrays.toString(pad) + ", output " + Arrays.toString(out)
                    + ", C_out " + cout + ", x elements " + xElements;
        }
    }

    private static BigInteger big(long v) {
        return BigInteger.valueOf(v);
    }

    private static BigInteger product(int... v) {
        BigInteger n = BigInteger.ONE;
        for (int f : v) {
            n = n.multiply(big(f));
        }
        return n;
    }

    private static BigInteger product(BigInteger a, BigInteger b) {
        return a.multiply(b);
    }

    /**
     * A transposed output whose every axis fits an int but whose element count N·C_out·OH·OW does not
     * is refused by outputShape and by plans, as {@code Conv2dParams.outputShape} refuses such a
     * convolution output (GeometryOverflowTest): no tensor can hold it. The same for an x of more elements
     * than an int counts, whatever the output.
     */
    @Test
    void tensorsWithMoreElementsThanAnIntAreRefused() {
        Object[][] cases = {
            {ConvTranspose2dParams.builder().stride(1 << 20).build(), new int[] {1, 1, 2, 2}, new int[] {1, 1, 1, 1}},
            {ConvTranspose2dParams.builder().outputSize(MAX, MAX).build(), new int[] {1, 1, 3, 3}, new int[] {1, 1, 1, 1}},
            {ConvTranspose2dParams.builder().outputPadding(1 << 16).build(), new int[] {1, 1, 1, 1}, new int[] {1, 1, 1, 1}},
            {ConvTranspose2dParams.builder().stride(1 << 16).build(), new int[] {1, 4, 2, 2}, new int[] {4, 4, 3, 3}},
            // an x of 1.5e11 elements, accepted because its output is the bias alone (no convolution is built to check x)
            {ConvTranspose2dParams.builder().outputPadding(0, 1 << 20).outputSize(3, 3).build(), new int[] {3, 3, MAX, 8},
                new int[] {3, 1, 1, 1}},
        };
        List<Executable> checks = new ArrayList<>();
        for (Object[] c : cases) {
            ConvTranspose2dParams p = (ConvTranspose2dParams) c[0];
            int[] x = (int[]) c[1], w = (int[]) c[2];
            String what = p + " x" + Arrays.toString(x) + " w" + Arrays.toString(w);
            checks.add(() -> expectRefused(what + ": outputShape", "2147483647", () -> p.outputShape(x, w)));
            for (ConvEngine e : Engines.all()) {
                checks.add(() -> expectRefused(what + ": " + Engines.label(e) + " plan", "2147483647", () -> e.plan(p, x, w).close()));
            }
        }
        checks.add(() -> expectRefused("1-D output size 2^31-1 on a batch of 2", "2147483647",
                () -> ConvTranspose1dParams.builder().outputSize(MAX).build().outputShape(new int[] {2, 1, 3}, new int[] {1, 1, 1})));
        assertAll(checks);
    }

    /**
     * A refusal names the size that is out of range: x when x has too many elements (not "the output",
     * which is the convolution's that runs the transposed one), and the full output, not "the output
     * height", when only the full output before cropping passes the int range.
     */
    @Test
    void refusalsNameTheSizeThatIsOutOfRange() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConvTranspose2dParams.builder().padding(20_000).build().outputShape(new int[] {2, 1, 46341, 46341},
                        new int[] {1, 1, 3, 3}));
        assertFalse(e.getMessage().startsWith("the output ["), e.getMessage());
        assertTrue(e.getMessage().startsWith("x ") || e.getMessage().startsWith("the input") || e.getMessage().startsWith("input"),
                e.getMessage());
        ConvTranspose2dParams cropped = ConvTranspose2dParams.builder().stride(MAX, 1).padding(MAX / 2, MAX / 2, 0, 0).build();
        try {
            assertArrayEquals(new int[] {1, 1, 2, 1}, cropped.outputShape(new int[] {1, 1, 2, 1}, new int[] {1, 1, 1, 1}));
        } catch (IllegalArgumentException ex) {
            assertFalse(ex.getMessage().contains("the output height 2147483648"), ex.getMessage());
        }
    }
}
