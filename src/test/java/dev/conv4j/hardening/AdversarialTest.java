package dev.conv4j.hardening;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.ShortPointer;
import org.junit.jupiter.api.Test;

/**
 * Keeps misusing conv4j through its public API and ordinary JavaCPP usage, at random, within a time
 * budget: JavaCPP scopes (nested, restricted to classes, deallocated) around allocations and calls,
 * pointers of every element type cast to floats at any position and with lying limits, views of
 * views of pointers and buffers handed out, closes of owners, views, source pointers and scopes in
 * any order, calls racing with closes on other threads, calls from short-lived and virtual threads,
 * and allocations beyond the memory limit. Whatever happens, the JVM must not crash, an exception
 * must be one the API documents ({@link IllegalArgumentException}, {@link IllegalStateException},
 * {@link UnsupportedOperationException}, or {@link OutOfMemoryError} where memory is asked for), every
 * call that returns must have computed what the reference engine computes, and all native memory
 * must be back at the end.
 *
 * <p>Budget: {@code -Dconv4j.adversarial.seconds} (default 20) and {@code -Dconv4j.adversarial.seed}.
 * The longer run (README, "Adversarial run"):
 * {@code mvn -B surefire:test -Dtest=AdversarialTest -Dconv4j.adversarial.seconds=1800}.
 */
class AdversarialTest {
    private static final Conv2dParams[] PARAMS = {
        Conv2dParams.builder().padding(1).build(),
        Conv2dParams.builder().padding(1).stride(2).build(),
        Conv2dParams.builder().padding(1).groups(4).build(),
        Conv2dParams.builder().padding(1).algorithm(ConvAlgorithm.WINOGRAD_2X2).build(),
        Conv2dParams.DEFAULT,
    };
    private static final int[][] X_SHAPES = {{1, 4, 8, 8}, {2, 4, 6, 6}, {1, 16, 12, 12}};
    private static final int[][] W_SHAPES = {{4, 4, 3, 3}, {8, 1, 3, 3}, {16, 16, 3, 3}, {4, 4, 1, 1}};

    private final Map<String, Integer> counts = new TreeMap<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private final List<Pointer> pointers = new ArrayList<>();
    private final Deque<PointerScope> scopes = new ArrayDeque<>();
    private final List<ConvEngine> engines = Engines.all();
    private final List<String> log = new ArrayList<>();
    private Random r;

    @Test
    void randomMisuseNeverCrashesLeaksOrComputesGarbage() throws Exception {
        long seconds = Long.getLong("conv4j.adversarial.seconds", 20);
        long seed = Long.getLong("conv4j.adversarial.seed", System.nanoTime());
        r = new Random(seed);
        int steps = 0;
        long baseline = -1;
        try {
            // first a warm-up: the engines' pools of call contexts and workspaces reach their size (they
            // keep a bounded number, see ThreadModelTest), then everything made so far is closed
            for (long warm = System.nanoTime() + 2_000_000_000L; System.nanoTime() < warm; ) {
                step(steps++);
            }
            cleanUp();
            warmPools();
            baseline = settle();
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            while (System.nanoTime() < end) {
                step(steps++);
            }
        } catch (Throwable t) {
            throw new AssertionError("seed " + seed + ", step " + steps + "; last steps: " + tail(), t);
        } finally {
            cleanUp();
        }
        long after = settle();
        System.out.printf("adversarial: seed %d, %d steps in %d s: %s; native memory %d -> %d bytes%n", seed, steps, seconds,
                counts, baseline, after);
        assertTrue(after <= baseline + (1 << 20), "native memory was not all released: " + baseline + " -> " + after
                + " bytes (seed " + seed + ")");
    }

    private void step(int i) throws Exception {
        int op = r.nextInt(100);
        String name = op < 14 ? "allocate" : op < 26 ? "castAndWrap" : op < 40 ? "view" : op < 52 ? "close"
                : op < 72 ? "call" : op < 78 ? "scope" : op < 84 ? "race" : op < 89 ? "threads" : op < 92 ? "plan"
                : op < 96 ? "bufferState" : op < 97 ? "tooLarge" : "trim";
        log.add(i + " " + name);
        if (log.size() > 40) {
            log.remove(0);
        }
        counts.merge(name, 1, Integer::sum);
        try {
            switch (name) {
                case "allocate": allocate(); break;
                case "castAndWrap": castAndWrap(); break;
                case "view": view(); break;
                case "close": closeSomething(); break;
                case "call": call(engines.get(r.nextInt(engines.size()))); break;
                case "scope": scope(); break;
                case "race": race(); break;
                case "threads": threads(); break;
                case "plan": plan(); break;
                case "bufferState": bufferState(); break;
                case "tooLarge": tooLarge(); break;
                default: trim(); break;
            }
        } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException e) {
            counts.merge("refused", 1, Integer::sum); // documented refusals
        }
    }

    private void allocate() {
        int[] shape = r.nextBoolean() ? X_SHAPES[r.nextInt(X_SHAPES.length)] : W_SHAPES[r.nextInt(W_SHAPES.length)];
        tensors.add(r.nextBoolean() ? Tensor.zeros(shape) : TestData.random(r, 1, shape));
    }

    private void castAndWrap() {
        long count = 1 + r.nextInt(2000);
        Pointer p;
        switch (r.nextInt(6)) {
            case 0: p = new BytePointer(count); break;
            case 1: p = new ShortPointer(count); break;
            case 2: p = new IntPointer(count); break;
            case 3: p = new LongPointer(count); break;
            case 4: p = new DoublePointer(count); break;
            default: p = new FloatPointer(count); break;
        }
        pointers.add(p);
        FloatPointer f = p instanceof FloatPointer && r.nextBoolean() ? (FloatPointer) p : new FloatPointer(p);
        f.position(r.nextInt(8) == 0 ? -r.nextInt(5) - 1 : r.nextInt((int) Math.max(1, count)));
        switch (r.nextInt(4)) {
            case 0: f.limit(r.nextInt(4000)); break;
            case 1: f.capacity(r.nextInt(4000)); break;
            case 2: f.limit(0); break;
            default: break;
        }
        int[] shape = randomShape();
        Tensor t = Tensor.wrap(f, shape);
        tensors.add(t);
        long bytes = p.capacity() * p.sizeof(), offset = 4 * f.position();
        if (offset < 0 || offset + 4 * t.size() > bytes) {
            fail("wrap accepted " + t.size() + " floats at byte " + offset + " of a " + bytes + "-byte " + p.getClass().getSimpleName());
        }
        float v = r.nextFloat();
        t.fill(v);
        for (float got : t.toArray()) {
            if (got != v) {
                fail("a view of a cast pointer does not read back what was written");
            }
        }
    }

    private int[] randomShape() {
        switch (r.nextInt(5)) {
            case 0: return X_SHAPES[r.nextInt(X_SHAPES.length)];
            case 1: return W_SHAPES[r.nextInt(W_SHAPES.length)];
            case 2: return new int[] {1 + r.nextInt(600)};
            case 3: return new int[] {r.nextInt(3) - 1, 4};
            default: return new int[] {1 + r.nextInt(20), 1 + r.nextInt(20)};
        }
    }

    private Tensor someTensor() {
        if (tensors.isEmpty()) {
            tensors.add(Tensor.zeros(X_SHAPES[0]));
        }
        return tensors.get(r.nextInt(tensors.size()));
    }

    private void view() {
        Tensor t = someTensor();
        int[] shape = r.nextInt(3) == 0 ? t.shape() : randomShape();
        Tensor v;
        switch (r.nextInt(8)) {
            case 0: v = t.reshape(shape); break;
            case 1: v = t.view(r.nextInt(64) - 8, shape); break;
            case 2: v = Tensor.wrap(t.pointer(), shape); break;
            case 3: v = Tensor.wrap(t.buffer(), shape); break;
            case 4: v = Tensor.wrap(t.pointer().getPointer(r.nextInt(16)), shape); break;
            case 5: v = Tensor.wrap(new FloatPointer(t.pointer()).position(r.nextInt(16) - 2), shape); break;
            case 6: v = Tensor.wrap((FloatBuffer) t.buffer().position(r.nextInt(16)), shape); break;
            default: v = Tensor.wrap(new FloatPointer(new BytePointer(t.pointer())), shape); break;
        }
        tensors.add(v);
        v.toArray();
    }

    private void closeSomething() {
        int k = r.nextInt(3);
        if (k == 0 && !pointers.isEmpty()) {
            Pointer p = pointers.remove(r.nextInt(pointers.size()));
            if (r.nextBoolean()) {
                p.close();
            } else {
                p.deallocate();
            }
        } else if (k == 1 && !scopes.isEmpty()) {
            closeScope();
        } else if (!tensors.isEmpty()) {
            Tensor t = tensors.remove(r.nextInt(tensors.size()));
            t.close();
        }
    }

    private void scope() {
        if (scopes.size() < 3 && r.nextBoolean()) {
            switch (r.nextInt(3)) {
                case 0: scopes.push(new PointerScope()); break;
                case 1: scopes.push(new PointerScope(FloatPointer.class)); break;
                default: scopes.push(new PointerScope(IntPointer.class, BytePointer.class)); break;
            }
        } else if (!scopes.isEmpty()) {
            closeScope();
        }
    }

    private void closeScope() {
        PointerScope s = scopes.pop();
        if (r.nextInt(3) == 0) {
            s.deallocate(); // frees what it holds whatever their counts
        }
        s.close();
    }

    /** A call on tensors from the pool (often mismatched) or, half the time, a well-formed one checked against naive. */
    private void call(ConvEngine e) {
        Conv2dParams p = PARAMS[r.nextInt(PARAMS.length)];
        if (r.nextBoolean() && tensors.size() >= 3) {
            Tensor a = someTensor(), b = someTensor(), c = someTensor();
            switch (r.nextInt(3)) {
                case 0: e.forward(p, a, b, null, c); break;
                case 1: e.backwardData(p, a, b, c, r.nextBoolean()); break;
                default: e.backwardWeights(p, a, b, c, null, r.nextBoolean()); break;
            }
            return;
        }
        int[] xs = X_SHAPES[r.nextInt(X_SHAPES.length)], ws = W_SHAPES[r.nextInt(W_SHAPES.length)];
        try (Tensor x = maybeView(TestData.random(r, 1, xs)); Tensor w = maybeView(TestData.random(r, 1, ws));
             Tensor y = e.forward(p, x, w, null); Tensor ref = ConvEngines.naive().forward(p, x, w, null)) {
            double err = TestData.relErr(y.toArray(), ref.toArray());
            if (!(err < ConvAlgorithm.WINOGRAD_4X4_TOLERANCE)) {
                fail(Engines.label(e) + " computed " + p + " on " + java.util.Arrays.toString(xs) + " with error " + err);
            }
            try (Tensor gx = e.backwardData(p, y, w, xs); Tensor gxr = ConvEngines.naive().backwardData(p, y, w, xs)) {
                if (!(TestData.relErr(gx.toArray(), gxr.toArray()) < ConvAlgorithm.WINOGRAD_4X4_TOLERANCE)) {
                    fail(Engines.label(e) + " computed a wrong input gradient for " + p);
                }
            }
        }
    }

    /** The same memory, seen through a view made one of the ways users make them (the tensor joins the pool). */
    private Tensor maybeView(Tensor t) {
        int k = r.nextInt(4);
        if (k < 3) {
            tensors.add(t);
        }
        switch (k) {
            case 0: return t.reshape(t.shape());
            case 1: return Tensor.wrap(t.pointer(), t.shape());
            case 2: return Tensor.wrap(t.buffer(), t.shape());
            default: return t;
        }
    }

    /** Calls on one thread while this thread closes their tensors, views, or the pointer under them. */
    private void race() throws Exception {
        ConvEngine e = engines.get(1 + r.nextInt(engines.size() - 1));
        Conv2dParams p = PARAMS[0];
        FloatPointer mine = new FloatPointer(4 * 12 * 12 + 16);
        Tensor owner = TestData.random(r, 1, 1, 16, 12, 12);
        Tensor viaPointer = Tensor.wrap(mine, 1, 4, 12, 12), view = owner.reshape(1, 16, 12, 12);
        Tensor w = TestData.random(r, 1, 16, 16, 3, 3), w4 = Tensor.zeros(4, 4, 3, 3);
        Thread caller = new Thread(() -> {
            for (int k = 0; k < 200; k++) {
                try (Tensor y = e.forward(p, view, w, null)) {
                    y.toArray();
                } catch (IllegalStateException expected) {
                    return; // closed under it: refused, not read
                }
                try (Tensor y = e.forward(p, viaPointer, w4, null)) {
                    y.toArray();
                } catch (IllegalStateException expected) {
                    return;
                }
            }
        });
        caller.start();
        Thread.sleep(r.nextInt(3));
        for (Object victim : new Object[] {owner, mine, w}) {
            for (;;) {
                try {
                    if (victim instanceof Tensor) {
                        ((Tensor) victim).close();
                    } else {
                        // the caller's own pointer: conv4j cannot stop its owner freeing it, only refuse to read it after
                        caller.join();
                        ((Pointer) victim).deallocate();
                    }
                    break;
                } catch (IllegalStateException inUse) {
                    Thread.onSpinWait();
                }
            }
        }
        caller.join();
        view.close();
        viaPointer.close();
        w4.close();
    }

    private void threads() throws Exception {
        boolean virtual = Runtime.version().feature() >= 21 && r.nextBoolean();
        ExecutorService ex = virtual
                ? (ExecutorService) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null)
                : Executors.newCachedThreadPool();
        List<Future<?>> done = new ArrayList<>();
        for (int k = 0; k < 16; k++) {
            done.add(ex.submit(() -> {
                Random local = new Random(r.nextLong());
                try (PointerScope s = local.nextBoolean() ? new PointerScope() : null) {
                    ConvEngine e = engines.get(1 + local.nextInt(engines.size() - 1));
                    Conv2dParams p = PARAMS[local.nextInt(2)];
                    try (Tensor x = TestData.random(local, 1, X_SHAPES[2]); Tensor w = TestData.random(local, 1, W_SHAPES[2]);
                         Tensor y = e.forward(p, x, w, null); Tensor ref = ConvEngines.naive().forward(p, x, w, null)) {
                        if (!(TestData.relErr(y.toArray(), ref.toArray()) < 1e-4)) {
                            throw new AssertionError("wrong result on a " + (virtual ? "virtual" : "short-lived") + " thread");
                        }
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get(2, TimeUnit.MINUTES);
        }
        ex.shutdown();
    }

    private void plan() {
        ConvEngine e = engines.get(r.nextInt(engines.size()));
        Conv2dParams p = PARAMS[r.nextInt(2)];
        int[] xs = X_SHAPES[2], ws = W_SHAPES[2];
        try (Conv2dPlan plan = e.plan(p, xs, ws); Tensor x = maybeView(TestData.random(r, 1, xs)); Tensor w = TestData.random(r, 1, ws);
             Tensor ref = ConvEngines.naive().forward(p, x, w, null); Tensor y = Tensor.zeros(ref.shape())) {
            plan.prepackWeights(w, null);
            w.close(); // the plan keeps its own copy
            plan.forward(x, y);
            if (!(TestData.relErr(y.toArray(), ref.toArray()) < 1e-4)) {
                fail("a plan computed a wrong result after its weights' tensor was closed");
            }
        }
    }

    private void bufferState() {
        Tensor t = someTensor();
        FloatBuffer b = t.buffer();
        b.position(r.nextInt(b.capacity() + 1)).limit(b.position());
        call(engines.get(r.nextInt(engines.size())));
    }

    private int tooLarge;

    private void tooLarge() {
        if (tooLarge++ >= 3) {
            return; // JavaCPP collects garbage and waits a second before it gives up: a few suffice
        }
        try {
            Tensor t = Tensor.zeros(Integer.MAX_VALUE / 2, 2); // 8 GiB: more than JavaCPP allows this JVM
            t.close();
        } catch (OutOfMemoryError expected) {
            counts.merge("outOfMemory", 1, Integer::sum);
        }
        call(engines.get(r.nextInt(engines.size()))); // and everything still works
    }

    /** Keeps the pools small: closes what is left now and then. */
    private void trim() {
        while (tensors.size() > 20) {
            tensors.remove(0).close();
        }
        while (pointers.size() > 20) {
            pointers.remove(0).deallocate();
        }
    }

    /**
     * Every engine runs every layer of this test from many threads at once, so that its pools hold as
     * many call contexts and workspaces, as large, as they ever keep: any growth after is a leak.
     */
    private void warmPools() throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(24);
        List<Future<?>> done = new ArrayList<>();
        for (ConvEngine e : engines.subList(1, engines.size())) {
            for (int k = 0; k < 48; k++) {
                done.add(ex.submit(() -> {
                    Random local = new Random(5);
                    for (Conv2dParams p : PARAMS) {
                        for (int[] xs : X_SHAPES) {
                            for (int[] ws : W_SHAPES) {
                                try (Tensor x = TestData.random(local, 1, xs); Tensor w = TestData.random(local, 1, ws);
                                     Tensor y = e.forward(p, x, w, null); Tensor gx = e.backwardData(p, y, w, xs);
                                     Tensor gw = e.backwardWeights(p, x, y, ws)) {
                                    gw.toArray();
                                } catch (IllegalArgumentException mismatched) {
                                    // a combination of shapes the parameters do not fit
                                }
                            }
                        }
                    }
                    return null;
                }));
            }
        }
        for (Future<?> f : done) {
            f.get(5, TimeUnit.MINUTES);
        }
        ex.shutdown();
    }

    private void cleanUp() {
        while (!scopes.isEmpty()) {
            scopes.pop().close();
        }
        for (Tensor t : tensors) {
            t.close();
        }
        tensors.clear();
        for (Pointer p : pointers) {
            p.deallocate();
        }
        pointers.clear();
    }

    private String tail() {
        return String.join(", ", log);
    }

    private static long settle() throws InterruptedException {
        long last = Long.MAX_VALUE;
        for (int i = 0; i < 50; i++) {
            System.gc();
            Thread.sleep(40);
            long v = Pointer.totalBytes();
            if (v == last) {
                return v;
            }
            last = v;
        }
        return last;
    }
}
