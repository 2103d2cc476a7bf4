package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import dev.conv4j.internal.nativeblas.NativeKernels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Engines and read-only tensors shared by many threads; results that do not depend on the thread count;
 * no oversubscription and no deadlock when many callers arrive at once.
 */
class ConcurrencyTest {
    private static final int THREADS = 8;
    private static final int CALLS_PER_THREAD = 2_500;

    /** Small shapes covering the engine paths: dense, grouped and strided, depthwise, pointwise, dilated. */
    private static final Object[][] SMALL = {
        {Conv2dParams.builder().padding(1).build(), new int[] {2, 8, 12, 12}, new int[] {16, 8, 3, 3}},
        {Conv2dParams.builder().groups(2).stride(2).padding(1).build(), new int[] {2, 8, 10, 10}, new int[] {8, 4, 3, 3}},
        {Conv2dParams.builder().groups(8).padding(1).build(), new int[] {2, 8, 12, 12}, new int[] {8, 1, 3, 3}},
        {Conv2dParams.DEFAULT, new int[] {2, 8, 9, 9}, new int[] {12, 8, 1, 1}},
        {Conv2dParams.builder().dilation(2).stride(1, 2).padding(2, 1, 0, 1).build(), new int[] {1, 4, 11, 9}, new int[] {6, 4, 3, 2}},
    };

    /** One shape's shared inputs and, per engine, the results computed on one thread before the stress. */
    private static final class Case {
        final Conv2dParams p;
        final int[] xs, ws, ys;
        final Tensor x, w, b, gy;
        final Map<ConvEngine, float[][]> expected = new HashMap<>();

        Case(Object[] c, Random r) {
            p = (Conv2dParams) c[0];
            xs = (int[]) c[1];
            ws = (int[]) c[2];
            ys = ConvGeometry.of(p, xs, ws).outputShape();
            x = TestData.random(r, 1, xs);
            w = TestData.random(r, 1, ws);
            b = TestData.random(r, 1, ws[0]);
            gy = TestData.random(r, 1, ys);
        }

        /** y, gx, gw, gb of one engine. */
        float[][] compute(ConvEngine e) {
            try (Tensor y = e.forward(p, x, w, b); Tensor gx = e.backwardData(p, gy, w, xs);
                 Tensor gw = Tensor.zeros(ws); Tensor gb = Tensor.zeros(ws[0])) {
                e.backwardWeights(p, x, gy, gw, gb);
                return new float[][] {y.toArray(), gx.toArray(), gw.toArray(), gb.toArray()};
            }
        }

        void close() {
            x.close();
            w.close();
            b.close();
            gy.close();
        }
    }

    /**
     * Eight threads share the engines, the weights and the inputs, and make mixed forward and backward calls
     * of several shapes, into outputs they own or that the call allocates. Every result must equal, bit
     * for bit, what the same engine computed on one thread beforehand.
     */
    @Test
    void sharedEnginesAndTensorsGiveTheSingleThreadedResultsBitForBit() throws Exception {
        List<ConvEngine> engines = Engines.all();
        Random r = new Random(11);
        List<Case> cases = new ArrayList<>();
        for (Object[] c : SMALL) {
            Case k = new Case(c, r);
            for (ConvEngine e : engines) {
                k.expected.put(e, k.compute(e));
            }
            cases.add(k);
        }
        AtomicInteger calls = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        for (int t = 0; t < THREADS; t++) {
            long seed = 100 + t;
            Thread th = new Thread(() -> {
                Random tr = new Random(seed);
                Map<Case, Tensor[]> mine = new HashMap<>();
                try {
                    go.await();
                    for (Case k : cases) {
                        mine.put(k, new Tensor[] {Tensor.zeros(k.ys), Tensor.zeros(k.xs), Tensor.zeros(k.ws), Tensor.zeros(k.ws[0])});
                    }
                    for (int i = 0; i < CALLS_PER_THREAD && failure.get() == null; i++) {
                        Case k = cases.get(tr.nextInt(cases.size()));
                        ConvEngine e = engines.get(tr.nextInt(engines.size()));
                        float[][] want = k.expected.get(e);
                        Tensor[] out = mine.get(k);
                        String where = Engines.label(e) + " " + k.p + " x" + java.util.Arrays.toString(k.xs);
                        switch (tr.nextInt(5)) {
                            case 0:
                                out[0].fill(Float.NaN);
                                e.forward(k.p, k.x, k.w, k.b, out[0]);
                                same(want[0], out[0].toArray(), "forward " + where);
                                break;
                            case 1:
                                try (Tensor y = e.forward(k.p, k.x, k.w, k.b)) {
                                    same(want[0], y.toArray(), "forward (new tensor) " + where);
                                }
                                break;
                            case 2:
                                out[1].fill(Float.NaN);
                                e.backwardData(k.p, k.gy, k.w, out[1]);
                                same(want[1], out[1].toArray(), "backwardData " + where);
                                break;
                            case 3:
                                out[2].fill(Float.NaN);
                                out[3].fill(Float.NaN);
                                e.backwardWeights(k.p, k.x, k.gy, out[2], out[3]);
                                same(want[2], out[2].toArray(), "backwardWeights gw " + where);
                                same(want[3], out[3].toArray(), "backwardWeights gb " + where);
                                break;
                            default:
                                try (Tensor gx = e.backwardData(k.p, k.gy, k.w, k.xs)) {
                                    same(want[1], gx.toArray(), "backwardData (new tensor) " + where);
                                }
                        }
                        calls.incrementAndGet();
                    }
                } catch (Throwable ex) {
                    failure.compareAndSet(null, ex);
                } finally {
                    mine.values().forEach(ts -> {
                        for (Tensor t2 : ts) {
                            t2.close();
                        }
                    });
                }
            }, "stress-" + t);
            th.start();
            threads.add(th);
        }
        go.countDown();
        for (Thread th : threads) {
            th.join(300_000);
            assertFalse(th.isAlive(), th.getName() + " did not finish: deadlock?");
        }
        cases.forEach(Case::close);
        if (failure.get() != null) {
            throw new AssertionError(failure.get().toString(), failure.get());
        }
        assertEquals(THREADS * CALLS_PER_THREAD, calls.get());
        System.out.printf("stress: %d threads x %d calls = %d mixed calls on %d engines, %d shapes, bit-identical, in %.1f s%n",
                THREADS, CALLS_PER_THREAD, calls.get(), engines.size(), cases.size(), (System.nanoTime() - start) / 1e9);
    }

    private static void same(float[] want, float[] got, String where) {
        assertEquals(want.length, got.length, where);
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                fail(where + ": element " + i + " is " + got[i] + " but the single-threaded result is " + want[i]);
            }
        }
    }

    /** Larger shapes, so that every pass is cut into several units (images, row bands, channel blocks, groups). */
    private static final Object[][] LARGE = {
        {"dense 64ch 28x28 batch 4", Conv2dParams.builder().padding(1).build(), new int[] {4, 64, 28, 28}, new int[] {64, 64, 3, 3}},
        {"wide 64x64 batch 2", Conv2dParams.builder().padding(1).build(), new int[] {2, 16, 64, 64}, new int[] {32, 16, 3, 3}},
        {"grouped strided", Conv2dParams.builder().groups(4).stride(2).padding(1, 2, 1, 0).build(), new int[] {3, 32, 30, 30}, new int[] {32, 8, 3, 3}},
        {"depthwise 64ch 28x28 batch 4", Conv2dParams.builder().groups(64).padding(1).build(), new int[] {4, 64, 28, 28}, new int[] {64, 1, 3, 3}},
        {"pointwise 64ch 28x28 batch 4", Conv2dParams.DEFAULT, new int[] {4, 64, 28, 28}, new int[] {32, 64, 1, 1}},
        {"dilated 5x5", Conv2dParams.builder().dilation(2).padding(4).build(), new int[] {2, 24, 33, 31}, new int[] {16, 24, 5, 5}},
        // blocks of output channels of one band: on one thread they share its column matrix, on two each builds it
        {"512 outputs on 7x7", Conv2dParams.builder().padding(1).algorithm(dev.conv4j.ConvAlgorithm.IM2COL).build(),
            new int[] {1, 32, 7, 7}, new int[] {512, 32, 3, 3}},
    };

    /**
     * The same inputs give bit-identical y, gx, gw and gb for 1, 2 and 4 threads, and on every run: the
     * weight gradient's sum over the batch is reduced in an order fixed by the shapes. Each pass of these
     * shapes is split into several units, run on the engine's helper threads.
     */
    @Test
    void resultsAreBitIdenticalForEveryThreadCountAndEveryRun() {
        List<String> kinds = new ArrayList<>(List.of("java"));
        if (ConvEngines.isNativeAvailable()) {
            kinds.add("blas");
        }
        Random r = new Random(12);
        for (Object[] c : LARGE) {
            Case k = new Case(new Object[] {c[1], c[2], c[3]}, r);
            try {
                for (String kind : kinds) {
                    float[][] one = k.compute(ConvEngines.byName(kind, 1));
                    for (int threads : new int[] {2, 4, 4}) {
                        float[][] many = k.compute(ConvEngines.byName(kind, threads));
                        String[] names = {"forward y", "backwardData gx", "backwardWeights gw", "backwardWeights gb"};
                        for (int i = 0; i < names.length; i++) {
                            same(one[i], many[i], kind + "(" + threads + ") vs " + kind + "(1), " + names[i] + ", " + c[0]);
                        }
                    }
                }
            } finally {
                k.close();
            }
        }
        for (String kind : kinds) {
            assertTrue(liveThreads("conv4j-" + kind + "(4)-") > 0, "the " + kind + "(4) engine never used a helper thread:"
                    + " the shapes did not split into several units");
        }
    }

    /** OpenBLAS runs one thread per call: conv4j's units are the parallelism, so callers x BLAS threads never multiply. */
    @Test
    void openblasIsSingleThreaded() {
        if (ConvEngines.isNativeAvailable()) {
            ConvEngines.blas(2);
            assertEquals(1, NativeKernels.openblasThreads());
        }
    }

    /**
     * Many callers arriving at once (a thread pool calling in) add no threads beyond the engines' helper
     * pools (threads - 1 each, shared by all callers), and all of them finish: nothing waits on a pool.
     */
    @Test
    void manyConcurrentCallersNeitherOversubscribeNorDeadlock() throws Exception {
        Map<ConvEngine, Integer> engines = new java.util.LinkedHashMap<>();
        engines.put(ConvEngines.java(2), 2);
        engines.put(ConvEngines.java(3), 3);
        if (ConvEngines.isNativeAvailable()) {
            engines.put(ConvEngines.blas(2), 2);
            engines.put(ConvEngines.blas(3), 3);
        }
        List<ConvEngine> list = new ArrayList<>(engines.keySet());
        int callers = 24, helperBudget = engines.values().stream().mapToInt(t -> t - 1).sum();
        Random r = new Random(13);
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        int[] xs = {2, 16, 32, 32}, ws = {16, 16, 3, 3};
        try (Tensor x = TestData.random(r, 1, xs); Tensor w = TestData.random(r, 1, ws)) {
            Map<ConvEngine, float[]> expected = new HashMap<>();
            for (ConvEngine e : list) {
                try (Tensor y = e.forward(p, x, w, null)) {
                    expected.put(e, y.toArray());
                }
            }
            ExecutorService pool = Executors.newFixedThreadPool(callers);
            CountDownLatch ready = new CountDownLatch(callers), go = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int c = 0; c < callers; c++) {
                int id = c;
                futures.add(pool.submit(() -> {
                    ready.countDown();
                    go.await();
                    for (int i = 0; i < 10; i++) {
                        ConvEngine e = list.get((id + i) % list.size());
                        try (Tensor y = e.forward(p, x, w, null)) {
                            same(expected.get(e), y.toArray(), "caller " + id + " " + Engines.label(e));
                        }
                    }
                    return null;
                }));
            }
            ready.await();
            // every caller thread exists now: any thread added from here on is the engines' (or the JVM's)
            int base = processThreads(), maxThreads = base, maxHelpers = 0;
            go.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
            while (futures.stream().anyMatch(f -> !f.isDone())) {
                if (System.nanoTime() > deadline) {
                    pool.shutdownNow();
                    fail("callers still running after 240 s: deadlock?\n" + dump());
                }
                maxThreads = Math.max(maxThreads, processThreads());
                for (Map.Entry<ConvEngine, Integer> e : engines.entrySet()) {
                    int helpers = liveThreads("conv4j-" + e.getKey().name() + "(" + e.getValue() + ")-");
                    maxHelpers = Math.max(maxHelpers, helpers);
                    assertTrue(helpers <= e.getValue() - 1, helpers + " helper threads for " + Engines.label(e.getKey()));
                }
                Thread.sleep(2);
            }
            for (Future<?> f : futures) {
                f.get();
            }
            pool.shutdown();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
            // slack for threads the JVM may add on its own (JIT compiler threads)
            assertTrue(maxThreads <= base + helperBudget + 6, "the process went from " + base + " to " + maxThreads
                    + " threads with " + callers + " callers busy, for at most " + helperBudget + " engine helpers");
            System.out.printf("callers: %d concurrent callers x 10 calls; process threads with all callers started %d,"
                    + " at most %d while they ran (engine helpers at most %d per engine)%n", callers, base, maxThreads, maxHelpers);
        }
    }

    /** Engine calls from inside user pools whose threads are all busy calling (a pool smaller than its tasks, and the common pool). */
    @Test
    void callsFromInsideSaturatedUserPoolsComplete() throws Exception {
        ConvEngine e = ConvEngines.fastest();
        Conv2dParams p = Conv2dParams.builder().padding(1).build();
        try (Tensor x = TestData.random(new Random(14), 1, 2, 8, 16, 16); Tensor w = TestData.random(new Random(15), 1, 8, 8, 3, 3);
             Tensor ref = e.forward(p, x, w, null)) {
            float[] want = ref.toArray();
            ExecutorService small = Executors.newFixedThreadPool(3);
            List<Future<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                fs.add(small.submit(() -> {
                    try (Tensor y = e.forward(p, x, w, null)) {
                        return y.toArray();
                    }
                }));
            }
            for (Future<float[]> f : fs) {
                same(want, f.get(120, TimeUnit.SECONDS), "from a fixed pool");
            }
            small.shutdown();
            IntStream.range(0, 64).parallel().forEach(i -> {
                try (Tensor y = e.forward(p, x, w, null)) {
                    same(want, y.toArray(), "from the common pool");
                }
            });
        }
    }

    static int liveThreads(String prefix) {
        return (int) Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix) && t.isAlive()).count();
    }

    /** All threads of the process (JVM internals and native threads included), or 0 where /proc is missing. */
    static int processThreads() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Threads:")) {
                    return Integer.parseInt(line.substring(8).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    private static String dump() {
        StringBuilder sb = new StringBuilder();
        Thread.getAllStackTraces().forEach((t, st) -> {
            sb.append(t.getName()).append(' ').append(t.getState()).append('\n');
            for (StackTraceElement el : st) {
                sb.append("    at ").append(el).append('\n');
            }
        });
        return sb.toString();
    }
}
