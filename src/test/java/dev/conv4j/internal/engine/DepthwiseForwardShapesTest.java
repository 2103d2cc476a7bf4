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
 * The depthwise forward pass on output widths below, at and above the vector width (16 floats),
 * so that rows are a partial vector, whole vectors, or both; with every padding the kernel can
 * meet at the borders, strides and dilations that split the input rows into phases, output rows
 * that do not fill a band of four, and strides far larger than the kernel. Outputs start as NaN,
 * so a column or row left unwritten fails too.
 */
class DepthwiseForwardShapesTest {
    private static final int[] WIDTHS = {1, 2, 3, 5, 15, 16, 17, 31, 33, 64, 112, 113};

    static Stream<ConvEngine> engines() {
        return Engines.fastStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void everyWidthStrideAndPadding(ConvEngine engine) {
        Random r = new Random(21);
        for (int w : WIDTHS) {
            for (int pad = 0; pad <= 2; pad++) {
                for (int stride = 1; stride <= 2; stride++) {
                    for (int dilation = 1; dilation <= 2; dilation++) {
                        int h = 1 + r.nextInt(9), k = 1 + 2 * r.nextInt(3), c = 2 + r.nextInt(2), mult = 1 + r.nextInt(2);
                        if (r.nextInt(3) > 0) {
                            k = 3;  // the 3x3 kernels have their own code
                        }
                        if (w + 2 * pad < dilation * (k - 1) + 1) {
                            continue;  // no output column
                        }
                        Conv2dParams p = Conv2dParams.builder().groups(c).stride(stride).padding(pad).dilation(dilation).build();
                        check(engine, p, new int[] {1 + r.nextInt(2), c, h + dilation * (k - 1), w}, new int[] {c * mult, 1, k, k}, r.nextBoolean(), r);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void unevenStridesPaddingsAndKernels(ConvEngine engine) {
        Random r = new Random(22);
        // rows and columns with different strides, dilations and one-sided paddings
        check(engine, Conv2dParams.builder().groups(3).stride(1, 2).padding(2, 0, 0, 1).build(),
                new int[] {1, 3, 9, 40}, new int[] {3, 1, 3, 3}, true, r);
        check(engine, Conv2dParams.builder().groups(2).stride(2, 1).dilation(1, 2).padding(0, 1, 2, 2).build(),
                new int[] {2, 2, 11, 33}, new int[] {4, 1, 3, 3}, false, r);
        check(engine, Conv2dParams.builder().groups(2).stride(2).dilation(2).padding(2).build(),
                new int[] {1, 2, 13, 37}, new int[] {2, 1, 3, 3}, true, r);
        check(engine, Conv2dParams.builder().groups(2).stride(3).padding(1).build(),
                new int[] {1, 2, 14, 50}, new int[] {2, 1, 3, 2}, true, r);
        check(engine, Conv2dParams.builder().groups(4).padding(3).build(),
                new int[] {1, 4, 10, 29}, new int[] {8, 1, 7, 7}, true, r);
        // a stride far larger than the kernel: the input rows of a band are far apart
        check(engine, Conv2dParams.builder().groups(2).stride(5).build(),
                new int[] {1, 2, 21, 70}, new int[] {2, 1, 2, 2}, true, r);
        check(engine, Conv2dParams.builder().groups(2).stride(3).dilation(2).padding(1).build(),
                new int[] {1, 2, 20, 45}, new int[] {2, 1, 2, 3}, false, r);
        check(engine, Conv2dParams.builder().groups(3).stride(4, 6).padding(2).build(),
                new int[] {1, 3, 17, 100}, new int[] {3, 1, 1, 1}, true, r);
        // padding wider than the image
        check(engine, Conv2dParams.builder().groups(2).padding(5).build(),
                new int[] {1, 2, 3, 4}, new int[] {2, 1, 3, 3}, true, r);
        // many channels on a small plane: units of many channels, the last one shorter
        check(engine, Conv2dParams.builder().groups(203).stride(2).padding(1).build(),
                new int[] {2, 203, 14, 14}, new int[] {406, 1, 3, 3}, true, r);
        // a kernel wider than 16 columns
        check(engine, Conv2dParams.builder().groups(2).padding(0, 0, 9, 9).build(),
                new int[] {1, 2, 3, 20}, new int[] {2, 1, 1, 19}, true, r);
    }

    private static void check(ConvEngine engine, Conv2dParams p, int[] xs, int[] ws, boolean bias, Random r) {
        ConvGeometry g = ConvGeometry.of(p, xs, ws);
        try (Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws);
             Tensor b = bias ? TestData.random(r, 1, g.o) : null;
             Tensor y = TestData.garbage(g.outputShape());
             Tensor yRef = ConvEngines.naive().forward(p, x, w, b)) {
            engine.forward(p, x, w, b, y);
            assertTrue(g.isDepthwise(), g + " is not depthwise");
            assertTrue(TestData.relErr(y.toArray(), yRef.toArray()) <= 1e-5, "y for " + g + (bias ? " with bias" : ""));
        }
    }
}
