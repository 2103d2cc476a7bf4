package dev.conv4j.hardening;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * An engine's native memory follows how many calls run at once, not how many threads ever called
 * it: servers make a thread per request (virtual threads on Java 21 and later, or short-lived
 * platform threads), and each used to leave a workspace that only the garbage collector freed. No
 * garbage collection is forced here, so memory left behind by ended threads would show.
 */
class ThreadModelTest {
    /** im2col (a column workspace of about 0.5 MB per thread) and Winograd (a weight transform per call). */
    private static final Object[][] LAYERS = {
        {Conv2dParams.builder().padding(1).algorithm(ConvAlgorithm.IM2COL).build(), new int[] {1, 32, 20, 20}, new int[] {32, 32, 3, 3}},
        {Conv2dParams.builder().padding(1).build(), new int[] {1, 24, 24, 24}, new int[] {24, 24, 3, 3}},
    };
    /** Far below what one workspace per thread would take (hundreds of MB), well above the engine's own. */
    private static final long BOUND = 48L << 20;

    static Stream<ConvEngine> engines() {
        return Engines.fastStream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void manyShortLivedPlatformThreadsDoNotGrowMemory(ConvEngine engine) throws Exception {
        Calls calls = new Calls(engine);
        try (calls) {
            calls.run(1); // the engine's pools warm up for one caller
            long base = Pointer.totalBytes();
            for (int batch = 0; batch < 50; batch++) {
                List<Thread> threads = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    Thread th = new Thread(() -> calls.run(1), "short-lived-" + batch + "-" + t);
                    th.start();
                    threads.add(th);
                }
                for (Thread th : threads) {
                    th.join();
                }
                calls.sample();
            }
            calls.check("400 short-lived platform threads", base);
        }
    }

    /** 10,000 virtual threads (Java 21 and later; on 24 and later a call's wait for its helpers unmounts them). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void tenThousandVirtualThreadsDoNotGrowMemory(ConvEngine engine) throws Exception {
        assumeTrue(Runtime.version().feature() >= 21, "virtual threads need Java 21");
        ExecutorService virtualThreads = (ExecutorService) java.util.concurrent.Executors.class
                .getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        Calls calls = new Calls(engine);
        try (calls) {
            calls.run(1);
            long base = Pointer.totalBytes();
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < 10_000; i++) {
                done.add(virtualThreads.submit(() -> {
                    calls.run(1);
                    calls.sample();
                }));
            }
            for (Future<?> f : done) {
                f.get(10, TimeUnit.MINUTES);
            }
            virtualThreads.shutdown();
            calls.check("10,000 virtual threads", base);
        }
    }

    /** The calls each thread makes, checked against precomputed results, and the peak of native memory. */
    private static final class Calls implements AutoCloseable {
        final ConvEngine engine;
        final List<Tensor[]> layers = new ArrayList<>();
        final AtomicLong peak = new AtomicLong();

        Calls(ConvEngine engine) {
            this.engine = engine;
            Random r = new Random(7);
            for (Object[] l : LAYERS) {
                Conv2dParams p = (Conv2dParams) l[0];
                Tensor x = TestData.random(r, 1, (int[]) l[1]), w = TestData.random(r, 1, (int[]) l[2]);
                layers.add(new Tensor[] {x, w, ConvEngines.naive().forward(p, x, w, null)});
            }
        }

        void run(int rounds) {
            for (int k = 0; k < rounds; k++) {
                for (int i = 0; i < LAYERS.length; i++) {
                    Tensor[] t = layers.get(i);
                    try (Tensor y = engine.forward((Conv2dParams) LAYERS[i][0], t[0], t[1], null)) {
                        double err = TestData.relErr(y.toArray(), t[2].toArray());
                        if (!(err < ConvAlgorithm.WINOGRAD_4X4_TOLERANCE)) {
                            throw new AssertionError(Engines.label(engine) + " computed a wrong result, error " + err);
                        }
                    }
                }
            }
            sample();
        }

        void sample() {
            peak.accumulateAndGet(Pointer.totalBytes(), Math::max);
        }

        void check(String what, long base) {
            long grown = peak.get() - base, after = Pointer.totalBytes() - base;
            System.out.printf("threads: %s on %s: native memory at most +%.1f MB during, +%.1f MB after (no GC)%n",
                    what, Engines.label(engine), grown / 1048576.0, after / 1048576.0);
            assertTrue(grown <= BOUND, what + " on " + Engines.label(engine) + " grew native memory by " + grown
                    + " bytes: workspaces follow the number of threads that called");
        }

        @Override
        public void close() {
            for (Tensor[] t : layers) {
                for (Tensor x : t) {
                    x.close();
                }
            }
        }
    }
}
