package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Engines;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A tensor closed by one thread while another thread's call uses it: the close throws, the call
 * completes correctly, and the tensor is freed only when nobody uses it. Plus the rules of
 * acquire/release, borrowed pointers and views of memory the caller frees.
 */
class TensorLifetimeTest {
    private static final Conv2dParams P = Conv2dParams.builder().padding(1).build();

    static Stream<ConvEngine> engines() {
        return Engines.allStream();
    }

    /**
     * One thread runs calls on x back to back while another keeps trying to close x. Every close that
     * lands inside a call must throw "in use" (without the in-use count it would free memory a native
     * call is reading); the first close between calls succeeds, after which calls fail cleanly with
     * "closed". Every call that ran must have computed the right result.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void closingATensorThatAnotherThreadsCallUsesThrowsAndTheCallCompletes(ConvEngine engine) throws Exception {
        Random r = new Random(5);
        int inUse = 0, rounds = 0;
        boolean naive = engine == ConvEngines.naive();
        // calls long enough against the check between them (a 16-channel 32x32 layer on the blas
        // engine left too few closes inside a call on a busy machine)
        int[] xs = naive ? new int[] {1, 8, 24, 24} : new int[] {1, 48, 48, 48}, ws = naive ? new int[] {8, 8, 3, 3} : new int[] {48, 48, 3, 3};
        try (Tensor w = TestData.random(r, 1, ws); Tensor x0 = TestData.random(r, 1, xs);
             Tensor ref = ConvEngines.naive().forward(P, x0, w, null)) {
            float[] expected = ref.toArray(), data = x0.toArray();
            for (; rounds < 12; rounds++) {
                Tensor x = Tensor.of(data, xs);
                CountDownLatch started = new CountDownLatch(1);
                AtomicReference<Throwable> end = new AtomicReference<>();
                AtomicInteger calls = new AtomicInteger();
                Thread user = new Thread(() -> {
                    try (Tensor y = Tensor.zeros(P.outputShape(xs, ws))) {
                        started.countDown();
                        for (int i = 0; i < 10_000; i++) {
                            engine.forward(P, x, w, null, y);
                            assertTrue(TestData.relErr(y.toArray(), expected) < 1e-4, "a call racing with close() computed garbage");
                            calls.incrementAndGet();
                        }
                    } catch (Throwable t) {
                        end.set(t);
                    }
                });
                user.start();
                started.await();
                while (calls.get() == 0 && user.isAlive()) {
                    Thread.sleep(1); // from here on the caller is in its loop, inside a call most of the time
                }
                for (;;) {
                    try {
                        x.close();
                        break;
                    } catch (IllegalStateException e) {
                        assertTrue(e.getMessage().contains("in use"), e.getMessage());
                        assertFalse(x.isClosed());
                        inUse++;
                        Thread.sleep(1);
                    }
                }
                user.join(60_000);
                assertFalse(user.isAlive(), "the caller did not finish");
                Throwable t = end.get();
                assertTrue(t instanceof IllegalStateException && t.getMessage().contains("closed"),
                        "after close() succeeded, the next call must throw 'closed', got " + t);
                assertTrue(x.isClosed());
            }
        }
        assertTrue(inUse >= rounds / 2, "close() was refused only " + inUse + " times in " + rounds
                + " rounds: the calls did not hold their tensors");
    }

    @Test
    void acquireReleaseAndCloseFollowTheDocumentedRules() {
        Tensor t = Tensor.of(new float[] {1, 2, 3}, 3);
        t.acquire();
        t.acquire();
        IllegalStateException e = assertThrows(IllegalStateException.class, t::close);
        assertTrue(e.getMessage().contains("in use by 2"), e.getMessage());
        assertArrayEquals(new float[] {1, 2, 3}, t.toArray(), "a refused close() must leave the tensor usable");
        t.release();
        assertThrows(IllegalStateException.class, t::close);
        t.release();
        assertThrows(IllegalStateException.class, t::release, "release() without acquire()");
        t.close();
        assertTrue(t.isClosed());
        t.close(); // idempotent
        assertTrue(assertThrows(IllegalStateException.class, t::acquire).getMessage().contains("closed"));
        assertThrows(IllegalStateException.class, t::toArray);
    }

    /** Many threads acquiring and releasing at once lose no count: close() fails while any holds it and succeeds after. */
    @Test
    void theInUseCountIsExactUnderContention() throws Exception {
        Tensor t = Tensor.zeros(16);
        int threads = 8, each = 20_000;
        CountDownLatch go = new CountDownLatch(1);
        AtomicInteger refused = new AtomicInteger();
        List<Thread> list = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread th = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException ex) {
                    return;
                }
                for (int k = 0; k < each; k++) {
                    t.acquire();
                    t.release();
                }
            });
            th.start();
            list.add(th);
        }
        t.acquire(); // held across the whole run: every close() attempt below must be refused
        go.countDown();
        while (list.stream().anyMatch(Thread::isAlive)) {
            try {
                t.close();
            } catch (IllegalStateException ex) {
                refused.incrementAndGet();
            }
        }
        for (Thread th : list) {
            th.join();
        }
        assertFalse(t.isClosed(), "close() succeeded while the tensor was held");
        assertTrue(refused.get() > 0);
        t.release();
        t.close(); // the count is back to exactly zero
        assertTrue(t.isClosed());
    }

    @Test
    void closingTheBorrowedPointerOfATensorFreesNothing() {
        try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 1, 1, 2, 2); Tensor w = Tensor.of(new float[] {2}, 1, 1, 1, 1)) {
            long before = Pointer.totalBytes();
            try (FloatPointer p = t.pointer()) {
                assertEquals(4, p.limit());
                p.position(2).limit(1000); // changing a borrowed pointer changes nothing for the tensor
            }
            assertEquals(before, Pointer.totalBytes(), "closing pointer() released the tensor's memory");
            assertArrayEquals(new float[] {1, 2, 3, 4}, t.toArray());
            for (ConvEngine e : Engines.all()) {
                try (Tensor y = e.forward(Conv2dParams.DEFAULT, t, w, null)) {
                    assertArrayEquals(new float[] {2, 4, 6, 8}, y.toArray(), Engines.label(e));
                }
            }
        }
        try (FloatPointer mine = new FloatPointer(5f, 6f)) {
            try (Tensor view = Tensor.wrap(mine, 2)) {
                view.pointer().close();
                assertFalse(mine.isNull(), "closing a view's pointer freed the caller's memory");
            }
            assertEquals(5f, mine.get(0));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("engines")
    void aViewOfFreedMemoryIsRefusedNotRead(ConvEngine engine) {
        FloatPointer mine = new FloatPointer(1 * 2 * 4 * 4);
        Tensor x = Tensor.wrap(mine, 1, 2, 4, 4);
        mine.close();
        try (Tensor w = Tensor.zeros(3, 2, 3, 3); Tensor y = Tensor.zeros(1, 3, 2, 2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> engine.forward(Conv2dParams.DEFAULT, x, w, null, y));
            assertTrue(e.getMessage().contains("x") && e.getMessage().contains("deallocated"), e.getMessage());
            assertThrows(IllegalStateException.class, x::toArray);
        }
        x.close();
    }

    /**
     * A tensor larger than a Java buffer can address (2 GiB) is rejected up front by the engines that
     * read through Java buffers, instead of failing half-way through a pass on a silently shorter
     * buffer. The memory is reserved, never touched.
     */
    @Test
    void tensorsLargerThanAJavaBufferAreRejectedUpFrontByTheJavaEngine() {
        long n = (long) Tensor.MAX_BUFFER_ELEMENTS + 2;
        // JavaCPP allocates without touching the memory: only address space is reserved
        FloatPointer xp = new FloatPointer(n), yp = new FloatPointer(n);
        try {
            try (Tensor x = Tensor.wrap(xp, 1, 1, 1, (int) n); Tensor y = Tensor.wrap(yp, 1, 1, 1, (int) n);
                 Tensor w = Tensor.of(new float[] {1}, 1, 1, 1, 1); Tensor w2 = Tensor.zeros(1, 1, 1, 1)) {
                for (int threads : new int[] {1, 2}) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> ConvEngines.java(threads).forward(Conv2dParams.DEFAULT, x, w, null, y));
                    assertTrue(e.getMessage().contains("2 GiB") && e.getMessage().contains("blas"), e.getMessage());
                    assertThrows(IllegalArgumentException.class, () -> ConvEngines.java(threads).backwardData(Conv2dParams.DEFAULT, y, w, x));
                    assertThrows(IllegalArgumentException.class, () -> ConvEngines.java(threads).backwardWeights(Conv2dParams.DEFAULT, x, y, w2, null));
                }
                assertThrows(IllegalArgumentException.class, () -> ConvEngines.java(1).backwardBias(y));
                assertThrows(UnsupportedOperationException.class, x::buffer);
            }
        } finally {
            xp.deallocate();
            yp.deallocate();
        }
    }
}
