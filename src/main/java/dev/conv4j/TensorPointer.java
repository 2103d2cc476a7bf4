package dev.conv4j;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A {@link FloatPointer} over a tensor's elements, as {@link Tensor#pointer()} hands it out. It
 * borrows the memory: closing it, collecting it or changing its position or limit never frees or
 * moves the tensor's memory. It keeps the tensor reachable, so the garbage collector cannot free
 * the memory while the pointer is in use; JavaCPP's copies of it ({@code new FloatPointer(p)},
 * {@code p.getPointer(i)}) keep it in turn, so {@link Tensor#wrap(FloatPointer, int...)} of any of
 * them is a view of the tensor, refused once the tensor is closed. Its buffers
 * ({@link #asBuffer()}) count as the tensor's {@linkplain Tensor#buffer() buffers}. Like any
 * pointer to native memory, it must not be dereferenced after the tensor is closed.
 */
public final class TensorPointer extends FloatPointer {
    /** The tensor whose memory this is; null only for the engines' own aliases. */
    private final Tensor tensor;
    /** The root buffer of the memory of an owned tensor (see {@link Escapes}), held so that its registration stays. */
    @SuppressWarnings("unused")
    private final Object token;

    /**
     * A pointer at {@code address} over {@code elements} floats of {@code tensor}; with a tensor, it gets
     * a deallocator that frees nothing, so that JavaCPP's copies keep a reference to it.
     */
    TensorPointer(Tensor tensor, long address, long elements, Object token) {
        super((Pointer) null);
        this.tensor = tensor;
        this.token = token;
        this.address = address;
        if (tensor != null) {
            // registered while the capacity is 0, so that JavaCPP counts no bytes for it
            deallocator(new Borrowed());
        }
        this.limit = elements;
        this.capacity = elements;
    }

    /**
     * The copy JavaCPP makes in {@link Pointer#getPointer(long)}: the same memory of the same
     * tensor. (Public only because JavaCPP calls it reflectively.)
     *
     * @param p the pointer to copy
     */
    public TensorPointer(Pointer p) {
        super(p);
        tensor = p instanceof TensorPointer ? ((TensorPointer) p).tensor : null;
        token = p instanceof TensorPointer ? ((TensorPointer) p).token : null;
    }

    /** The tensor this pointer views, or null. */
    Tensor tensor() {
        return tensor;
    }

    /**
     * A byte buffer from the position to the limit, like {@link Pointer#asByteBuffer()}, over the
     * tensor's memory: it counts as one of the tensor's buffers, so {@code Tensor.wrap} of it after
     * the tensor is closed is refused.
     */
    @Override
    public ByteBuffer asByteBuffer() {
        if (tensor == null || isNull()) {
            return super.asByteBuffer();
        }
        long end = limit <= 0 ? position + 1 : limit;
        if (position < 0 || end < position) {
            throw new IllegalArgumentException("position " + position + " and limit " + limit + " do not form a range");
        }
        return tensor.bytesAt(address, 4 * position, 4 * end);
    }

    /** The address of element 0 of a direct buffer, through JNI. */
    static long bufferAddress(Buffer b) {
        return getDirectBufferAddress(b);
    }

    /** A deallocator that frees nothing: the memory belongs to the tensor. */
    private static final class Borrowed implements Deallocator {
        @Override
        public void deallocate() {
        }
    }
}
