package dev.conv4j.internal.engine;

import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import java.nio.FloatBuffer;
import java.util.function.Function;
import java.util.function.ToLongFunction;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Gives the engines a tensor's own pointer and buffer, which {@link Tensor#pointer()} and
 * {@link Tensor#buffer()} do not hand out (they return new objects, so that callers cannot move the
 * position or limit the engines rely on). Reading them allocates nothing, which keeps steady-state
 * calls free of garbage. The accessors are installed once by {@link Tensor}'s class initializer.
 *
 * <p>Both cover the tensor's whole memory in its layout: element 0 is the first float of its storage
 * and they reach {@link Tensor#storageSize()} floats (the pointer's limit and capacity, the buffer's
 * limit), whatever {@link Tensor#layout()} says; {@link Layout#offset} maps a logical (n, c, h, w) to a
 * float of that storage.
 */
public final class TensorMemory {
    private static volatile Function<Tensor, FloatPointer> pointers;
    private static volatile Function<Tensor, FloatBuffer> buffers;
    private static volatile ToLongFunction<Tensor> addresses;

    private TensorMemory() {
    }

    /** Called once, by Tensor. */
    public static synchronized void install(Function<Tensor, FloatPointer> pointer, Function<Tensor, FloatBuffer> buffer,
                                            ToLongFunction<Tensor> address) {
        if (pointers != null) {
            throw new IllegalStateException("the tensor memory accessors are already installed");
        }
        pointers = pointer;
        buffers = buffer;
        addresses = address;
    }

    /**
     * The pointer of an open tensor, or of a null tensor null: its address is the first float of the
     * tensor's storage, its limit and capacity {@link Tensor#storageSize()}.
     *
     * @throws UnsupportedOperationException when the tensor lives in a Java direct buffer
     */
    public static FloatPointer pointer(Tensor t) {
        if (t == null) {
            return null;
        }
        t.checkOpen();
        FloatPointer p = pointers.apply(t);
        if (p == null) {
            return t.pointer(); // throws, saying why this tensor has no native pointer
        }
        return p;
    }

    /** The buffer of an open tensor (position 0, limit its storage size), or of a null tensor null. */
    public static FloatBuffer buffer(Tensor t) {
        if (t == null) {
            return null;
        }
        t.checkOpen();
        return buffers.apply(t);
    }

    /**
     * True when {@code a} and {@code b} are the same memory seen the same way: the same tensor, or views
     * that start at the same float with the same layout and shape (so that element i of one is element
     * i of the other). Allocates nothing.
     */
    public static boolean sameMemory(Tensor a, Tensor b) {
        if (a == b) {
            return true;
        }
        if (a == null || b == null || a.layout() != b.layout() || a.rank() != b.rank()) {
            return false;
        }
        for (int i = 0; i < a.rank(); i++) {
            if (a.dim(i) != b.dim(i)) {
                return false;
            }
        }
        long at = addresses.applyAsLong(a);
        return at != 0 && at == addresses.applyAsLong(b);
    }
}
