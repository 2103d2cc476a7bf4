package dev.conv4j.internal.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Shapes wide and tall enough to reach the paths small random shapes never take: the vector blocks
 * of the depthwise kernel (rows of 16 and more outputs), several row bands and channel blocks per
 * image in the GEMM passes, and the 1x1 shortcut with a batch.
 */
class WideShapesTest {
    static Stream<ConvEngine> engines() {
        return Engines.fastStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void depthwiseRowsOfEveryWidth(ConvEngine engine) {
        Random r = new Random(11);
        for (int t = 0; t < 40; t++) {
            int c = 1 + r.nextInt(5), mult = 1 + r.nextInt(2), w = 14 + r.nextInt(90), h = 1 + r.nextInt(6);
            int k = 1 + r.nextInt(5), d = 1 + r.nextInt(2);
            Conv2dParams p = Conv2dParams.builder().groups(c).stride(1, t % 5 == 0 ? 2 : 1).dilation(1, d)
                    .padding(r.nextInt(3), r.nextInt(3), r.nextInt(4), r.nextInt(4)).build();
            check(engine, p, new int[] {1 + r.nextInt(2), c, h + k, w}, new int[] {c * mult, 1, k, k}, r);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void largerLayersSplitIntoManyUnits(ConvEngine engine) {
        Random r = new Random(12);
        check(engine, Conv2dParams.builder().padding(1).build(), new int[] {2, 40, 38, 30}, new int[] {24, 40, 3, 3}, r);
        check(engine, Conv2dParams.builder().stride(2).padding(1, 0, 0, 1).build(), new int[] {1, 70, 30, 33}, new int[] {16, 70, 3, 3}, r);
        check(engine, Conv2dParams.DEFAULT, new int[] {3, 300, 9, 8}, new int[] {20, 300, 1, 1}, r);
        check(engine, Conv2dParams.builder().groups(4).dilation(2).padding(2).build(), new int[] {2, 32, 20, 41}, new int[] {16, 8, 3, 3}, r);
        // one image, few positions, many output channels: the forward pass splits the output channels
        check(engine, Conv2dParams.builder().padding(1).algorithm(dev.conv4j.ConvAlgorithm.IM2COL).build(),
                new int[] {1, 24, 5, 6}, new int[] {600, 24, 3, 3}, r);
        check(engine, Conv2dParams.DEFAULT, new int[] {1, 40, 4, 4}, new int[] {520, 40, 1, 1}, r);
    }

    /**
     * A padding and a stride so large that their sum passes 2^31: the valid-column arithmetic of
     * im2col must not wrap around (it once did, and wrote before the column buffer).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void hugePaddingWithHugeStride(ConvEngine engine) {
        Random r = new Random(13);
        int big = 1 << 30;
        check(engine, Conv2dParams.builder().padding(big, 0, big, 0).stride(big + 1).build(),
                new int[] {1, 2, 4, 4}, new int[] {3, 2, 2, 2}, r);
        // rows inside the image, columns in the padding: the case that wrote out of bounds
        check(engine, Conv2dParams.builder().padding(0, 0, big, 0).stride(1, big + 1).build(),
                new int[] {1, 2, 4, 4}, new int[] {3, 2, 2, 2}, r);
        check(engine, Conv2dParams.builder().padding(0, big, 1, big).stride(big + 1, big + 3).dilation(2).build(),
                new int[] {2, 3, 5, 6}, new int[] {2, 3, 2, 3}, r);
    }

    private static void check(ConvEngine engine, Conv2dParams p, int[] xs, int[] ws, Random r) {
        ConvGeometry g = ConvGeometry.of(p, xs, ws);
        ConvEngine naive = ConvEngines.naive();
        try (Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws); Tensor b = TestData.random(r, 1, g.o);
             Tensor gy = TestData.random(r, 1, g.outputShape());
             Tensor y = TestData.garbage(g.outputShape()); Tensor gx = TestData.garbage(xs);
             Tensor gw = TestData.garbage(ws); Tensor gb = TestData.garbage(g.o);
             Tensor yRef = naive.forward(p, x, w, b); Tensor gxRef = naive.backwardData(p, gy, w, xs);
             Tensor gwRef = Tensor.zeros(ws); Tensor gbRef = Tensor.zeros(g.o)) {
            naive.backwardWeights(p, x, gy, gwRef, gbRef);
            engine.forward(p, x, w, b, y);
            engine.backwardData(p, gy, w, gx);
            engine.backwardWeights(p, x, gy, gw, gb);
            String where = " for " + g;
            assertTrue(TestData.relErr(y.toArray(), yRef.toArray()) <= 1e-5, "y" + where);
            assertTrue(TestData.relErr(gx.toArray(), gxRef.toArray()) <= 1e-5, "gx" + where);
            assertTrue(TestData.relErr(gw.toArray(), gwRef.toArray()) <= 1e-5, "gw" + where);
            assertTrue(TestData.relErr(gb.toArray(), gbRef.toArray()) <= 1e-5, "gb" + where);
        }
    }
}
