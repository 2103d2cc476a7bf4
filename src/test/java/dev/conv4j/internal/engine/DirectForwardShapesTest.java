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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The small-layer forward pass (the blas engine's direct kernel): output widths below, at and
 * above its 8 columns, output-channel counts that do and do not fill its groups of 8, groups,
 * dilation, one-sided and oversized padding, and batches split into units. Outputs start as NaN,
 * so a column or channel left unwritten fails too.
 */
class DirectForwardShapesTest {
    private static final int[] WIDTHS = {1, 2, 3, 7, 8, 9, 15, 16, 17, 33};

    static Stream<ConvEngine> engines() {
        return Engines.fastStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void everyWidthChannelCountAndPadding(ConvEngine engine) {
        Random r = new Random(31);
        for (int w : WIDTHS) {
            for (int o : new int[] {1, 5, 8, 9, 16}) {
                for (int pad = 0; pad <= 2; pad++) {
                    int k = 1 + 2 * r.nextInt(3), dilation = 1 + r.nextInt(2), groups = 1 + r.nextInt(2);
                    if (k == 1) {
                        k = 3;
                    }
                    if (w + 2 * pad < dilation * (k - 1) + 1) {
                        continue;  // no output column
                    }
                    int c = groups * (1 + r.nextInt(4)), h = 1 + r.nextInt(6) + dilation * (k - 1);
                    Conv2dParams p = Conv2dParams.builder().groups(groups).padding(pad).dilation(dilation).build();
                    check(engine, p, new int[] {1 + r.nextInt(3), c, h, w}, new int[] {groups * o, c / groups, k, k},
                            r.nextBoolean(), r);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void unevenPaddingsKernelsAndTheBenchmarkShapes(ConvEngine engine) {
        Random r = new Random(32);
        check(engine, Conv2dParams.builder().padding(2, 0, 0, 1).build(), new int[] {1, 3, 9, 40}, new int[] {6, 3, 3, 2}, true, r);
        check(engine, Conv2dParams.builder().padding(5).build(), new int[] {1, 2, 3, 4}, new int[] {4, 2, 3, 3}, true, r);
        check(engine, Conv2dParams.builder().dilation(2, 1).padding(0, 1, 3, 3).build(), new int[] {2, 4, 11, 21},
                new int[] {12, 4, 3, 5}, false, r);
        check(engine, Conv2dParams.builder().groups(4).padding(1).build(), new int[] {1, 32, 12, 12}, new int[] {64, 8, 3, 3}, true, r);
        check(engine, Conv2dParams.builder().padding(1).build(), new int[] {1, 3, 8, 8}, new int[] {8, 3, 3, 3}, true, r);
        check(engine, Conv2dParams.builder().build(), new int[] {4, 1, 28, 28}, new int[] {6, 1, 5, 5}, true, r);
        check(engine, Conv2dParams.builder().build(), new int[] {4, 6, 14, 14}, new int[] {16, 6, 5, 5}, true, r);
    }

    private static void check(ConvEngine engine, Conv2dParams p, int[] xs, int[] ws, boolean bias, Random r) {
        ConvGeometry g = ConvGeometry.of(p, xs, ws);
        try (Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws);
             Tensor b = bias ? TestData.random(r, 1, g.o) : null;
             Tensor y = TestData.garbage(g.outputShape());
             Tensor yRef = ConvEngines.naive().forward(p, x, w, b)) {
            engine.forward(p, x, w, b, y);
            assertTrue(TestData.relErr(y.toArray(), yRef.toArray()) <= 1e-5, "y for " + g + (bias ? " with bias" : ""));
        }
    }

    /** The layers above are the ones the blas engine gives to its direct kernel. */
    @Test
    void theseShapesTakeTheDirectKernel() {
        assertTrue("small direct".equals(dev.conv4j.internal.blas.Algorithms.of(ConvGeometry.of(Conv2dParams.builder().padding(1).build(),
                new int[] {1, 3, 8, 8}, new int[] {8, 3, 3, 3})).forward.name()));
        assertTrue("small direct".equals(dev.conv4j.internal.blas.Algorithms.of(ConvGeometry.of(Conv2dParams.builder().groups(4).padding(1).build(),
                new int[] {1, 32, 12, 12}, new int[] {64, 8, 3, 3})).forward.name()));
        assertTrue(!"small direct".equals(dev.conv4j.internal.blas.Algorithms.of(ConvGeometry.of(Conv2dParams.builder().padding(1).build(),
                new int[] {1, 64, 56, 56}, new int[] {64, 64, 3, 3})).forward.name()));
    }
}
