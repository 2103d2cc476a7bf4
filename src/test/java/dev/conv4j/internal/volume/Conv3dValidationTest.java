package dev.conv4j.internal.volume;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import java.util.stream.Stream;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every kind of bad argument to the 3-D passes gets an exception whose message names the parameter and
 * the shapes, before anything is written: outputs stay as they were.
 */
class Conv3dValidationTest {
    private static final Conv3dParams P = Conv3dParams.DEFAULT;

    static Stream<ConvEngine> engines() {
        return Engines.allStream();
    }

    private static void expect(Class<? extends Throwable> type, Executable call, String... words) {
        Throwable t = assertThrows(type, call);
        for (String w : words) {
            assertTrue(t.getMessage() != null && t.getMessage().contains(w), "message '" + t.getMessage() + "' should mention '" + w + "'");
        }
    }

    private static void untouched(Tensor t, String name) {
        for (float v : t.toArray()) {
            assertTrue(v == 7f, "a rejected call wrote into " + name);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void forwardRejectsBadArguments(ConvEngine e) {
        Conv3dParams g2 = Conv3dParams.builder().groups(2).build(), g3 = Conv3dParams.builder().groups(3).build();
        try (Tensor x = Tensor.zeros(2, 4, 4, 5, 5); Tensor w = Tensor.zeros(6, 2, 2, 3, 3); Tensor b = Tensor.zeros(6);
             Tensor y = Tensor.zeros(2, 6, 3, 3, 3); Tensor x4 = Tensor.zeros(4, 4, 5, 5); Tensor w4 = Tensor.zeros(6, 2, 3, 3);
             Tensor wWrongC = Tensor.zeros(6, 3, 2, 3, 3); Tensor b5 = Tensor.zeros(5); Tensor yWrong = Tensor.zeros(2, 6, 3, 4, 3);
             Tensor big = Tensor.zeros(6, 2, 5, 3, 3)) {
            y.fill(7f);
            expect(IllegalArgumentException.class, () -> e.forward((Conv3dParams) null, x, w, b, y), "params");
            expect(IllegalArgumentException.class, () -> e.forward(g2, null, w, b, y), "x", "null");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, null, b, y), "w", "null");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, w, b, null), "y", "null");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x4, w, b, y), "x", "rank 5", "[4, 4, 5, 5]");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, w4, b, y), "w", "rank 5", "[6, 2, 3, 3]");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, wWrongC, b, y), "C/groups = 2", "[6, 3, 2, 3, 3]");
            expect(IllegalArgumentException.class, () -> e.forward(P, x, w, b, y), "C/groups = 4", "[2, 4, 4, 5, 5]");
            expect(IllegalArgumentException.class, () -> e.forward(g3, x, w, b, y), "groups 3", "C=4");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, w, b5, y), "bias", "[5]", "[6]");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, w, b, yWrong), "y", "[2, 6, 3, 4, 3]", "[2, 6, 3, 3, 3]");
            expect(IllegalArgumentException.class, () -> e.forward(g2, x, big, null, y), "empty", "[6, 2, 5, 3, 3]");
            untouched(y, "y");
            try (Tensor x6 = Tensor.zeros(1, 6, 3, 3, 3); Tensor wo4 = Tensor.zeros(4, 2, 1, 1, 1); Tensor y4 = Tensor.zeros(1, 4, 3, 3, 3)) {
                expect(IllegalArgumentException.class, () -> e.forward(g3, x6, wo4, null, y4), "groups 3", "O=4");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void backwardPassesRejectBadArguments(ConvEngine e) {
        try (Tensor x = Tensor.zeros(1, 2, 3, 4, 4); Tensor w = Tensor.zeros(3, 2, 2, 2, 2); Tensor gy = Tensor.zeros(1, 3, 2, 3, 3);
             Tensor gx = Tensor.zeros(1, 2, 3, 4, 4); Tensor gw = Tensor.zeros(3, 2, 2, 2, 2); Tensor gb = Tensor.zeros(3);
             Tensor gyWrong = Tensor.zeros(1, 3, 2, 3, 4); Tensor gb2 = Tensor.zeros(2); Tensor gw1 = Tensor.zeros(3, 1, 2, 2, 2)) {
            gx.fill(7f);
            gw.fill(7f);
            gb.fill(7f);
            expect(IllegalArgumentException.class, () -> e.backwardData((Conv3dParams) null, gy, w, gx, false), "params");
            expect(IllegalArgumentException.class, () -> e.backwardData(P, null, w, gx, false), "gy", "null");
            expect(IllegalArgumentException.class, () -> e.backwardData(P, gy, w, null, false), "gx", "null");
            expect(IllegalArgumentException.class, () -> e.backwardData(P, gyWrong, w, gx, false), "gy", "[1, 3, 2, 3, 4]", "[1, 3, 2, 3, 3]");
            expect(IllegalArgumentException.class, () -> e.backwardData(P, gy, gw1, gx, true), "w", "C/groups = 2");
            expect(IllegalArgumentException.class, () -> e.backwardWeights(P, x, gy, null, gb, false), "gw", "null");
            expect(IllegalArgumentException.class, () -> e.backwardWeights(P, x, gyWrong, gw, gb, false), "gy", "[1, 3, 2, 3, 4]");
            expect(IllegalArgumentException.class, () -> e.backwardWeights(P, x, gy, gw, gb2, false), "gbias", "[2]", "[3]");
            expect(IllegalArgumentException.class, () -> e.backwardWeights(P, x, gy, gw1, gb, false), "gw", "C/groups = 2");
            untouched(gx, "gx");
            untouched(gw, "gw");
            untouched(gb, "gbias");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void closedTensorsAndSharedMemoryAreRejected(ConvEngine e) {
        try (Tensor x = Tensor.zeros(1, 2, 3, 4, 4); Tensor w = Tensor.zeros(3, 2, 2, 2, 2); Tensor y = Tensor.zeros(1, 3, 2, 3, 3);
             Tensor gw = Tensor.zeros(3, 2, 2, 2, 2); Tensor memory = Tensor.zeros(1000)) {
            Tensor closed = Tensor.zeros(1, 2, 3, 4, 4);
            closed.close();
            expect(IllegalStateException.class, () -> e.forward(P, closed, w, null, y), "x", "closed");
            expect(IllegalStateException.class, () -> e.forward(P, closed, w, null), "x", "closed");
            expect(IllegalStateException.class, () -> e.backwardData(P, y, w, closed, false), "gx", "closed");
            expect(IllegalStateException.class, () -> e.backwardWeights(P, closed, y, gw, null, false), "x", "closed");
            try (Tensor xv = memory.view(0, 1, 2, 3, 4, 4); Tensor yv = memory.view(90, 1, 3, 2, 3, 3);
                 Tensor wv = memory.view(100, 3, 2, 2, 2, 2); Tensor yOverW = memory.view(130, 1, 3, 2, 3, 3);
                 Tensor xOverW = memory.view(80, 1, 2, 3, 4, 4); Tensor gbOverW = memory.view(140, 3)) {
                expect(IllegalArgumentException.class, () -> e.forward(P, xv, w, null, yv), "y must not share memory with x");
                expect(IllegalArgumentException.class, () -> e.forward(P, x, wv, null, yOverW), "y must not share memory with w");
                expect(IllegalArgumentException.class, () -> e.backwardData(P, yv, w, xv, false), "gx must not share memory with gy");
                expect(IllegalArgumentException.class, () -> e.backwardWeights(P, xOverW, y, wv, null, false),
                        "gw must not share memory with x");
                expect(IllegalArgumentException.class, () -> e.backwardWeights(P, x, y, wv, gbOverW, false),
                        "gw must not share memory with gbias");
                try (Tensor gbInY = y.view(0, 3)) {
                    expect(IllegalArgumentException.class, () -> e.backwardWeights(P, x, y, gw, gbInY, false),
                            "gbias must not share memory with gy");
                }
            }
        }
    }
}
