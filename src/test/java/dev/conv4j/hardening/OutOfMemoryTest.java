package dev.conv4j.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * Native memory running out in the middle of a call (JavaCPP's {@code maxBytes} reached) fails that
 * call with {@link OutOfMemoryError} and leaves everything as it was: the engine's workspaces keep
 * what they had, so a smaller layer that worked before still works at once, and the large one works
 * once memory is freed; plans and tensors that cannot be allocated leave nothing behind.
 *
 * <p>Runs in a JVM of its own with {@code -Dorg.bytedeco.javacpp.maxBytes} set (the
 * {@code memory-limit} execution in the pom, on Java 17 and, in the {@code jdk25} profile, on Java 25).
 */
class OutOfMemoryTest {
    private static final long LIMIT_NEEDED = 512L << 20;
    /*
     * The two algorithms whose workspaces are large allocations that can run out: Winograd's transforms
     * and im2col's column buffer (the channel-blocked kernels, which AUTO takes for the large layer on
     * AVX-512 CPUs, need little more than the tensors themselves).
     */
    private static final Conv2dParams P = Conv2dParams.builder().padding(1).algorithm(ConvAlgorithm.WINOGRAD_4X4).build();
    private static final Conv2dParams IM2COL = Conv2dParams.builder().padding(1).algorithm(ConvAlgorithm.IM2COL).build();
    private static final int[] SMALL_X = {1, 16, 8, 8}, SMALL_W = {24, 16, 3, 3};
    private static final int[] BIG_X = {1, 128, 64, 64}, BIG_W = {128, 128, 3, 3};

    private static void requireLimit() {
        assumeTrue(ConvEngines.isNativeAvailable() && Pointer.maxBytes() > 0 && Pointer.maxBytes() <= LIMIT_NEEDED,
                "needs -Dorg.bytedeco.javacpp.maxBytes of at most 512 MB (the memory-limit execution)");
    }

    @Test
    void aCallThatRunsOutOfMemoryLeavesTheEngineAsItWas() {
        requireLimit();
        // an engine that has not run the large layer yet, for each (its workspaces would already fit it)
        Object[][] cases = {{ConvEngines.blas(1), P}, {ConvEngines.blas(2), P}, {ConvEngines.blas(3), IM2COL}, {ConvEngines.blas(4), IM2COL}};
        for (Object[] c : cases) {
            ConvEngine e = (ConvEngine) c[0];
            Conv2dParams p = (Conv2dParams) c[1];
            {
                Random r = new Random(1);
                try (Tensor sx = TestData.random(r, 1, SMALL_X); Tensor sw = TestData.random(r, 1, SMALL_W);
                     Tensor sref = ConvEngines.naive().forward(p, sx, sw, null); Tensor sy = Tensor.zeros(sref.shape());
                     Tensor bx = TestData.random(r, 1, BIG_X); Tensor bw = TestData.random(r, 1, BIG_W);
                     Tensor by = Tensor.zeros(p.outputShape(BIG_X, BIG_W))) {
                    for (int i = 0; i < 3; i++) {
                        small(e, p, sx, sw, sy, sref);
                    }
                    List<FloatPointer> ballast = fill((1L << 20) + 8L * (BIG_X[1] * 64 * 64 + BIG_W[0] * BIG_W[1] * 9));
                    try {
                        for (int i = 0; i < 3; i++) {
                            // each pass either fits in what its workspaces already hold or fails cleanly
                            int failed = 0;
                            try (Tensor gx = Tensor.zeros(BIG_X); Tensor gw = Tensor.zeros(BIG_W)) {
                                Runnable[] passes = {() -> e.forward(p, bx, bw, null, by), () -> e.backwardData(p, by, bw, gx),
                                    () -> e.backwardWeights(p, bx, by, gw, null)};
                                for (Runnable pass : passes) {
                                    try {
                                        pass.run();
                                    } catch (OutOfMemoryError oom) {
                                        assertTrue(oom.getMessage() != null && !oom.getMessage().isEmpty());
                                        failed++;
                                    }
                                    if (e == ConvEngines.blas(1)) {
                                        // at once, with the memory still short: the caller's workspace kept what it had
                                        // (with more threads, a helper that never ran the small layer may need memory)
                                        small(e, p, sx, sw, sy, sref);
                                    }
                                }
                            }
                            assertTrue(failed > 0, "the large layer should need more than the 1 MB left: " + p + " on " + e);
                        }
                        // the forms that allocate their result fail cleanly too, and release their call slot
                        for (int i = 0; i < 20; i++) {
                            assertThrows(OutOfMemoryError.class, () -> e.forward(p, bx, bw, null));
                        }
                    } finally {
                        free(ballast);
                    }
                    for (int i = 0; i < 3; i++) {
                        small(e, p, sx, sw, sy, sref);
                    }
                    e.forward(p, bx, bw, null, by);
                    try (Tensor ref = ConvEngines.blas(1).forward(IM2COL, bx, bw, null)) {
                        assertTrue(TestData.relErr(by.toArray(), ref.toArray()) < ConvAlgorithm.WINOGRAD_4X4_TOLERANCE);
                    }
                }
            }
        }
    }

    @Test
    void plansAndTensorsThatCannotBeAllocatedLeaveNothingBehind() {
        requireLimit();
        ConvEngine e = ConvEngines.blas(2);
        Random r = new Random(2);
        try (Tensor bw = TestData.random(r, 1, BIG_W)) {
            List<FloatPointer> ballast = fill(1L << 20);
            try {
                long before = Pointer.totalBytes();
                assertThrows(OutOfMemoryError.class, () -> e.plan(P, BIG_X, BIG_W));
                assertEquals(before, Pointer.totalBytes(), "a plan that failed to allocate kept memory");
                OutOfMemoryError oom = assertThrows(OutOfMemoryError.class, () -> Tensor.zeros(BIG_X));
                assertTrue(oom.getMessage().contains("[1, 128, 64, 64]"), oom.getMessage());
                assertEquals(before, Pointer.totalBytes());
            } finally {
                free(ballast);
            }
            // a plan whose prepacked weights cannot be allocated stays usable with weights per call
            try (Tensor bx = TestData.random(r, 1, BIG_X); Tensor by = Tensor.zeros(P.outputShape(BIG_X, BIG_W));
                 Conv2dPlan plan = e.plan(P, BIG_X, BIG_W)) {
                ballast = fill(256L << 10);
                try {
                    assertThrows(OutOfMemoryError.class, () -> plan.prepackWeights(bw, null));
                    assertThrows(IllegalStateException.class, () -> plan.forward(bx, by), "no weights were prepacked");
                    plan.forward(bx, bw, (Tensor) null, by);
                } finally {
                    free(ballast);
                }
                plan.prepackWeights(bw, null);
                plan.forward(bx, by);
            }
        }
    }

    private static void small(ConvEngine e, Conv2dParams p, Tensor x, Tensor w, Tensor y, Tensor ref) {
        y.fill(Float.NaN);
        e.forward(p, x, w, null, y);
        assertTrue(TestData.relErr(y.toArray(), ref.toArray()) < ConvAlgorithm.WINOGRAD_4X4_TOLERANCE);
        try (Tensor gx = e.backwardData(p, y, w, x.shape()); Tensor gw = e.backwardWeights(p, x, y, w.shape())) {
            assertEquals(x.size(), gx.size());
        }
    }

    /** Allocates until only {@code left} bytes remain below JavaCPP's limit. */
    private static List<FloatPointer> fill(long left) {
        List<FloatPointer> ballast = new ArrayList<>();
        for (long room; (room = Pointer.maxBytes() - Pointer.totalBytes() - left) >= 4; ) {
            ballast.add(new FloatPointer(Math.min(room, 64L << 20) / 4));
        }
        return ballast;
    }

    private static void free(List<FloatPointer> ballast) {
        for (FloatPointer p : ballast) {
            p.deallocate();
        }
    }
}
