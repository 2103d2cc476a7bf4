package dev.conv4j.internal.engine;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.Engines;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every kind of bad input gets an exception whose message names the parameter and the shapes, and leaves outputs untouched. */
class ValidationTest {
    private static final Conv2dParams P = Conv2dParams.DEFAULT;

    static Stream<ConvEngine> engines() {
        return Engines.allStream();
    }

    private static void expect(Class<? extends Throwable> type, Executable call, String... words) {
        Throwable t = assertThrows(type, call);
        for (String w : words) {
            assertTrue(t.getMessage() != null && t.getMessage().contains(w),
                    "message '" + t.getMessage() + "' should mention '" + w + "'");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void forwardRejectsBadArguments(ConvEngine e) {
        try (Tensor x = Tensor.zeros(2, 4, 5, 5); Tensor w = Tensor.zeros(6, 2, 3, 3); Tensor b = Tensor.zeros(6);
             Tensor y = Tensor.zeros(2, 6, 3, 3); Tensor x3 = Tensor.zeros(4, 5, 5); Tensor wWrongC = Tensor.zeros(6, 3, 3, 3);
             Tensor b5 = Tensor.zeros(5); Tensor yWrong = Tensor.zeros(2, 6, 4, 3); Tensor big = Tensor.zeros(6, 2, 7, 7);
             Tensor y2 = Tensor.zeros(2, 6, 3, 3)) {
            Conv2dParams g2 = Conv2dParams.builder().groups(2).build();
            y2.fill(7f);
            expect(IllegalArgumentException.class, () -> e.forward((Conv2dParams) null, x, w, b, y), "params");
            expect(IllegalArgumentException.class, () -> e.forward(g2, null, w, b, y), "x");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, null, b, y), "w");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, w, b, null), "y");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x3, w, b, y), "x", "rank 4", "[4, 5, 5]");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, wWrongC, b, y2), "C/groups", "[6, 3, 3, 3]");
            expect(IllegalArgumentException.class, () -> e.forward(P, x, w, b, y2), "C/groups");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, w, b5, y2), "bias", "[5]", "[6]");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, w, b, yWrong), "y", "[2, 6, 4, 3]", "[2, 6, 3, 3]");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, big, null, y2), "empty", "[6, 2, 7, 7]");
            Conv2dParams g3 = Conv2dParams.builder().groups(3).build();
            expect(IllegalArgumentException.class, () -> e.forward(g3, x, w, b, y2), "groups 3", "C=4");
            try (Tensor x6 = Tensor.zeros(1, 6, 5, 5); Tensor w4 = Tensor.zeros(4, 2, 3, 3); Tensor y4 = Tensor.zeros(1, 4, 3, 3)) {
                expect(IllegalArgumentException.class, () -> e.forward(g3, x6, w4, null, y4), "groups 3", "O=4");
            }
            for (float v : y2.toArray()) {
                assertTrue(v == 7f, "a rejected call wrote into its output");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void closedTensorsAndAliasingAreRejected(ConvEngine e) {
        try (Tensor x = Tensor.zeros(1, 2, 4, 4); Tensor w = Tensor.zeros(3, 2, 3, 3); Tensor y = Tensor.zeros(1, 3, 2, 2)) {
            Tensor closed = Tensor.zeros(1, 2, 4, 4);
            closed.close();
            expect(IllegalStateException.class, () -> e.forward(P, closed, w, null, y), "closed");
            expect(IllegalStateException.class, () -> e.backwardData(P, y, w, closed), "closed");
            expect(IllegalStateException.class, () -> e.backwardWeights(P, closed, y, Tensor.zeros(3, 2, 3, 3), null), "closed");
            try (Tensor same = Tensor.zeros(1, 1, 3, 3); Tensor w1 = Tensor.zeros(1, 1, 1, 1)) {
                expect(IllegalArgumentException.class, () -> e.forward(P, same, w1, null, same), "share memory");
                expect(IllegalArgumentException.class, () -> e.backwardData(P, same, w1, same), "share memory");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void backwardPassesCheckShapes(ConvEngine e) {
        try (Tensor x = Tensor.zeros(2, 4, 5, 5); Tensor w = Tensor.zeros(6, 4, 3, 3); Tensor gy = Tensor.zeros(2, 6, 3, 3);
             Tensor gyWrong = Tensor.zeros(2, 5, 3, 3); Tensor gx = Tensor.zeros(2, 4, 5, 5); Tensor gw = Tensor.zeros(6, 4, 3, 3);
             Tensor gb = Tensor.zeros(6); Tensor gb2 = Tensor.zeros(2)) {
            expect(IllegalArgumentException.class, () -> e.backwardData(P, gyWrong, w, gx), "gy", "[2, 5, 3, 3]", "[2, 6, 3, 3]");
            expect(IllegalArgumentException.class, () -> e.backwardData(P, gy, w, (Tensor) null), "gx");
            expect(IllegalArgumentException.class, () -> e.backwardWeights(P, x, gyWrong, gw, gb), "gy", "[2, 5, 3, 3]");
            expect(IllegalArgumentException.class, () -> e.backwardWeights(P, x, gy, gw, gb2), "gbias", "[2]", "[6]");
            expect(IllegalArgumentException.class, () -> e.backwardWeights(P, x, gy, null, gb), "gw");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void layoutsResidualsAndActivationsAreChecked(ConvEngine e) {
        try (Tensor x = Tensor.zeros(Layout.NHWC, 2, 4, 5, 5); Tensor w = Tensor.zeros(6, 4, 3, 3); Tensor b = Tensor.zeros(6);
             Tensor wNhwc = Tensor.zeros(Layout.NHWC, 6, 4, 3, 3); Tensor y = Tensor.zeros(Layout.NCHW16C, 2, 6, 3, 3);
             Tensor res = Tensor.zeros(Layout.NHWC, 2, 6, 3, 3); Tensor resWrong = Tensor.zeros(Layout.NHWC, 2, 6, 3, 4);
             Tensor yWrong = Tensor.zeros(Layout.NHWC, 2, 6, 4, 3); Tensor shared = Tensor.zeros(2000);
             Tensor gy = Tensor.zeros(Layout.NCHW16C, 2, 6, 3, 3); Tensor gyWrong = Tensor.zeros(Layout.NHWC, 2, 5, 3, 3)) {
            y.fill(7f);
            expect(IllegalArgumentException.class, () -> e.forward(P, x, wNhwc, b, y), "w", "NHWC", "NCHW", "OIHW");
            expect(IllegalArgumentException.class, () -> e.forward(P, x, w, b, yWrong), "y", "[2, 6, 4, 3]", "NHWC", "[2, 6, 3, 3]");
            expect(IllegalArgumentException.class, () -> e.forward(P, x, w, b, resWrong, Activation.RELU, y),
                    "residual", "[2, 6, 3, 4]", "NHWC", "[2, 6, 3, 3]");
            expect(IllegalArgumentException.class, () -> e.forward(P, x, w, b, res, null, y), "act", "Activation.NONE");
            expect(IllegalArgumentException.class, () -> e.backwardData(P, gyWrong, w, x), "gy", "[2, 5, 3, 3]", "NHWC");
            expect(IllegalArgumentException.class, () -> e.backwardWeights(P, x, gy, wNhwc, null), "gw", "NHWC", "NCHW");
            // y and a residual that share memory without being the same: y's storage is 2*16*9 floats
            Tensor ys = shared.view(0, Layout.NCHW16C, 2, 6, 3, 3);
            Tensor partly = shared.view(100, Layout.NHWC, 2, 6, 3, 3);
            Tensor sameFloatsOtherLayout = shared.view(0, Layout.NHWC, 2, 6, 3, 3);
            expect(IllegalArgumentException.class, () -> e.forward(P, x, w, b, partly, Activation.NONE, ys),
                    "residual", "partly overlaps", "[2, 6, 3, 3] NHWC", "[2, 6, 3, 3] NCHW16C");
            expect(IllegalArgumentException.class, () -> e.forward(P, x, w, b, sameFloatsOtherLayout, Activation.NONE, ys),
                    "residual", "partly overlaps");
            // y over x counts y's padding channels: x's NHWC storage starts inside them
            Tensor xOverPadding = shared.view(10, Layout.NHWC, 2, 4, 5, 5);
            expect(IllegalArgumentException.class, () -> e.forward(P, xOverPadding, w, b, ys), "y", "share memory", "x", "NCHW16C");
            for (float v : TestData.logical(y)) {
                assertTrue(v == 7f, "a rejected call wrote into its output");
            }
            // the residual may be y itself, or a view of exactly its memory
            e.forward(P, x, w, b, y, Activation.RELU, y);
            e.forward(P, x, w, b, shared.view(0, Layout.NCHW16C, 2, 6, 3, 3), Activation.RELU, ys);
        }
    }

    @Test
    void paramsRejectOutOfRangeValues() {
        expect(IllegalArgumentException.class, () -> Conv2dParams.builder().stride(0).build(), "stride", "0");
        expect(IllegalArgumentException.class, () -> Conv2dParams.builder().stride(1, -2).build(), "stride");
        expect(IllegalArgumentException.class, () -> Conv2dParams.builder().dilation(0, 1).build(), "dilation");
        expect(IllegalArgumentException.class, () -> Conv2dParams.builder().padding(0, -1, 0, 0).build(), "padding", "-1");
        expect(IllegalArgumentException.class, () -> Conv2dParams.builder().groups(0).build(), "groups");
    }

    @Test
    void tensorsRejectBadShapes() {
        expect(IllegalArgumentException.class, () -> Tensor.zeros(2, 0, 3), "dimension 1", "0");
        expect(IllegalArgumentException.class, () -> Tensor.zeros(-1), "dimension 0");
        expect(IllegalArgumentException.class, () -> Tensor.of(new float[5], 2, 3), "5", "[2, 3]", "6");
        expect(IllegalArgumentException.class, () -> Tensor.zeros(65536, 65536), "more than");
        expect(IllegalArgumentException.class, () -> Tensor.of(null, 1), "data");
    }

    @Test
    void hugeSizesAreRejectedBeforeAllocation() {
        expect(IllegalArgumentException.class,
                () -> Conv2dParams.builder().padding(Integer.MAX_VALUE).build().outputShape(new int[] {1, 1, 4, 4}, new int[] {1, 1, 1, 1}),
                "more than");
        expect(IllegalArgumentException.class,
                () -> Conv2dParams.builder().padding(Integer.MAX_VALUE, 0, 0, 0).stride(Integer.MAX_VALUE).build()
                        .outputShape(new int[] {1, 1, 4, 4}, new int[] {1, 1, 1, 1}),
                "exceeds");
        expect(IllegalArgumentException.class,
                () -> Conv2dParams.DEFAULT.outputShape(new int[] {1 << 16, 1, 1 << 10, 1 << 10}, new int[] {1 << 10, 1, 1, 1}),
                "more than");
    }
}
