package dev.conv4j.internal.engine;

import dev.conv4j.Tensor;
import java.nio.FloatBuffer;
import java.util.function.Function;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Gives the engines a tensor's own pointer and buffer, which {@link Tensor#pointer()} and
 * {@link Tensor#buffer()} do not hand out (they return new objects, so that callers cannot move the
 * position or limit the engines rely on). Reading them allocates nothing, which keeps steady-state
 * calls free of garbage. The accessors are installed once by {@link Tensor}'s class initializer.
 */
public final class TensorMemory {
    private static volatile Function<Tensor, FloatPointer> pointers;
    private static volatile Function<Tensor, FloatBuffer> buffers;

    private TensorMemory() {
    }

    /** Called once, by Tensor. */
    public static synchronized void install(Function<Tensor, FloatPointer> pointer, Function<Tensor, FloatBuffer> buffer) {
        if (pointers != null) {
            throw new IllegalStateException("the tensor memory accessors are already installed");
        }
        pointers = pointer;
        buffers = buffer;
    }

    /**
     * The pointer of an open tensor, or of a null tensor null.
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

    /** The buffer of an open tensor (position 0, limit its size), or of a null tensor null. */
    public static FloatBuffer buffer(Tensor t) {
        if (t == null) {
            return null;
        }
        t.checkOpen();
        return buffers.apply(t);
    }
}
