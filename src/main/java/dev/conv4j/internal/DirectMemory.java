package dev.conv4j.internal;

import java.lang.invoke.MethodHandle;
import java.lang.ref.Cleaner;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Tensor memory when JavaCPP's native library is unavailable, and the addresses of direct buffers
 * there. On Java 22 and later it uses the foreign memory API: each tensor gets a shared arena that
 * {@link Block#free()} closes, after which its buffers throw instead of reaching freed memory, and
 * a buffer's address and liveness come from {@code MemorySegment.ofBuffer}, without
 * {@code sun.misc.Unsafe} (which Java 24 and later warn about, and may deny). On Java 17 to 21 it
 * uses {@code ByteBuffer.allocateDirect}, freed early through {@code sun.misc.Unsafe.invokeCleaner},
 * and reads addresses through {@code Unsafe}; where neither is available, addresses are unknown (0)
 * and memory is freed by the garbage collector. Nothing here is used while JavaCPP loads.
 */
public final class DirectMemory {
    /** Owned memory: its buffer, its address (0 when unknown) and how to free it. */
    public static final class Block {
        /** The block's memory, native byte order. */
        public final ByteBuffer buffer;
        /** Its address, or 0 where this JVM does not reveal it. */
        public final long address;
        private final Object owner;
        private volatile Cleaner.Cleanable release;

        private Block(ByteBuffer buffer, long address, Object owner) {
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

        /** Frees the block now. */
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

    /** The address of element 0 of a direct buffer whose position is 0, or 0 when it cannot be known. */
    public static long address(Buffer b) {
        return SOURCE.address(b);
    }

    /**
     * True when freed blocks make their buffers throw (the foreign memory API): a block may then be
     * freed while buffers of it are still held. Otherwise a block whose buffers left conv4j is left to
     * the garbage collector, which frees it with the last of them.
     */
    public static boolean freedBuffersThrow() {
        return SOURCE instanceof Foreign;
    }

    /** What {@link #alive} checks for a direct buffer: its memory's lifetime, or null where that is unknown. */
    public static Object lifetime(Buffer b) {
        return SOURCE.lifetime(b);
    }

    /** False once the memory a {@link #lifetime} stands for has been freed. */
    public static boolean alive(Object lifetime) {
        return lifetime == null || SOURCE.alive(lifetime);
    }

    /** Where memory and addresses come from on this JVM. */
    private abstract static class Source {
        abstract Block allocate(int bytes);

        abstract long address(Buffer b);

        abstract void free(Block b);

        /** Frees the memory of an arena (foreign memory API only). */
        void close(Object arena) {
        }

        Object lifetime(Buffer b) {
            return null;
        }

        boolean alive(Object lifetime) {
            return true;
        }

        static Source pick() {
            if (Runtime.version().feature() >= 22) {
                try {
                    return new Foreign();
                } catch (ReflectiveOperationException | RuntimeException e) {
                    // fall through: plain direct buffers
                }
            }
            return new Plain();
        }
    }

    /** java.lang.foreign, reached through method handles so that the library still compiles for Java 17. */
    private static final class Foreign extends Source {
        private final MethodHandle ofShared, allocate, asByteBuffer, segmentAddress, close, ofBuffer, scope, isAlive;

        Foreign() throws ReflectiveOperationException {
            MethodHandles.Lookup l = MethodHandles.publicLookup();
            Class<?> arena = Class.forName("java.lang.foreign.Arena");
            Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
            ofShared = l.findStatic(arena, "ofShared", MethodType.methodType(arena)).asType(MethodType.methodType(Object.class));
            allocate = l.findVirtual(arena, "allocate", MethodType.methodType(segment, long.class, long.class))
                    .asType(MethodType.methodType(Object.class, Object.class, long.class, long.class));
            asByteBuffer = l.findVirtual(segment, "asByteBuffer", MethodType.methodType(ByteBuffer.class))
                    .asType(MethodType.methodType(ByteBuffer.class, Object.class));
            segmentAddress = l.findVirtual(segment, "address", MethodType.methodType(long.class))
                    .asType(MethodType.methodType(long.class, Object.class));
            close = l.findVirtual(arena, "close", MethodType.methodType(void.class))
                    .asType(MethodType.methodType(void.class, Object.class));
            ofBuffer = l.findStatic(segment, "ofBuffer", MethodType.methodType(segment, Buffer.class))
                    .asType(MethodType.methodType(Object.class, Buffer.class));
            Class<?> sc = Class.forName("java.lang.foreign.MemorySegment$Scope");
            scope = l.findVirtual(segment, "scope", MethodType.methodType(sc)).asType(MethodType.methodType(Object.class, Object.class));
            isAlive = l.findVirtual(sc, "isAlive", MethodType.methodType(boolean.class))
                    .asType(MethodType.methodType(boolean.class, Object.class));
            free(allocate(16)); // fail here, at class initialization, rather than on a tensor
        }

        @Override
        Block allocate(int bytes) {
            try {
                Object a = ofShared.invokeExact();
                try {
                    Object s = allocate.invokeExact(a, (long) bytes, 64L); // zeroed by the arena
                    ByteBuffer b = ((ByteBuffer) asByteBuffer.invokeExact(s)).order(ByteOrder.nativeOrder());
                    return new Block(b, (long) segmentAddress.invokeExact(s), a);
                } catch (Throwable t) {
                    close.invokeExact(a);
                    throw t;
                }
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        @Override
        long address(Buffer b) {
            try {
                return (long) segmentAddress.invokeExact(ofBuffer.invokeExact(b));
            } catch (Throwable t) {
                return 0;
            }
        }

        @Override
        Object lifetime(Buffer b) {
            try {
                return (Object) scope.invokeExact(ofBuffer.invokeExact(b));
            } catch (Throwable t) {
                return null;
            }
        }

        @Override
        boolean alive(Object lifetime) {
            try {
                return (boolean) isAlive.invokeExact(lifetime);
            } catch (Throwable t) {
                return false;
            }
        }

        @Override
        void free(Block b) {
            close(b.owner);
        }

        @Override
        void close(Object arena) {
            try {
                close.invokeExact(arena);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }

    /** ByteBuffer.allocateDirect, with sun.misc.Unsafe for addresses and early release where present. */
    private static final class Plain extends Source {
        private final Object unsafe;
        private final long addressOffset;
        private final java.lang.reflect.Method getLong, invokeCleaner;

        Plain() {
            Object u = null;
            long off = -1;
            java.lang.reflect.Method gl = null, ic = null;
            try {
                Class<?> c = Class.forName("sun.misc.Unsafe");
                Field f = c.getDeclaredField("theUnsafe");
                f.setAccessible(true);
                u = f.get(null);
                off = (long) c.getMethod("objectFieldOffset", Field.class).invoke(u, Buffer.class.getDeclaredField("address"));
                gl = c.getMethod("getLong", Object.class, long.class);
                ic = c.getMethod("invokeCleaner", ByteBuffer.class);
            } catch (ReflectiveOperationException | RuntimeException e) {
                u = null;
            }
            unsafe = u;
            addressOffset = off;
            getLong = gl;
            invokeCleaner = ic;
        }

        @Override
        Block allocate(int bytes) {
            ByteBuffer b = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
            return new Block(b, address(b), null);
        }

        @Override
        long address(Buffer b) {
            if (unsafe == null) {
                return 0;
            }
            try {
                return (long) getLong.invoke(unsafe, b, addressOffset);
            } catch (ReflectiveOperationException e) {
                return 0;
            }
        }

        @Override
        void free(Block b) {
            if (unsafe != null) {
                try {
                    invokeCleaner.invoke(unsafe, b.buffer);
                } catch (ReflectiveOperationException e) {
                    // the garbage collector frees it instead
                }
            }
        }
    }
}
