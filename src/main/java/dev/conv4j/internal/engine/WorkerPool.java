package dev.conv4j.internal.engine;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs the independent units of one call on at most {@code threads} threads: the caller plus
 * helpers from a pool that all callers of the engine share. However many threads call the engine
 * at once, it never adds more than {@code threads - 1} threads of its own, and a caller whose
 * helpers are busy simply runs its units itself, so nothing waits on a pool and nothing deadlocks.
 * Units must not depend on which thread runs them. Each thread that takes part in a call takes one
 * scratch object from the engine's {@link Pool} for its whole run of units and gives it back after,
 * so scratch memory follows the number of threads running units at once, not the number of threads
 * that ever called.
 *
 * <p>A call returns only after every unit it handed out has finished, on whatever thread: an
 * engine releases its tensors after {@link #run} returns, so no helper can touch them later. If a
 * helper cannot be started (the JVM is out of threads), the caller runs the units itself.
 * Helpers are named {@code conv4j-<engine>(<threads>)-<i>}; after a request they look for the
 * next one for 0.1 ms before sleeping, and they stop after a minute without work, taking their
 * per-thread workspaces with them. A call allocates nothing on the heap once its caller and the
 * helpers are running.
 */
public final class WorkerPool {
    /** One unit of work, identified by its index, run with the scratch of the thread running it. */
    public interface Unit<S> {
        void run(int index, S scratch);
    }

    /** The most threads an engine may use: beyond this, helpers would only contend. */
    static final int MAX_THREADS = dev.conv4j.ConvEngines.MAX_THREADS;

    /** Slots for requests for help per helper thread; when all are taken, callers work alone. */
    private static final int REQUESTS_PER_HELPER = 16;
    /**
     * How long a helper keeps looking for the next request before it sleeps: back-to-back calls
     * then find it awake (waking a sleeping thread costs tens of microseconds).
     */
    private static final long SPIN_NANOS = 100_000;
    /** A helper that found no work for this long ends, and its workspaces go with it. */
    private static final long IDLE_NANOS = 60_000_000_000L;

    private final int threads;
    private final String prefix;
    /**
     * Requests for help: a caller puts its job in free slots, a helper takes any; lock-free, so
     * neither side allocates or blocks. A request is only a hint: the caller runs every unit no
     * helper claims.
     */
    private final AtomicReferenceArray<Job> requests;
    /** The running helpers, so a caller can wake sleeping ones. */
    private final AtomicReferenceArray<Thread> helpers;
    private final AtomicInteger alive = new AtomicInteger(), started = new AtomicInteger(), sleeping = new AtomicInteger();

    public WorkerPool(String name, int threads) {
        if (threads < 1 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads must be between 1 and " + MAX_THREADS + ", got " + threads);
        }
        this.threads = threads;
        prefix = prefix(name, threads);
        requests = threads == 1 ? null : new AtomicReferenceArray<>(REQUESTS_PER_HELPER * (threads - 1));
        helpers = threads == 1 ? null : new AtomicReferenceArray<>(threads - 1);
    }

    public int threads() {
        return threads;
    }

    /** The name prefix of the helper threads of an engine {@code name} with {@code threads} threads. */
    static String prefix(String name, int threads) {
        return "conv4j-" + name + "(" + threads + ")-";
    }

    /**
     * Runs units {@code 0 .. units-1} with scratch from {@code scratch} (may be null: units get null),
     * returning when all are done; rethrows the first failure. {@code job} is the caller's own: it must
     * not be used by another call until this one returns.
     */
    public <S> void run(Job job, int units, Unit<S> unit, Pool<S> scratch) {
        if (requests == null || units == 1) {
            S s = scratch == null ? null : scratch.take();
            try {
                for (int i = 0; i < units; i++) {
                    unit.run(i, s);
                }
            } finally {
                if (s != null) {
                    scratch.give(s);
                }
            }
            return;
        }
        job.start(unit, units, scratch);
        int extra = Math.min(threads - 1, units - 1), offered = 0;
        while (offered < extra && offer(job)) {
            offered++; // when no slot is free, the caller does the rest itself
        }
        startHelpers(offered);
        if (sleeping.get() > 0) {
            for (int i = 0; i < helpers.length(); i++) {
                Thread t = helpers.get(i);
                if (t != null) {
                    LockSupport.unpark(t);
                }
            }
        }
        job.run();
        job.await();
    }

    private boolean offer(Job job) {
        for (int i = 0; i < requests.length(); i++) {
            if (requests.get(i) == null && requests.compareAndSet(i, null, job)) {
                return true;
            }
        }
        return false;
    }

    private Job poll() {
        for (int i = 0; i < requests.length(); i++) {
            Job j = requests.get(i);
            if (j != null && requests.compareAndSet(i, j, null)) {
                return j;
            }
        }
        return null;
    }

    /**
     * Brings the helpers up to {@code wanted} (at most {@code threads - 1}); if the JVM cannot start one,
     * callers work alone.
     */
    private void startHelpers(int wanted) {
        for (int a; (a = alive.get()) < wanted; ) {
            if (alive.compareAndSet(a, a + 1)) {
                try {
                    Thread t = new Thread(this::help, prefix + started.incrementAndGet());
                    t.setDaemon(true);
                    t.start();
                } catch (RuntimeException | OutOfMemoryError e) {
                    alive.decrementAndGet();
                    return;
                }
            }
        }
    }

    /**
     * A helper's life: take requests, spin briefly between them, then sleep until a caller wakes it;
     * end after a long idle time. A helper announces that it sleeps before its last look for work
     * and a caller looks for sleepers after posting its request, so no request is missed.
     */
    private void help() {
        Thread self = Thread.currentThread();
        int slot = -1;
        for (int i = 0; i < helpers.length() && slot < 0; i++) {
            if (helpers.compareAndSet(i, null, self)) {
                slot = i;
            }
        }
        try {
            long idleSince = System.nanoTime();
            for (;;) {
                Job job = poll();
                if (job == null) {
                    long deadline = System.nanoTime() + SPIN_NANOS;
                    while ((job = poll()) == null && System.nanoTime() - deadline < 0) {
                        Thread.onSpinWait();
                    }
                }
                if (job == null) {
                    sleeping.incrementAndGet();
                    try {
                        if ((job = poll()) == null) {
                            LockSupport.parkNanos(this, IDLE_NANOS);
                            job = poll();
                        }
                    } finally {
                        sleeping.decrementAndGet();
                    }
                }
                if (job == null) {
                    if (System.nanoTime() - idleSince >= IDLE_NANOS || Thread.interrupted()) {
                        return;  // a request posted meanwhile is run by its caller, or by the next helper
                    }
                    continue;
                }
                job.run();
                idleSince = System.nanoTime();
            }
        } finally {
            if (slot >= 0) {
                helpers.set(slot, null);
            }
            alive.decrementAndGet();
        }
    }

    /**
     * The units of one call of one caller thread, which reuses it for every call so that a call
     * allocates nothing. Helpers may still hold it, from the queue, after its call has ended: a
     * claim is an atomic increment of {@code state} (the call's epoch in the high 32 bits, the next
     * unit in the low 32 bits), and a claim whose epoch is not the current one, or whose unit is
     * past the end, runs nothing. A call cannot end before every valid claim has finished, so the
     * caller only rewrites the job once no helper can still run a unit of the previous call.
     */
    public static final class Job implements Runnable {
        private final AtomicLong state = new AtomicLong();
        private final AtomicInteger done = new AtomicInteger();
        private volatile int epoch;
        @SuppressWarnings("rawtypes")
        private volatile Unit unit;
        @SuppressWarnings("rawtypes")
        private volatile Pool scratch;
        private volatile int units;
        private volatile Throwable failure;

        void start(Unit<?> u, int n, Pool<?> s) {
            int e = epoch + 1;
            epoch = e;          // first, so a stale claim that sees the new unit or units sees the new epoch
            unit = u;
            scratch = s;
            units = n;
            failure = null;
            done.set(0);
            state.set((long) e << 32);
        }

        /** Claims and runs units until none is left; the scratch is taken at the first claim and given back at the end. */
        @Override
        @SuppressWarnings({"rawtypes", "unchecked"})
        public void run() {
            Pool source = null;
            Object scratchObject = null;
            try {
                for (;;) {
                    long s = state.getAndIncrement();
                    Unit u = unit;
                    Pool p = scratch;
                    int n = units, i = (int) s;
                    if (epoch != (int) (s >>> 32) || i >= n) {
                        return;
                    }
                    try {
                        if (failure == null) {
                            if (source == null && p != null) {
                                scratchObject = p.take();
                                source = p;
                            }
                            u.run(i, scratchObject);
                        }
                    } catch (Throwable t) {
                        if (failure == null) {
                            failure = t;
                        }
                    } finally {
                        if (done.incrementAndGet() == n) {
                            synchronized (this) {
                                notifyAll();
                            }
                        }
                    }
                }
            } finally {
                if (scratchObject != null) {
                    source.give(scratchObject);
                }
            }
        }

        void await() {
            boolean interrupted = false;
            synchronized (this) {
                while (done.get() < units) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
            }
            unit = null;  // the caller's objects are not kept past the call
            scratch = null;
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            Throwable f = failure;
            failure = null;
            if (f instanceof RuntimeException) {
                throw (RuntimeException) f;
            }
            if (f instanceof Error) {
                throw (Error) f;
            }
            if (f != null) {
                throw new IllegalStateException(f);
            }
        }
    }
}
