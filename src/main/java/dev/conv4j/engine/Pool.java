package dev.conv4j.engine;

import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Objects checked out for a while and given back: an engine's call contexts (one per call in
 * flight) and the scratch of the threads running units. Per-thread state would grow with every
 * thread that ever called (a server on virtual threads makes a new thread per request); a pool grows
 * only with how many use it at once, and keeps at most {@code capacity} idle objects.
 *
 * <p>A bounded pool never lets more than {@code capacity} objects out: {@link #take()} waits for one
 * to come back (fairly, in arrival order), which bounds the memory of an engine whatever the number of
 * threads calling it. An unbounded pool makes a new object when none is idle and disposes of one that
 * comes back to a full pool. Taking and giving back an idle object allocates nothing.
 */
final class Pool<T> {
    private final AtomicReferenceArray<T> idle;
    private final Supplier<T> make;
    private final Consumer<T> dispose;
    /** Whether an object given back is worth keeping (an empty workspace is not); null keeps all. */
    private final Predicate<T> keep;
    /** Permits for objects out of the pool; null for an unbounded pool. */
    private final Semaphore out;

    /**
     * @param capacity the most idle objects kept (and, when bounded, the most objects out at once)
     * @param bounded  whether {@link #take()} waits when {@code capacity} objects are out
     */
    Pool(int capacity, boolean bounded, Supplier<T> make, Consumer<T> dispose) {
        this(capacity, bounded, make, dispose, null);
    }

    /** As above; objects given back that fail {@code keep} are disposed of rather than kept idle. */
    Pool(int capacity, boolean bounded, Supplier<T> make, Consumer<T> dispose, Predicate<T> keep) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1, got " + capacity);
        }
        idle = new AtomicReferenceArray<>(capacity);
        this.make = make;
        this.dispose = dispose;
        this.keep = keep;
        out = bounded ? new Semaphore(capacity, true) : null;
    }

    /** An idle object, or a new one; waits (uninterruptibly) while a bounded pool has all of its objects out. */
    T take() {
        if (out != null) {
            out.acquireUninterruptibly();
        }
        try {
            for (int i = 0; i < idle.length(); i++) {
                T t = idle.get(i);
                if (t != null && idle.compareAndSet(i, t, null)) {
                    return t;
                }
            }
            return make.get();
        } catch (RuntimeException | Error e) {
            if (out != null) {
                out.release();
            }
            throw e;
        }
    }

    /** Gives back an object from {@link #take()}; disposes of it when the pool already holds its capacity of idle ones. */
    void give(T t) {
        try {
            for (int i = 0; (keep == null || keep.test(t)) && i < idle.length(); i++) {
                if (idle.get(i) == null && idle.compareAndSet(i, null, t)) {
                    return;
                }
            }
            if (dispose != null) {
                dispose.accept(t);
            }
        } finally {
            if (out != null) {
                out.release();
            }
        }
    }


}
