package dev.conv4j.hardening;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A JavaCPP {@link PointerScope} open on the calling thread (other bytedeco libraries and servers
 * using them open one per request) claims every pointer allocated on that thread and frees it when
 * it closes. conv4j's memory (tensors, the workspaces and Winograd buffers of the engines, plans)
 * must survive the scope, while the caller's own pointers still go with it.
 */
class ScopeTest {
    /** Layers that take each native path: im2col, Winograd (AUTO picks it), direct and depthwise. */
    private static final Object[][] LAYERS = {
        {Conv2dParams.builder().padding(1).stride(2).build(), new int[] {1, 16, 20, 20}, new int[] {24, 16, 3, 3}},
        {Conv2dParams.builder().padding(1).build(), new int[] {2, 32, 24, 24}, new int[] {32, 32, 3, 3}},
        {Conv2dParams.builder().padding(1).algorithm(ConvAlgorithm.WINOGRAD_2X2).build(), new int[] {1, 16, 12, 12}, new int[] {16, 16, 3, 3}},
        {Conv2dParams.builder().padding(2).build(), new int[] {2, 4, 14, 14}, new int[] {8, 4, 5, 5}},
        {Conv2dParams.builder().padding(1).groups(16).build(), new int[] {1, 16, 10, 10}, new int[] {16, 1, 3, 3}},
    };

    static Stream<ConvEngine> engines() {
        return Engines.allStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void tensorsMadeInsideAScopeOutliveIt(ConvEngine engine) {
        Random r = new Random(1);
        float[] x = TestData.uniform(r, 2 * 16 * 9 * 9, 1), w = TestData.uniform(r, 8 * 16 * 9, 1);
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        Tensor tx, tw, ty, made;
        try (PointerScope scope = new PointerScope()) {
            tx = Tensor.of(x, 2, 16, 9, 9);
            tw = Tensor.of(w, 8, 16, 3, 3);
            ty = Tensor.zeros(2, 8, 9, 9);
            made = engine.forward(p, tx, tw, null);
        }
        try (tx; tw; ty; made; Tensor ref = ConvEngines.naive().forward(p, tx, tw, null)) {
            assertArrayEquals(x, tx.toArray(), "the scope freed a tensor's memory");
            engine.forward(p, tx, tw, null, ty);
            assertTrue(TestData.relErr(ty.toArray(), ref.toArray()) < 1e-4);
            assertTrue(TestData.relErr(made.toArray(), ref.toArray()) < 1e-4);
        }
    }

    /**
     * A thread whose first calls (growing its workspaces and Winograd buffers) ran inside a scope keeps
     * working after the scope closed, on every path; with several threads, whichever thread ran which unit.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void callsFirstMadeInsideAScopeKeepWorkingAfterIt(ConvEngine engine) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                Random r = new Random(2);
                for (Object[] layer : LAYERS) {
                    Conv2dParams p = (Conv2dParams) layer[0];
                    int[] xs = (int[]) layer[1], ws = (int[]) layer[2];
                    try (Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws);
                         Tensor gy = TestData.random(r, 1, p.outputShape(xs, ws))) {
                        for (int round = 0; round < 3; round++) {
                            if (round == 0) {
                                try (PointerScope scope = new PointerScope()) {
                                    allPasses(engine, p, x, w, gy);
                                }
                            } else {
                                allPasses(engine, p, x, w, gy);
                            }
                        }
                    }
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.start();
        t.join();
        if (failure.get() != null) {
            throw new AssertionError("a call after the scope closed failed", failure.get());
        }
    }

    private static void allPasses(ConvEngine e, Conv2dParams p, Tensor x, Tensor w, Tensor gy) {
        ConvEngine naive = ConvEngines.naive();
        try (Tensor y = e.forward(p, x, w, null); Tensor yr = naive.forward(p, x, w, null);
             Tensor gx = e.backwardData(p, gy, w, x.shape()); Tensor gxr = naive.backwardData(p, gy, w, x.shape());
             Tensor gw = e.backwardWeights(p, x, gy, w.shape()); Tensor gwr = naive.backwardWeights(p, x, gy, w.shape())) {
            double tol = p.algorithm() == ConvAlgorithm.IM2COL ? 1e-4 : ConvAlgorithm.WINOGRAD_4X4_TOLERANCE;
            assertTrue(TestData.relErr(y.toArray(), yr.toArray()) < tol, "forward " + p);
            assertTrue(TestData.relErr(gx.toArray(), gxr.toArray()) < tol, "backwardData " + p);
            assertTrue(TestData.relErr(gw.toArray(), gwr.toArray()) < 1e-4, "backwardWeights " + p);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void plansMadeInsideAScopeKeepTheirBuffers(ConvEngine engine) {
        Random r = new Random(3);
        for (Object[] layer : LAYERS) {
            Conv2dParams p = (Conv2dParams) layer[0];
            int[] xs = (int[]) layer[1], ws = (int[]) layer[2];
            try (Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws); Tensor b = TestData.random(r, 1, ws[0]);
                 Tensor ref = ConvEngines.naive().forward(p, x, w, b); Tensor y = Tensor.zeros(p.outputShape(xs, ws))) {
                Conv2dPlan plan;
                try (PointerScope scope = new PointerScope()) {
                    plan = engine.plan(p, xs, ws);
                    plan.prepackWeights(w, b);
                    plan.forward(x, y);
                }
                try (plan) {
                    y.fill(0);
                    plan.forward(x, y);
                    assertTrue(TestData.relErr(y.toArray(), ref.toArray()) < ConvAlgorithm.WINOGRAD_4X4_TOLERANCE, p.toString());
                    plan.forward(x, w, b, y);
                    assertTrue(TestData.relErr(y.toArray(), ref.toArray()) < ConvAlgorithm.WINOGRAD_4X4_TOLERANCE, p.toString());
                }
            }
        }
    }

    /** Scopes restricted to classes, nested scopes and a scope's deallocate(), which ignores reference counts. */
    @Test
    void restrictedNestedAndDeallocatedScopesDoNotReachTensors() {
        float[] data = {1, 2, 3, 4, 5, 6};
        Tensor a, b, c;
        try (PointerScope outer = new PointerScope(FloatPointer.class)) {
            a = Tensor.of(data, 2, 3);
            try (PointerScope inner = new PointerScope(IntPointer.class)) {
                b = Tensor.of(data, 3, 2); // the inner scope refuses FloatPointer: JavaCPP tries the outer one
            }
            PointerScope third = new PointerScope();
            c = Tensor.of(data, 6);
            third.deallocate();
            third.close();
        }
        try (a; b; c) {
            assertArrayEquals(data, a.toArray());
            assertArrayEquals(data, b.toArray());
            assertArrayEquals(data, c.toArray());
        }
    }

    /** conv4j takes back only its own memory: the caller's pointers still go with their scope. */
    @Test
    void theCallersOwnPointersStillGoWithTheirScope() {
        FloatPointer mine;
        Tensor t;
        long before = Pointer.totalBytes();
        try (PointerScope scope = new PointerScope()) {
            mine = new FloatPointer(1000);
            t = Tensor.zeros(1000);
        }
        assertTrue(mine.isNull(), "the scope no longer frees the pointers made in it");
        try (t) {
            assertEquals(4000L, Pointer.totalBytes() - before, "the tensor's memory should be all that is left");
        }
        assertEquals(before, Pointer.totalBytes());
    }

    /** A pointer of a tensor obtained inside a scope is released with the scope; the tensor is not. */
    @Test
    void aTensorsPointerTakenInsideAScopeGoesWithItButTheTensorStays() {
        try (Tensor t = Tensor.of(new float[] {1, 2, 3}, 3)) {
            FloatPointer p;
            try (PointerScope scope = new PointerScope()) {
                p = t.pointer();
                assertEquals(2f, p.get(1));
            }
            assertTrue(p.isNull(), "a pointer made inside a scope is released with it");
            assertFalse(t.isClosed());
            assertArrayEquals(new float[] {1, 2, 3}, t.toArray());
        }
    }
}
