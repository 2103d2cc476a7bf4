package dev.conv4j.internal.engine;

import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Objects checked out for a while and given back: an engine's call contexts (one per call in
 * flight) and the scratch of the threads running units. Per-thread state would grow with every
 * thread that ever called (a server on virtual threads makes a new thread per request); a pool grows
 * only to the most that were in use at once, which the engine bounds (see
 * {@link AbstractConvEngine#MAX_CALLS}). Taking and giving back an idle object allocates nothing;
 * the lock is held for a push or a pop.
 */
public final class Pool<T> {
    private final Supplier<T> make;
    private final Consumer<T> dispose;
    /** Whether an object given back is worth keeping (an empty workspace is not); null keeps all. */
    private final Predicate<T> keep;
    private Object[] idle = new Object[8];
    private int count;

    public Pool(Supplier<T> make, Consumer<T> dispose, Predicate<T> keep) {
        this.make = make;
        this.dispose = dispose;
        this.keep = keep;
    }

    /** The idle object given back last (its memory is the likeliest to be in cache), or a new one. */
    @SuppressWarnings("unchecked")
    public T take() {
        synchronized (this) {
            if (count > 0) {
                T t = (T) idle[--count];
                idle[count] = null;
                return t;
            }
        }
        return make.get();
    }

    /** Gives back an object from {@link #take()}; one not worth keeping is disposed of. */
    public void give(T t) {
        if (keep != null && !keep.test(t)) {
            if (dispose != null) {
                dispose.accept(t);
            }
            return;
        }
        synchronized (this) {
            if (count == idle.length) {
                idle = java.util.Arrays.copyOf(idle, 2 * count);
            }
            idle[count++] = t;
        }
    }
}
