package dev.conv4j;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.DoubleBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import org.bytedeco.javacpp.Pointer;

/**
 * What memory a JavaCPP pointer really covers, in bytes, whatever its class says. A pointer's
 * limit and capacity count elements of the class it was created as: {@code new FloatPointer(new
 * BytePointer(400))} keeps 400, which are bytes, and its position can be anything. JavaCPP keeps
 * a chain from every copy ({@code new FloatPointer(p)}, {@code p.getPointer(i)}, a cast) to the
 * pointer it was made from, and from there to the allocation (a native array, a direct buffer) whose
 * extent it recorded; this follows that chain. A pointer without an allocation behind it
 * ({@code Pointer.malloc}, an address from other native code, memory already freed) has no origin.
 *
 * <p>The chain is private to JavaCPP and read by reflection; where that is not permitted (JavaCPP as
 * a named module that does not open its package), only conv4j's own pointers have an origin.
 */
final class PointerOrigin {
    /** Bytes [start, end) of the allocation. */
    final long start, end;
    /** The tensor whose memory this is, when the chain leads to a {@link TensorPointer}. */
    final Tensor tensor;
    /** Keeps the memory from the garbage collector: the pointer that owns it, or the buffer. */
    final Object keep;
    /** The pointer whose allocation it is: the memory is gone once it is null. Null for buffers. */
    final Pointer root;

    private PointerOrigin(long start, long end, Tensor tensor, Object keep, Pointer root) {
        this.start = start;
        this.end = end;
        this.tensor = tensor;
        this.keep = keep;
        this.root = root;
    }

    private static final Chain CHAIN = Chain.open();

    /** Why origins of foreign pointers cannot be found here, or null when they can. */
    static String unavailable() {
        return CHAIN.failure;
    }

    /** The origin of p's memory, or null when it cannot be proven. */
    static PointerOrigin of(Pointer p) {
        Pointer cur = p;
        for (int depth = 0; depth < 1 << 16 && cur != null; depth++) {
            if (cur instanceof TensorPointer) {
                Tensor t = ((TensorPointer) cur).tensor();
                if (t != null) {
                    return new PointerOrigin(t.address(), t.address() + 4L * t.elements(), t, cur, null);
                }
            }
            if (CHAIN.failure != null) {
                return null;
            }
            Object d = CHAIN.deallocator(cur);
            if (d == null) {
                return null;  // nothing allocated behind it, or freed
            }
            if (CHAIN.proxy.isInstance(d)) {
                Pointer next = (Pointer) CHAIN.get(CHAIN.proxyPointer, d);
                if (next != null) {
                    cur = next;
                    continue;
                }
                Object b = CHAIN.get(CHAIN.proxyBuffer, d);
                if (b instanceof Buffer && ((Buffer) b).isDirect()) {
                    Buffer buf = (Buffer) b;
                    long start = TensorPointer.bufferAddress(buf);
                    return start == 0 ? null : new PointerOrigin(start, start + (long) buf.capacity() * elementBytes(buf), null, buf, null);
                }
                return null;
            }
            if (CHAIN.nativeDeallocator.isInstance(d)) {
                long owner = CHAIN.ownerAddress(d);
                long bytes = (long) CHAIN.get(CHAIN.bytes, d);
                if (owner == 0) {
                    return null;
                }
                if (bytes <= 0) {
                    // JavaCPP counts no bytes when its garbage collection is off: the allocation's own extent
                    bytes = cur.address() == owner ? cur.capacity() * Math.max(0, cur.sizeof()) : 0;
                }
                return bytes <= 0 ? null : new PointerOrigin(owner, owner + bytes, null, cur, cur);
            }
            // a deallocator of the pointer's own class: its extent in its own units
            long bytes = cur.capacity() * Math.max(0, cur.sizeof());
            return cur.isNull() || bytes <= 0 ? null : new PointerOrigin(cur.address(), cur.address() + bytes, null, cur, cur);
        }
        return null;
    }

    private static int elementBytes(Buffer b) {
        if (b instanceof ByteBuffer) {
            return 1;
        }
        if (b instanceof ShortBuffer || b instanceof CharBuffer) {
            return 2;
        }
        if (b instanceof LongBuffer || b instanceof DoubleBuffer) {
            return 8;
        }
        return 4;
    }

    /** The reflective handles on JavaCPP's chain. */
    private static final class Chain {
        final String failure;
        final Field deallocator, proxyPointer, proxyBuffer, bytes;
        final Class<?> proxy, nativeDeallocator;
        final Method ownerAddress;

        private Chain(String failure, Field deallocator, Field proxyPointer, Field proxyBuffer, Field bytes, Class<?> proxy,
                      Class<?> nativeDeallocator, Method ownerAddress) {
            this.failure = failure;
            this.deallocator = deallocator;
            this.proxyPointer = proxyPointer;
            this.proxyBuffer = proxyBuffer;
            this.bytes = bytes;
            this.proxy = proxy;
            this.nativeDeallocator = nativeDeallocator;
            this.ownerAddress = ownerAddress;
        }

        static Chain open() {
            try {
                Field d = Pointer.class.getDeclaredField("deallocator");
                Class<?> proxy = Class.forName("org.bytedeco.javacpp.Pointer$ProxyDeallocator");
                Class<?> nat = Class.forName("org.bytedeco.javacpp.Pointer$NativeDeallocator");
                Class<?> ref = Class.forName("org.bytedeco.javacpp.Pointer$DeallocatorReference");
                Field pp = proxy.getDeclaredField("pointer"), pb = proxy.getDeclaredField("buffer"), by = ref.getDeclaredField("bytes");
                Method owner = nat.getMethod("ownerAddress");
                for (java.lang.reflect.AccessibleObject a : new java.lang.reflect.AccessibleObject[] {d, pp, pb, by, owner}) {
                    a.setAccessible(true);
                }
                return new Chain(null, d, pp, pb, by, proxy, nat, owner);
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                return new Chain("JavaCPP's pointer internals are not accessible (" + e + ")", null, null, null, null, null, null, null);
            }
        }

        Object deallocator(Pointer p) {
            return get(deallocator, p);
        }

        Object get(Field f, Object o) {
            try {
                return f.get(o);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }

        long ownerAddress(Object d) {
            try {
                return (long) ownerAddress.invoke(d);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
