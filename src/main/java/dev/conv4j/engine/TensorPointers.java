package dev.conv4j.engine;

import dev.conv4j.Tensor;
import java.util.function.Function;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Gives the engines a tensor's own pointer, which {@link Tensor#pointer()} does not hand out (it
 * returns a fresh copy, so that callers cannot move the position or limit the native checks rely
 * on). Reading it allocates nothing, which keeps steady-state calls free of garbage. The accessor is
 * installed once by {@link Tensor}'s class initializer.
 */
public final class TensorPointers {
    private static volatile Function<Tensor, FloatPointer> access;

    private TensorPointers() {
    }

    /** Called once, by Tensor. */
    public static synchronized void install(Function<Tensor, FloatPointer> accessor) {
        if (access != null) {
            throw new IllegalStateException("the tensor pointer accessor is already installed");
        }
        access = accessor;
    }

    /**
     * The pointer of an open tensor, or of a null tensor null.
     *
     * @throws UnsupportedOperationException when the tensor lives in a Java direct buffer
     */
    static FloatPointer of(Tensor t) {
        if (t == null) {
            return null;
        }
        t.checkOpen();
        FloatPointer p = access.apply(t);
        if (p == null) {
            return t.pointer(); // throws, saying why this tensor has no native pointer
        }
        return p;
    }
}
