package dev.conv4j;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;

/**
 * A dense float32 tensor in row-major (C) order, held off-heap.
 *
 * <p>Activations are N×C×H×W, weights O×(C/groups)×KH×KW, biases O. A tensor either owns its
 * memory ({@link #of}, {@link #zeros}), released by {@link #close()}, or is a zero-copy view of
 * memory owned by someone else ({@link #wrap(FloatBuffer, int...)}, {@link #wrap(FloatPointer, int...)}),
 * which {@code close()} only detaches from. Owned memory that is never closed is reclaimed by the
 * garbage collector as a safety net, but servers should close tensors (try-with-resources).
 *
 * <p>A tensor holds at most {@link Integer#MAX_VALUE} elements, so every element index fits the
 * {@code int} arguments of BLAS and of NIO buffers. Every dimension must be at least 1.
 *
 * <p>Reading a tensor from several threads at once is safe; writing it while another thread reads
 * or writes it is a data race, as for an array. Using a closed tensor throws {@link IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {
    private final int[] shape;
    private final int size;
    private final FloatPointer pointer;
    private final boolean owner;
    /** Keeps a wrapped buffer reachable for as long as the view is. */
    @SuppressWarnings("unused")
    private final Object keepAlive;
    private FloatBuffer buffer;
    private volatile boolean closed;

    private Tensor(int[] shape, int size, FloatPointer pointer, boolean owner, Object keepAlive) {
        this.shape = shape;
        this.size = size;
        this.pointer = pointer;
        this.owner = owner;
        this.keepAlive = keepAlive;
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
        t.pointer.put(data, 0, n);
        return t;
    }

    /** A new tensor of the given shape filled with zeros. */
    public static Tensor zeros(int... shape) {
        int[] s = checkShape(shape);
        Tensor t = allocate(s, elementCount(s));
        t.pointer.zero();
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
        int[] s = checkShape(shape);
        int n = elementCount(s);
        if (direct.remaining() < n) {
            throw new IllegalArgumentException("buffer has " + direct.remaining() + " remaining elements but shape "
                    + Arrays.toString(s) + " needs " + n);
        }
        FloatBuffer slice = direct.slice().limit(n);
        FloatPointer p = new FloatPointer(slice);
        return new Tensor(s, n, p, false, slice);
    }

    /**
     * A zero-copy view of native memory: elements {@code [position, position + size)} of {@code pointer}.
     * The pointer's limit must be set and leave room for the shape. The caller keeps owning the
     * memory and must keep it alive while the view is used; {@code close()} does not free it.
     */
    public static Tensor wrap(FloatPointer pointer, int... shape) {
        if (pointer == null || pointer.isNull()) {
            throw new IllegalArgumentException("pointer must not be null");
        }
        int[] s = checkShape(shape);
        int n = elementCount(s);
        long available = pointer.limit() - pointer.position();
        if (available < n) {
            throw new IllegalArgumentException("pointer has " + Math.max(0, available)
                    + " elements between position and limit but shape " + Arrays.toString(s) + " needs " + n
                    + (pointer.limit() == 0 ? " (its limit is unknown: set pointer.limit(...))" : ""));
        }
        FloatPointer view = pointer.getPointer(pointer.position());
        view.position(0).limit(n);
        return new Tensor(s, n, view, false, pointer);
    }

    private static Tensor allocate(int[] shape, int n) {
        FloatPointer p = new FloatPointer((long) n);
        return new Tensor(shape, n, p, true, null);
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
            n *= d;
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape)
                        + " has more than " + Integer.MAX_VALUE + " elements, the most a tensor can hold");
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
        checkOpen();
        checkLength(dst, "dst");
        pointer.get(dst, 0, size);
    }

    /** Overwrites all elements from {@code src}, whose length must equal {@link #size()}. */
    public void copyFrom(float[] src) {
        checkOpen();
        checkLength(src, "src");
        pointer.put(src, 0, size);
    }

    /** Sets every element to {@code value}. */
    public void fill(float value) {
        checkOpen();
        if (value == 0f && Float.floatToRawIntBits(value) == 0) {
            pointer.zero();
        } else {
            FloatBuffer b = buffer();
            for (int i = 0; i < size; i++) {
                b.put(i, value);
            }
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
     * The native memory of this tensor, as a pointer at its first element with its limit at its size.
     * It stays valid until the tensor (or, for a view, the memory it wraps) is closed.
     */
    public FloatPointer pointer() {
        checkOpen();
        return pointer;
    }

    /**
     * A direct {@link FloatBuffer} over this tensor's elements (index 0 is the first element), valid
     * while the tensor is open. Use absolute get/put: the buffer object is shared by all callers.
     */
    public FloatBuffer buffer() {
        checkOpen();
        FloatBuffer b = buffer;
        if (b == null) {
            b = pointer.asBuffer();
            buffer = b;
        }
        return b;
    }

    /** The native address of the first element; used to detect overlapping tensors. */
    long address() {
        return pointer.address();
    }

    /** True when this tensor and {@code other} share at least one byte of memory. */
    public boolean overlaps(Tensor other) {
        checkOpen();
        other.checkOpen();
        long a0 = address(), a1 = a0 + 4L * size;
        long b0 = other.address(), b1 = b0 + 4L * other.size;
        return a0 < b1 && b0 < a1;
    }

    /** True once {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /** Throws {@link IllegalStateException} if this tensor was closed. */
    public void checkOpen() {
        if (closed) {
            throw new IllegalStateException("tensor of shape " + Arrays.toString(shape) + " is closed");
        }
    }

    /** Releases owned memory now; a view only detaches. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        buffer = null;
        if (owner) {
            pointer.close();
        }
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + (closed ? " (closed)" : "");
    }
}
