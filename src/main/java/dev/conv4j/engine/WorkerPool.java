package dev.conv4j.engine;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs the independent units of one call on at most {@code threads} threads: the caller plus
 * helpers from a pool that all callers of the engine share. However many threads call the engine
 * at once, it never adds more than {@code threads - 1} threads of its own, and a caller whose
 * helpers are busy simply runs its units itself, so nothing waits on a pool and nothing deadlocks.
 * Units must not depend on which thread runs them.
 *
 * <p>A call returns only after every unit it handed out has finished, on whatever thread: an
 * engine releases its tensors after {@link #run} returns, so no helper can touch them later. If a
 * helper cannot be started (the JVM is out of threads), the caller runs the units itself.
 * Helpers are named {@code conv4j-<engine>(<threads>)-<i>} and stop after a minute without work,
 * taking their per-thread workspaces with them.
 */
final class WorkerPool {
    /** One unit of work, identified by its index. */
    interface Unit {
        void run(int index);
    }

    private final int threads;
    private final ThreadPoolExecutor helpers;

    WorkerPool(String name, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        if (threads == 1) {
            helpers = null;
        } else {
            AtomicInteger count = new AtomicInteger();
            helpers = new ThreadPoolExecutor(threads - 1, threads - 1, 60, TimeUnit.SECONDS,
                    new LinkedBlockingQueue<>(), r -> {
                        Thread t = new Thread(r, prefix(name, threads) + count.incrementAndGet());
                        t.setDaemon(true);
                        return t;
                    });
            helpers.allowCoreThreadTimeOut(true);
        }
    }

    int threads() {
        return threads;
    }

    /** The name prefix of the helper threads of an engine {@code name} with {@code threads} threads. */
    static String prefix(String name, int threads) {
        return "conv4j-" + name + "(" + threads + ")-";
    }

    /** Runs units {@code 0 .. units-1}, returning when all are done; rethrows the first failure. */
    void run(int units, Unit unit) {
        if (helpers == null || units == 1) {
            for (int i = 0; i < units; i++) {
                unit.run(i);
            }
            return;
        }
        Job job = new Job(unit, units);
        int extra = Math.min(threads - 1, units - 1);
        for (int i = 0; i < extra; i++) {
            try {
                helpers.execute(job);
            } catch (RuntimeException | OutOfMemoryError e) {
                break; // no helper thread could be started: the caller does the rest itself
            }
        }
        job.run();
        job.await();
    }

    private static final class Job implements Runnable {
        private final Unit unit;
        private final int units;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger done = new AtomicInteger();
        private volatile Throwable failure;

        Job(Unit unit, int units) {
            this.unit = unit;
            this.units = units;
        }

        @Override
        public void run() {
            for (int i; (i = next.getAndIncrement()) < units; ) {
                try {
                    if (failure == null) {
                        unit.run(i);
                    }
                } catch (Throwable t) {
                    if (failure == null) {
                        failure = t;
                    }
                } finally {
                    if (done.incrementAndGet() == units) {
                        synchronized (this) {
                            notifyAll();
                        }
                    }
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
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            Throwable f = failure;
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
