package dev.conv4j.internal.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The java and blas engines' 3-D passes cut their work by shape alone: one thread and two give the same
 * bits, on layers that split into several bands, channel blocks and groups. And a warm call allocates
 * nothing on the heap.
 */
class Conv3dThreadsTest {
    private static final Conv3dParams[] PARAMS = {
        Conv3dParams.builder().padding(1).build(),
        Conv3dParams.builder().stride(1, 2, 2).padding(1, 0, 1, 2, 0, 1).dilation(2, 1, 1).build(),
        Conv3dParams.builder().groups(4).padding(0, 1, 1).build(),
        Conv3dParams.DEFAULT,
    };
    private static final int[][][] SHAPES = {
        {{1, 16, 6, 24, 24}, {24, 16, 3, 3, 3}},
        {{2, 8, 7, 21, 19}, {12, 8, 3, 3, 2}},
        {{2, 8, 5, 17, 18}, {8, 2, 2, 3, 3}},
        {{1, 24, 4, 20, 20}, {40, 24, 1, 1, 1}},
    };

    /** One engine at one and at two threads. */
    static Stream<Arguments> pairs() {
        List<Arguments> out = new ArrayList<>();
        out.add(Arguments.of(ConvEngines.java(1), ConvEngines.java(2)));
        if (Engines.all().size() > 3) {
            out.add(Arguments.of(ConvEngines.blas(1), ConvEngines.blas(2)));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} and two threads")
    @MethodSource("pairs")
    void oneAndTwoThreadsGiveTheSameBits(ConvEngine single, ConvEngine dual) {
        for (int k = 0; k < PARAMS.length; k++) {
            Conv3dParams p = PARAMS[k];
            Conv3dGeometry g = Conv3dGeometry.of(p, SHAPES[k][0], SHAPES[k][1]);
            Random r = new Random(k);
            try (Tensor x = TestData.random(r, 1, g.inputShape()); Tensor w = TestData.random(r, 1, g.weightShape());
                 Tensor b = TestData.random(r, 1, g.o); Tensor gy = TestData.random(r, 1, g.outputShape())) {
                float[][] one = passes(single, p, g, x, w, b, gy), two = passes(dual, p, g, x, w, b, gy);
                String[] names = {"y", "gx", "gw", "gb"};
                for (int i = 0; i < one.length; i++) {
                    assertArrayEquals(one[i], two[i], names[i] + " of " + Engines.label(single) + " and "
                            + Engines.label(dual) + " for " + g);
                }
            }
        }
    }

    private static float[][] passes(ConvEngine e, Conv3dParams p, Conv3dGeometry g, Tensor x, Tensor w, Tensor b, Tensor gy) {
        try (Tensor y = e.forward(p, x, w, b); Tensor gx = TestData.garbage(g.inputShape());
             Tensor gw = TestData.garbage(g.weightShape()); Tensor gb = TestData.garbage(g.o)) {
            e.backwardData(p, gy, w, gx, false);
            e.backwardWeights(p, x, gy, gw, gb, false);
            return new float[][] {y.toArray(), gx.toArray(), gw.toArray(), gb.toArray()};
        }
    }

    static Stream<ConvEngine> fast() {
        return Engines.fastStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fast")
    void warmCallsAllocateNothing(ConvEngine engine) {
        Conv3dParams p = Conv3dParams.builder().stride(1, 2, 1).padding(1).build();
        try (Tensor x = Tensor.zeros(1, 4, 5, 12, 12); Tensor w = Tensor.zeros(8, 4, 3, 3, 3); Tensor b = Tensor.zeros(8);
             Tensor y = Tensor.zeros(p.outputShape(x.shape(), w.shape())); Tensor gx = Tensor.zeros(x.shape());
             Tensor gw = Tensor.zeros(w.shape()); Tensor gb = Tensor.zeros(8)) {
            Runnable calls = () -> {
                engine.forward(p, x, w, b, y);
                engine.backwardData(p, y, w, gx, false);
                engine.backwardWeights(p, x, y, gw, gb, true);
            };
            for (int i = 0; i < 500; i++) {
                calls.run();
            }
            com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            @SuppressWarnings("deprecation")
            long tid = Thread.currentThread().getId();
            long least = Long.MAX_VALUE;
            for (int round = 0; round < 5; round++) {
                long before = mx.getThreadAllocatedBytes(tid);
                for (int i = 0; i < 200; i++) {
                    calls.run();
                }
                least = Math.min(least, mx.getThreadAllocatedBytes(tid) - before);
            }
            assertTrue(least < 1000, Engines.label(engine) + " allocated " + least + " bytes in 200 rounds of three 3-D calls");
        }
    }
}
