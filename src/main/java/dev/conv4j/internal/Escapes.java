package dev.conv4j.internal;

import dev.conv4j.Tensor;
import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The memory of owned tensors that left conv4j through {@link Tensor#buffer()} or
 * {@link Tensor#pointer()}, by address, so that {@code Tensor.wrap} of such a buffer or pointer
 * (or of a slice, a duplicate or a JavaCPP copy of one) becomes a view that lives and dies with the
 * tensor, and is refused once the tensor has been closed.
 *
 * <p>Every buffer and pointer handed out for a tensor's memory derives from, or holds, one root
 * {@link ByteBuffer} per owned tensor. While that root is reachable, someone may still hold a way
 * into the memory. An open tensor's entry then keeps the tensor (and so its memory) from the garbage
 * collector. A tensor closed while its root is reachable is marked closed at once, but its memory is
 * freed only when the root becomes unreachable (a cleaner runs then): a stale buffer can never reach
 * freed memory, and since the memory is not handed back to the allocator meanwhile, the closed entry
 * identifies stale buffers and pointers exactly.
 */
public final class Escapes {
    /** One owned tensor's memory that escaped. */
    public static final class Entry {
        final long start, end;
        /**
         * The tensor (a {@link Tensor}, or a weak reference to one when its root buffer holds the memory
         * itself, as direct buffers do); null once the tensor is closed.
         */
        private volatile Object tensor;
        private final WeakReference<ByteBuffer> root;
        /** Frees the memory of a tensor closed while its root was reachable; run when the root goes. */
        private Runnable free;
        private boolean dropped;

        Entry(Tensor tensor, boolean holdTensor, long start, long end, ByteBuffer root) {
            this.tensor = holdTensor ? tensor : new WeakReference<>(tensor);
            this.start = start;
            this.end = end;
            this.root = new WeakReference<>(root);
        }

        /** The open tensor, or null once it was closed (or, held weakly, collected). */
        Tensor tensor() {
            Object t = tensor;
            return t instanceof WeakReference ? (Tensor) ((WeakReference<?>) t).get() : (Tensor) t;
        }

        /** The root buffer, or null once nothing holds it. */
        public ByteBuffer root() {
            return root.get();
        }

    }

    private static final ConcurrentSkipListMap<Long, Entry> LIVE = new ConcurrentSkipListMap<>();
    /** Closed tensors whose memory is still held for stale buffers (it cannot overlap: it is not freed). */
    private static final List<Entry> CLOSED = new ArrayList<>();
    private static volatile Cleaner cleaner;

    private Escapes() {
    }

    /**
     * Registers the memory [start, end) of an open owned tensor, reachable through root. With
     * {@code holdTensor}, the entry keeps the tensor (and so its memory) from the garbage collector while
     * root is reachable: for memory the root buffer does not hold itself (JavaCPP's).
     */
    public static Entry register(Tensor owner, boolean holdTensor, long start, long end, ByteBuffer root) {
        Entry e = new Entry(owner, holdTensor, start, end, root);
        if (start != 0) {
            LIVE.put(start, e);
        }
        cleaner().register(root, () -> drop(e));
        return e;
    }

    /**
     * The tensor was closed: its memory is freed by {@code freeMemory}, now if nothing holds a buffer or
     * pointer of it any more, else when the last of them is collected.
     */
    public static void closed(Entry e, Runnable freeMemory) {
        e.tensor = null;
        LIVE.remove(e.start, e);
        boolean now;
        synchronized (CLOSED) {
            synchronized (e) {
                now = e.dropped;
                if (!now) {
                    e.free = freeMemory;
                    CLOSED.add(e);
                }
            }
        }
        if (now) {
            freeMemory.run();
        }
    }

    /** The tensor was closed and its memory freed, in a way that makes stale buffers of it throw: no tombstone. */
    public static void forget(Entry e) {
        e.tensor = null;
        LIVE.remove(e.start, e);
    }

    /** The root of e became unreachable: no buffer or pointer of the memory is left. */
    private static void drop(Entry e) {
        LIVE.remove(e.start, e);
        Runnable f;
        synchronized (CLOSED) {
            synchronized (e) {
                e.dropped = true;
                f = e.free;
                e.free = null;
            }
            CLOSED.remove(e);
        }
        if (f != null) {
            f.run();
        }
    }

    /** The open owned tensor whose escaped memory holds all of [start, start + bytes), or null. */
    public static Tensor owner(long start, long bytes) {
        if (start == 0) {
            return null;
        }
        Map.Entry<Long, Entry> f = LIVE.floorEntry(start);
        if (f == null) {
            return null;
        }
        Entry e = f.getValue();
        Tensor t = e.tensor();
        return t != null && start < e.end && start + bytes <= e.end ? t : null;
    }

    /** True when [start, start + bytes) overlaps the escaped memory of an open tensor without lying inside it. */
    public static boolean straddles(long start, long bytes) {
        if (start == 0) {
            return false;
        }
        Map.Entry<Long, Entry> f = LIVE.floorEntry(start);
        if (f != null && f.getValue().tensor() != null && start < f.getValue().end && start + bytes > f.getValue().end) {
            return true;
        }
        Map.Entry<Long, Entry> h = LIVE.higherEntry(start);
        return h != null && h.getValue().tensor() != null && h.getKey() < start + bytes;
    }

    /** True when [start, start + bytes) overlaps the memory of a closed tensor that stale buffers still hold. */
    public static boolean freed(long start, long bytes) {
        if (start == 0) {
            return false;
        }
        synchronized (CLOSED) {
            for (Entry e : CLOSED) {
                if (start < e.end && e.start < start + bytes) {
                    return true;
                }
            }
        }
        return false;
    }

    /** conv4j's one cleaner thread, started on first use (also frees direct-memory arenas, see DirectMemory). */
    public static Cleaner cleaner() {
        Cleaner c = cleaner;
        if (c == null) {
            synchronized (Escapes.class) {
                c = cleaner;
                if (c == null) {
                    c = Cleaner.create(r -> {
                        Thread t = new Thread(r, "conv4j-cleaner");
                        t.setDaemon(true);
                        return t;
                    });
                    cleaner = c;
                }
            }
        }
        return c;
    }
}
