package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import java.math.BigInteger;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Sizes whose element counts do not fit the 32-bit integers of BLAS and the native kernels are
 * rejected up front with a message that says so, never wrapped around or truncated. The oracle is
 * exact arithmetic on the shapes.
 */
class GeometryOverflowTest {
    private static final BigInteger INT_MAX = BigInteger.valueOf(Integer.MAX_VALUE);

    /** Engine entry points recheck the sizes themselves: a huge padding on small tensors is refused, saying why. */
    @Test
    void enginesRefuseAnOutputWhoseElementCountOverflowsLong() {
        Conv2dParams p = Conv2dParams.builder().padding(1789256478, 0, 1789256478, 2).build();
        try (Tensor x = Tensor.zeros(1, 3, 4, 4); Tensor w = Tensor.zeros(3, 3, 1, 1); Tensor y = Tensor.zeros(1, 3, 2, 2);
             Tensor gx = Tensor.zeros(1, 3, 4, 4); Tensor gw = Tensor.zeros(3, 3, 1, 1)) {
            for (ConvEngine e : Engines.all()) {
                for (org.junit.jupiter.api.function.Executable call : new org.junit.jupiter.api.function.Executable[] {
                    () -> e.forward(p, x, w, null, y), () -> e.backwardData(p, y, w, gx), () -> e.backwardWeights(p, x, y, gw, null)}) {
                    IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, call);
                    assertTrue(ex.getMessage().contains("does not fit the 32-bit sizes"), Engines.label(e) + ": " + ex.getMessage());
                }
            }
        }
    }

    /**
     * {@link ConvGeometry#of} (and so {@link Conv2dParams#outputShape}) computes N·O·OH·OW and
     * (C/G)·KH·KW·OH·OW in 64-bit arithmetic that can wrap around, and stores (C/G)·KH·KW in an int.
     * These shapes must be rejected.
     */
    @Test
    void geometryRejectsSizesThatOverflow() {
        int max = Integer.MAX_VALUE;
        assertAll(
            // N·O·OH·OW = (2^31-1)^2·4 wraps to a negative long
            () -> expectRejected(Conv2dParams.DEFAULT, new int[] {max, 1, 2, 2}, new int[] {max, 1, 1, 1}),
            // OH·OW ≈ 3.2e18, times O = 3 wraps around
            () -> expectRejected(Conv2dParams.builder().padding(1789256478, 0, 1789256478, 2).build(),
                    new int[] {1, 3, 4, 4}, new int[] {3, 3, 1, 1}),
            // (C/G)·KH·KW = 2^20·2^22·2^22 = 2^64 wraps to 0, and the int field k is 0
            () -> expectRejected(Conv2dParams.builder().padding((1 << 21) - 1, 1 << 21, (1 << 21) - 1, 1 << 21).build(),
                    new int[] {1, 1 << 20, 1, 1}, new int[] {1, 1 << 20, 1 << 22, 1 << 22}));
    }

    /** Random huge shapes: whenever the exact output or column-matrix size exceeds an int, outputShape must throw. */
    @Test
    void randomHugeShapesAreJudgedExactly() {
        Random r = new Random(41);
        int wrongly = 0, checked = 0;
        String example = null;
        for (int i = 0; i < 20_000; i++) {
            int big = (1 << 16) + r.nextInt(Integer.MAX_VALUE - (1 << 16));
            int[] x = {1 + r.nextInt(3), 1 + r.nextInt(4), 1 + r.nextInt(8), 1 + r.nextInt(8)};
            int[] w = {1 + r.nextInt(9), x[1], 1, 1};
            Conv2dParams p = Conv2dParams.builder().padding(big, r.nextBoolean() ? big : 0, big, r.nextInt(3)).build();
            int[] out;
            try {
                out = p.outputShape(x, w);
            } catch (IllegalArgumentException e) {
                continue;
            }
            checked++;
            BigInteger n = BigInteger.ONE;
            for (int d : out) {
                n = n.multiply(BigInteger.valueOf(d));
            }
            if (n.compareTo(INT_MAX) > 0) {
                wrongly++;
                example = p + " x" + Arrays.toString(x) + " w" + Arrays.toString(w) + " -> " + Arrays.toString(out) + " = " + n;
            }
        }
        assertTrue(wrongly == 0, wrongly + " of " + checked + " accepted shapes have more than 2^31-1 output elements, e.g. " + example);
    }

    private static void expectRejected(Conv2dParams p, int[] x, int[] w) {
        try {
            ConvGeometry g = ConvGeometry.of(p, x, w);
            throw new AssertionError("accepted " + p + " x" + Arrays.toString(x) + " w" + Arrays.toString(w) + ": output "
                    + Arrays.toString(g.outputShape()) + ", k = " + g.k + " (exact (C/G)*KH*KW = "
                    + BigInteger.valueOf(w[1]).multiply(BigInteger.valueOf(w[2])).multiply(BigInteger.valueOf(w[3])) + ")");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains(String.valueOf(Integer.MAX_VALUE)) || expected.getMessage().contains("exceed"),
                    expected.getMessage());
        }
    }
}
