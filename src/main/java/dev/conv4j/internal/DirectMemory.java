package dev.conv4j.internal;

import java.lang.ref.Cleaner;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.DoubleBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * Tensor memory when JavaCPP's native library is unavailable, and what conv4j knows about direct
 * buffers: where their memory lies, whether it is still there, and which threads may use it.
 *
 * <p>On Java 22 and later, from the multi-release jar, this is the foreign memory API
 * ({@code ForeignMemory}, in {@code src/main/java22}): each tensor gets a shared arena that
 * {@link Block#free()} closes, after which its buffers throw instead of reaching freed memory, and a
 * buffer's address, lifetime and confinement come from {@code MemorySegment.ofBuffer}.
 *
 * <p>On Java 17 to 21 (and from a class path that does not read the jar's versioned classes, such as
 * a folder of classes or a fat jar without {@code Multi-Release: true}) blocks are
 * {@code ByteBuffer.allocateDirect} buffers, freed by the garbage collector once neither the tensor
 * nor a buffer of it is reachable: Java offers no way to free a direct buffer earlier, or to read its
 * address, without {@code sun.misc.Unsafe} or native code, and conv4j uses neither. There
 * {@link #address} hands each buffer object a range of stand-in addresses of its own, which identify
 * memory and are never dereferenced (no native code runs without JavaCPP), and every buffer conv4j
 * hands out of a tensor gets the tensor's (see {@link #alias}): tensors of conv4j's memory, and
 * tensors of one buffer object, are compared exactly, while distinct buffer objects made outside
 * conv4j (a {@code duplicate()} or {@code slice()}) count as distinct memory.
 *
 * <p>Nothing here allocates while JavaCPP loads; with JavaCPP, on Java 22 and later, buffers'
 * addresses and lifetimes still come from here.
 */
public final class DirectMemory {
    /** Owned memory: its buffer, its address and how to free it. */
    public static final class Block {
        /** The block's memory, native byte order. */
        public final ByteBuffer buffer;
        /** Its address (see {@link DirectMemory#address}), or 0 where it is unknown. */
        public final long address;
        /** The arena that owns the memory (foreign memory API), or null. */
        final Object owner;
        private volatile Cleaner.Cleanable release;

        Block(ByteBuffer buffer, long address, Object owner) {
            this.buffer = buffer;
            this.address = address;
            this.owner = owner;
        }

        /**
         * Frees the block when {@code tensor} becomes unreachable, if nobody freed it before: an arena is
         * not freed by the garbage collector on its own (a direct buffer is, with its last reference).
         */
        public void freeWhenUnreachable(Object tensor) {
            if (owner != null) {
                Object arena = owner;
                release = Escapes.cleaner().register(tensor, () -> SOURCE.close(arena));
            }
        }

        /** Frees the block now where this JVM allows it (else the garbage collector frees it). */
        public void free() {
            Cleaner.Cleanable r = release;
            if (r != null) {
                r.clean(); // closes the arena once, and forgets the safety net
            } else {
                SOURCE.free(this);
            }
        }
    }

    private static final Source SOURCE = Source.pick();

    private DirectMemory() {
    }

    /** A new zeroed block of {@code bytes} bytes (at most {@code Integer.MAX_VALUE}). */
    public static Block allocate(int bytes) {
        return SOURCE.allocate(bytes);
    }

    /**
     * True when {@link #address} gives real addresses (the foreign memory API): then they are the same
     * as JavaCPP's, and used with it too.
     */
    public static boolean knowsAddresses() {
        return SOURCE.knowsAddresses();
    }

    /**
     * The address of element 0 of a direct buffer (its index 0, whatever its position), or 0 when it
     * cannot be known. Without the foreign memory API, a stand-in: see the class comment.
     */
    public static long address(Buffer b) {
        return SOURCE.address(b);
    }

    /**
     * Records that element 0 of {@code b}, a buffer conv4j made and hands out, lies at {@code address}
     * (an address {@link #address} gave for the memory it views), so that {@link #address} of
     * {@code b} gives it; nothing to do where addresses are real.
     */
    public static void alias(Buffer b, long address) {
        SOURCE.alias(b, address);
    }

    /**
     * True when freed blocks make their buffers throw (the foreign memory API): a block may then be
     * freed while buffers of it are still held. Otherwise a block whose buffers left conv4j is left to
     * the garbage collector, which frees it with the last of them.
     */
    public static boolean freedBuffersThrow() {
        return SOURCE.freedBuffersThrow();
    }

    /** What {@link #alive} checks for a direct buffer: its memory's lifetime, or null where that is unknown. */
    public static Object lifetime(Buffer b) {
        return SOURCE.lifetime(b);
    }

    /** False once the memory a {@link #lifetime} stands for has been freed. */
    public static boolean alive(Object lifetime) {
        return lifetime == null || SOURCE.alive(lifetime);
    }

    /**
     * True when only one thread may use the buffer (memory of a confined arena, {@code Arena.ofConfined()}):
     * the engines would fail on their helper threads, and another thread could free it mid-call.
     */
    public static boolean confined(Buffer b) {
        return SOURCE.confined(b);
    }

    /** The size in bytes of one element of a buffer. */
    static int elementBytes(Buffer b) {
        if (b instanceof ByteBuffer) {
            return 1;
        }
        if (b instanceof ShortBuffer || b instanceof CharBuffer) {
            return 2;
        }
        if (b instanceof LongBuffer || b instanceof DoubleBuffer) {
            return 8;
        }
        return 4; // IntBuffer, FloatBuffer
    }

    /** Where memory and addresses come from on this JVM. */
    abstract static class Source {
        abstract Block allocate(int bytes);

        abstract long address(Buffer b);

        abstract void free(Block b);

        abstract boolean knowsAddresses();

        void alias(Buffer b, long address) {
        }

        boolean freedBuffersThrow() {
            return false;
        }

        /** Frees the memory of an arena (foreign memory API only). */
        void close(Object arena) {
        }

        Object lifetime(Buffer b) {
            return null;
        }

        boolean alive(Object lifetime) {
            return true;
        }

        boolean confined(Buffer b) {
            return false;
        }

        static Source pick() {
            if (Runtime.version().feature() >= 22) {
                try {
                    // only in the multi-release jar's META-INF/versions/22 (src/main/java22)
                    return (Source) Class.forName("dev.conv4j.internal.ForeignMemory").getDeclaredConstructor().newInstance();
                } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
                    // fall through: plain direct buffers
                }
            }
            return new Plain();
        }
    }

    /**
     * {@code ByteBuffer.allocateDirect}, freed by the garbage collector, with stand-in addresses: each
     * buffer object gets a range of its own, from a counter, kept while the object is reachable.
     */
    private static final class Plain extends Source {
        /** Stand-ins start here, far from 0 (which means unknown); they are never dereferenced. */
        private static final long FIRST = 1L << 32;
        private final Map<Key, Long> ranges = new HashMap<>();
        private final ReferenceQueue<Buffer> collected = new ReferenceQueue<>();
        private long next = FIRST;

        @Override
        Block allocate(int bytes) {
            ByteBuffer b = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
            return new Block(b, address(b), null);
        }

        @Override
        boolean knowsAddresses() {
            return false;
        }

        @Override
        synchronized long address(Buffer b) {
            forgetCollected();
            Long a = ranges.get(new Key(b, null));
            if (a != null) {
                return a;
            }
            long bytes = (long) b.capacity() * elementBytes(b);
            if (next > Long.MAX_VALUE / 2) {
                return 0; // out of stand-ins (never in practice): unknown
            }
            long start = next;
            next += ((bytes + 63) & ~63L) + 64; // a gap after each range, so that no two ranges touch
            ranges.put(new Key(b, collected), start);
            return start;
        }

        @Override
        synchronized void alias(Buffer b, long address) {
            if (address != 0) {
                forgetCollected();
                ranges.put(new Key(b, collected), address);
            }
        }

        @Override
        void free(Block b) {
            // the garbage collector frees it once neither the tensor nor a buffer of it is reachable
        }

        private void forgetCollected() {
            for (Object k; (k = collected.poll()) != null; ) {
                ranges.remove(k);
            }
        }
    }

    /** A buffer as a map key by identity, held weakly. */
    private static final class Key extends WeakReference<Buffer> {
        private final int hash;

        Key(Buffer b, ReferenceQueue<Buffer> q) {
            super(b, q);
            hash = System.identityHashCode(b);
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public boolean equals(Object o) {
            if (o == this) {
                return true;
            }
            if (!(o instanceof Key)) {
                return false;
            }
            Buffer b = get();
            return b != null && b == ((Key) o).get();
        }
    }
}
