package dev.conv4j.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.TestData;
import dev.conv4j.Tensor;
import dev.conv4j.internal.nativeblas.NativeKernels;
import java.lang.management.ManagementFactory;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The calls the {@code blocked} and {@code fused} columns of {@code bench} (and {@code BlockedBenchmark})
 * time allocate nothing on the heap once warm, so that neither measures the garbage collector: the blas
 * plan's forward pass in NCHW16C, plain and fused with a residual and ReLU, in every case; the engine's
 * backward passes in NCHW16C where its channel-blocked kernels run them (AVX-512; elsewhere the engine
 * stages the layout through tensors made for the call).
 */
class BlockedCallsAllocationTest {
    @Test
    void blockedAndFusedCallsDoNotAllocate() {
        assumeTrue(ConvEngines.isNativeAvailable(), "the blas engine needs the native library");
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        int[] xs = {1, 32, 20, 20}, ws = {32, 32, 3, 3};
        ConvGeometry g = ConvGeometry.of(p, xs, ws);
        boolean kernels = NativeKernels.blockedAvx512(); // (AVX-512: both backward passes run the kernels on NCHW16C)
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random r = new Random(6);
        ConvEngine engine = ConvEngines.blas(1);
        try (Conv2dPlan plan = engine.plan(p, xs, ws); Tensor x = TestData.random(r, 1, Layout.NCHW16C, xs);
             Tensor w = TestData.random(r, 1, ws); Tensor b = TestData.random(r, 1, g.o);
             Tensor residual = TestData.random(r, 1, Layout.NCHW16C, g.outputShape());
             Tensor y = Tensor.zeros(Layout.NCHW16C, g.outputShape());
             Tensor gy = TestData.random(r, 1, Layout.NCHW16C, g.outputShape()); Tensor gx = Tensor.zeros(Layout.NCHW16C, xs);
             Tensor gw = Tensor.zeros(ws); Tensor gb = Tensor.zeros(g.o)) {
            plan.prepackWeights(w, b);
            Runnable calls = () -> {
                plan.forward(x, y);
                plan.forward(x, residual, Activation.RELU, y);
                if (kernels) {
                    engine.backwardData(p, gy, w, gx);
                    engine.backwardWeights(p, x, gy, gw, gb);
                }
            };
            for (int i = 0; i < 20_000; i++) { // let the JIT settle, so escape analysis has run
                calls.run();
            }
            long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
            for (int i = 0; i < 1000; i++) {
                calls.run();
            }
            long perCall = (mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before) / (kernels ? 4000 : 2000);
            System.out.printf("NCHW16C calls (%s): %d bytes allocated per call%n",
                    kernels ? "plan forward, fused, engine backward" : "plan forward, fused", perCall);
            assertTrue(perCall < 16, "an NCHW16C call allocated " + perCall + " bytes on the heap");
        }
    }
}
