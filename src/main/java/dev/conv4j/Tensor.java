package dev.conv4j;

import dev.conv4j.nativeblas.NativeLibrary;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.reflect.Field;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A dense float32 tensor in row-major (C) order, held off-heap.
 *
 * <p>Activations are N×C×H×W, weights O×(C/groups)×KH×KW, biases O. A tensor either owns its
 * memory ({@link #of}, {@link #zeros}), released by {@link #close()}, or is a zero-copy view of
 * memory owned by someone else ({@link #wrap(FloatBuffer, int...)}, {@link #wrap(FloatPointer, int...)}),
 * which {@code close()} only detaches from.
 *
 * <p><b>Memory.</b> Owned memory is allocated through JavaCPP (it counts in
 * {@link Pointer#totalBytes()}) and released at once by {@code close()}. Owned memory that is never
 * closed is released by JavaCPP's deallocator after the tensor becomes unreachable and is garbage
 * collected: a safety net, not a substitute for try-with-resources in a server. When JavaCPP's own
 * native library cannot load (a platform the jars do not cover), tensors fall back to Java direct
 * buffers, released the same two ways, and then hold at most {@link #MAX_BUFFER_ELEMENTS} elements.
 *
 * <p><b>Sizes.</b> A tensor holds at most {@link Integer#MAX_VALUE} elements, so every element index
 * fits the {@code int} arguments of BLAS. Every dimension must be at least 1; rank 0 (a scalar) is allowed.
 *
 * <p><b>Threads and lifetime.</b> Reading a tensor from several threads at once is safe; writing it
 * while another thread reads or writes it is a data race, as for an array. Every engine call and every
 * copy method {@linkplain #acquire() acquires} the tensors it touches for its duration, and
 * {@code close()} on a tensor that is acquired throws {@link IllegalStateException} instead of
 * freeing memory that another thread is reading: closing never invalidates a running call. Using a
 * closed tensor throws {@link IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {
    /** The most elements a Java direct buffer can address (its capacity in bytes is an {@code int}). */
    public static final int MAX_BUFFER_ELEMENTS = Integer.MAX_VALUE / Float.BYTES;

    /** {@link #users} value of a closed tensor; any other value counts the current users. */
    private static final int CLOSED = -1;
    private static final VarHandle USERS;
    private static final BufferAddress ADDRESSES = new BufferAddress();

    static {
        try {
            USERS = MethodHandles.lookup().findVarHandle(Tensor.class, "users", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
        dev.conv4j.engine.TensorPointers.install(t -> t.engineView);
    }

    private final int[] shape;
    private final int size;
    /** Owning (or, for a view, borrowing) pointer; null when the memory is a Java direct buffer. */
    private final FloatPointer pointer;
    /** The root buffer of owned direct-buffer memory, freed on close; null otherwise. */
    private final ByteBuffer directRoot;
    private final long address;
    private final boolean owner;
    /** Keeps the memory of a view reachable for as long as the view is. */
    private final Object keepAlive;
    private volatile FloatBuffer buffer;
    /** The engines' own view of the memory: never handed to users, so nobody can move its position or limit. */
    private final FloatPointer engineView;
    @SuppressWarnings("unused") // accessed through USERS
    private volatile int users;

    private Tensor(int[] shape, int size, FloatPointer pointer, FloatBuffer buffer, ByteBuffer directRoot,
                   long address, boolean owner, Object keepAlive) {
        this.shape = shape;
        this.size = size;
        this.pointer = pointer;
        this.buffer = buffer;
        this.directRoot = directRoot;
        this.address = address;
        this.owner = owner;
        this.keepAlive = keepAlive;
        this.engineView = pointer == null ? null : Alias.at(address, size);
    }

    /** A new tensor holding a copy of {@code data}, whose length must equal the product of {@code shape}. */
    public static Tensor of(float[] data, int... shape) {
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        int[] s = checkShape(shape);
        int n = elementCount(s);
        if (data.length != n) {
            throw new IllegalArgumentException("data has " + data.length + " elements but shape "
                    + Arrays.toString(s) + " needs " + n);
        }
        Tensor t = allocate(s, n);
        if (t.pointer != null) {
            t.pointer.put(data, 0, n);
        } else {
            t.buffer.put(0, data, 0, n);
        }
        return t;
    }

    /** A new tensor of the given shape filled with zeros. */
    public static Tensor zeros(int... shape) {
        int[] s = checkShape(shape);
        Tensor t = allocate(s, elementCount(s));
        if (t.pointer != null) {
            t.pointer.zero();
        } // a new direct buffer is already zeroed
        return t;
    }

    /**
     * A zero-copy view of a direct buffer: elements {@code [position, position + size)} of
     * {@code direct}. The buffer must be in native byte order. Writes through either are seen by the
     * other. The view keeps the buffer reachable; {@code close()} does not free it.
     */
    public static Tensor wrap(FloatBuffer direct, int... shape) {
        if (direct == null) {
            throw new IllegalArgumentException("direct buffer must not be null");
        }
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("buffer must be direct (ByteBuffer.allocateDirect(...).asFloatBuffer()); use Tensor.of(float[], ...) to copy heap data");
        }
        if (direct.order() != ByteOrder.nativeOrder()) {
            throw new IllegalArgumentException("buffer byte order is " + direct.order()
                    + " but native code needs " + ByteOrder.nativeOrder() + " (call ByteBuffer.order(ByteOrder.nativeOrder()))");
        }
        if (direct.isReadOnly()) {
            throw new IllegalArgumentException("buffer is read-only; a tensor may be written (use Tensor.of(float[], ...) to copy it)");
        }
        int[] s = checkShape(shape);
        int n = elementCount(s);
        if (direct.remaining() < n) {
            throw new IllegalArgumentException("buffer has " + direct.remaining() + " remaining elements but shape "
                    + Arrays.toString(s) + " needs " + n);
        }
        FloatBuffer slice = direct.slice().limit(n);
        if (NativeLibrary.javacppFailure() == null) {
            FloatPointer p = new FloatPointer(slice); // keeps the slice, and so the buffer's memory, reachable
            return new Tensor(s, n, p, slice, null, p.address(), false, slice);
        }
        return new Tensor(s, n, null, slice, null, ADDRESSES.of(slice), false, slice);
    }

    /**
     * A zero-copy view of native memory: elements {@code [position, position + size)} of {@code pointer}.
     * The pointer's limit must be set and leave room for the shape. The caller keeps owning the
     * memory and must keep it allocated while the view is used: the view keeps {@code pointer}
     * reachable (so its JavaCPP deallocator cannot run), and a view whose pointer was closed or
     * deallocated refuses to be used, but memory freed by other means cannot be detected.
     * {@code close()} does not free it.
     */
    public static Tensor wrap(FloatPointer pointer, int... shape) {
        if (pointer == null || pointer.isNull()) {
            throw new IllegalArgumentException("pointer must not be null");
        }
        int[] s = checkShape(shape);
        int n = elementCount(s);
        long end = pointer.limit();
        if (pointer.capacity() > 0) {
            end = Math.min(end, pointer.capacity());
        }
        long available = end - pointer.position();
        if (available < n) {
            throw new IllegalArgumentException("pointer has " + Math.max(0, available)
                    + " elements between position and limit but shape " + Arrays.toString(s) + " needs " + n
                    + (pointer.limit() == 0 ? " (its limit is unknown: set pointer.limit(...))" : ""));
        }
        long addr = pointer.address() + pointer.position() * (long) Float.BYTES;
        return new Tensor(s, n, Alias.at(addr, n), null, null, addr, false, pointer);
    }

    private static Tensor allocate(int[] shape, int n) {
        if (NativeLibrary.javacppFailure() == null) {
            FloatPointer p = new FloatPointer((long) n);
            if (p.isNull()) {
                throw new OutOfMemoryError("cannot allocate " + (4L * n) + " bytes for a tensor of shape " + Arrays.toString(shape));
            }
            return new Tensor(shape, n, p, null, null, p.address(), true, null);
        }
        if (n > MAX_BUFFER_ELEMENTS) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + n + " elements, more than the "
                    + MAX_BUFFER_ELEMENTS + " a Java direct buffer holds; tensors use direct buffers because JavaCPP's"
                    + " native library is unavailable (" + NativeLibrary.describe(NativeLibrary.javacppFailure()) + ")");
        }
        ByteBuffer root = ByteBuffer.allocateDirect(n * Float.BYTES).order(ByteOrder.nativeOrder());
        FloatBuffer b = root.asFloatBuffer();
        return new Tensor(shape, n, null, b, root, ADDRESSES.of(root), true, null);
    }

    private static int[] checkShape(int[] shape) {
        if (shape == null) {
            throw new IllegalArgumentException("shape must not be null");
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 1) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + ": dimension " + i
                        + " is " + shape[i] + ", every dimension must be at least 1");
            }
        }
        return shape.clone();
    }

    private static int elementCount(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d; // cannot overflow: n <= Integer.MAX_VALUE before, d < 2^31
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape)
                        + " has more than " + Integer.MAX_VALUE + " elements, the most a tensor can hold"
                        + " (element indexes are 32-bit ints in BLAS and the native kernels)");
            }
        }
        return (int) n;
    }

    /** The shape (a copy). */
    public int[] shape() {
        checkOpen();
        return shape.clone();
    }

    /** The extent of dimension {@code axis}. */
    public int dim(int axis) {
        checkOpen();
        if (axis < 0 || axis >= shape.length) {
            throw new IllegalArgumentException("axis " + axis + " is outside [0, " + shape.length + ") for shape "
                    + Arrays.toString(shape));
        }
        return shape[axis];
    }

    /** The number of dimensions. */
    public int rank() {
        checkOpen();
        return shape.length;
    }

    /** The number of elements. */
    public long size() {
        checkOpen();
        return size;
    }

    /** A new array holding a copy of the elements in row-major order. */
    public float[] toArray() {
        float[] out = new float[size];
        copyTo(out);
        return out;
    }

    /** Copies all elements into {@code dst}, whose length must equal {@link #size()}. */
    public void copyTo(float[] dst) {
        acquire();
        try {
            checkLength(dst, "dst");
            if (pointer != null) {
                pointer.get(dst, 0, size);
            } else {
                buffer.get(0, dst, 0, size);
            }
        } finally {
            release();
        }
    }

    /** Overwrites all elements from {@code src}, whose length must equal {@link #size()}. */
    public void copyFrom(float[] src) {
        acquire();
        try {
            checkLength(src, "src");
            if (pointer != null) {
                pointer.put(src, 0, size);
            } else {
                buffer.put(0, src, 0, size);
            }
        } finally {
            release();
        }
    }

    /** Sets every element to {@code value}. */
    public void fill(float value) {
        acquire();
        try {
            if (pointer != null && Float.floatToRawIntBits(value) == 0) {
                pointer.zero();
                return;
            }
            float[] chunk = new float[Math.min(size, 1 << 16)];
            Arrays.fill(chunk, value);
            for (int off = 0; off < size; off += chunk.length) {
                int len = Math.min(chunk.length, size - off);
                if (pointer != null) {
                    Alias.at(address + (long) off * Float.BYTES, len).put(chunk, 0, len);
                } else {
                    buffer.put(off, chunk, 0, len);
                }
            }
        } finally {
            release();
        }
    }

    private void checkLength(float[] a, String name) {
        if (a == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        if (a.length != size) {
            throw new IllegalArgumentException(name + " has " + a.length + " elements but the tensor of shape "
                    + Arrays.toString(shape) + " has " + size);
        }
    }

    /**
     * The native memory of this tensor, as a new pointer at its first element with its limit at its
     * size. The pointer does not own the memory: closing it, or changing its position or limit,
     * does not affect the tensor. It is valid only while the tensor is open and reachable; keep a
     * reference to the tensor, and {@linkplain #acquire() acquire} it if another thread might close it.
     *
     * @throws UnsupportedOperationException if the memory is a Java direct buffer (JavaCPP's native library is unavailable)
     */
    public FloatPointer pointer() {
        checkOpen();
        if (pointer == null) {
            throw new UnsupportedOperationException("this tensor is held in a Java direct buffer because JavaCPP's native"
                    + " library is unavailable (" + NativeLibrary.describe(NativeLibrary.javacppFailure()) + "); use buffer()");
        }
        return Alias.at(address, size);
    }

    /**
     * A direct {@link FloatBuffer} over this tensor's elements (index 0 is the first element). Use
     * absolute get/put: the buffer object is shared by all callers. Like {@link #pointer()}, it is
     * valid only while the tensor is open and reachable.
     *
     * @throws UnsupportedOperationException if the tensor has more than {@link #MAX_BUFFER_ELEMENTS} elements
     */
    public FloatBuffer buffer() {
        checkOpen();
        FloatBuffer b = buffer;
        if (b == null) {
            if (size > MAX_BUFFER_ELEMENTS) {
                throw new UnsupportedOperationException("a tensor of " + size + " elements does not fit a Java buffer, which"
                        + " holds at most " + MAX_BUFFER_ELEMENTS + " floats (2 GiB); use pointer()");
            }
            b = pointer.asBuffer(); // a benign race: two threads may each create an equivalent buffer
            buffer = b;
        }
        return b;
    }

    /** True when this tensor and {@code other} share at least one byte of memory. */
    public boolean overlaps(Tensor other) {
        checkOpen();
        if (other == null) {
            throw new IllegalArgumentException("other must not be null");
        }
        other.checkOpen();
        if (other == this) {
            return true;
        }
        if (address == 0 || other.address == 0) {
            return false; // only when a direct buffer's address is unknown: such memory is never shared by owned tensors
        }
        long a0 = address, a1 = a0 + 4L * size;
        long b0 = other.address, b1 = b0 + 4L * other.size;
        return a0 < b1 && b0 < a1;
    }

    /** True once {@link #close()} has succeeded. */
    public boolean isClosed() {
        return (int) USERS.getVolatile(this) == CLOSED;
    }

    /** Throws {@link IllegalStateException} if this tensor was closed. */
    public void checkOpen() {
        if ((int) USERS.getVolatile(this) == CLOSED) {
            throw closed();
        }
    }

    /**
     * Marks this tensor as in use until the matching {@link #release()}: while it is, {@link #close()}
     * throws instead of freeing the memory. Engines acquire every tensor of a call for its duration; call
     * it yourself around direct use of {@link #pointer()} or {@link #buffer()} when another thread might
     * close the tensor. Acquisitions nest and may come from any number of threads.
     *
     * @throws IllegalStateException if the tensor is closed, or if it is a view of a {@link FloatPointer}
     *                               that has since been deallocated
     */
    public void acquire() {
        for (;;) {
            int u = (int) USERS.getVolatile(this);
            if (u == CLOSED) {
                throw closed();
            }
            if (u == Integer.MAX_VALUE) {
                throw new IllegalStateException("tensor " + Arrays.toString(shape) + " is acquired " + u + " times, the most allowed");
            }
            if (USERS.compareAndSet(this, u, u + 1)) {
                break;
            }
        }
        if (keepAlive instanceof Pointer && ((Pointer) keepAlive).isNull()) {
            release();
            throw new IllegalStateException("tensor " + Arrays.toString(shape)
                    + " is a view of a FloatPointer that has been deallocated");
        }
    }

    /** Ends one {@link #acquire()}. */
    public void release() {
        for (;;) {
            int u = (int) USERS.getVolatile(this);
            if (u <= 0) {
                throw new IllegalStateException("release() of tensor " + Arrays.toString(shape) + " without a matching acquire()");
            }
            if (USERS.compareAndSet(this, u, u - 1)) {
                return;
            }
        }
    }

    /**
     * Releases owned memory now; a view only detaches. Idempotent.
     *
     * @throws IllegalStateException if the tensor is in use (acquired, for example by an engine call
     *                               running on another thread); the tensor then stays open and usable
     */
    @Override
    public void close() {
        for (;;) {
            int u = (int) USERS.getVolatile(this);
            if (u == CLOSED) {
                return;
            }
            if (u > 0) {
                throw new IllegalStateException("tensor " + Arrays.toString(shape) + " is in use by " + u
                        + " call(s) and cannot be closed now; close it after they return");
            }
            if (USERS.compareAndSet(this, 0, CLOSED)) {
                break;
            }
        }
        if (owner) {
            if (pointer != null) {
                pointer.close();
            } else {
                ADDRESSES.free(directRoot);
            }
        }
    }

    private IllegalStateException closed() {
        return new IllegalStateException("tensor of shape " + Arrays.toString(shape) + " is closed");
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + (isClosed() ? " (closed)" : "");
    }

    /**
     * A pointer that borrows memory: it has no deallocator, so closing it (or it being collected)
     * never frees the memory it points at, and it keeps nothing alive.
     */
    private static final class Alias extends FloatPointer {
        private Alias(long address, long elements) {
            super((Pointer) null);
            this.address = address;
            this.limit = elements;
            this.capacity = elements;
        }

        static FloatPointer at(long address, long elements) {
            return new Alias(address, elements);
        }
    }

    /**
     * Addresses of direct buffers (for overlap checks) and their early release, when JavaCPP's native
     * library is unavailable. Uses {@code sun.misc.Unsafe} when present; without it, addresses are
     * unknown (0) and direct buffers are freed by the garbage collector only.
     */
    private static final class BufferAddress {
        private final Object unsafe;
        private final long addressOffset;
        private final java.lang.reflect.Method getLong, invokeCleaner;

        BufferAddress() {
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

        long of(Buffer b) {
            if (unsafe == null) {
                return 0;
            }
            try {
                return (long) getLong.invoke(unsafe, b, addressOffset);
            } catch (ReflectiveOperationException e) {
                return 0;
            }
        }

        void free(ByteBuffer root) {
            if (unsafe != null && root != null) {
                try {
                    invokeCleaner.invoke(unsafe, root);
                } catch (ReflectiveOperationException e) {
                    // the garbage collector frees it instead
                }
            }
        }
    }
}
