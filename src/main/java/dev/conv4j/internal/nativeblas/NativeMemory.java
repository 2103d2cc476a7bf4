package dev.conv4j.internal.nativeblas;

import java.util.Iterator;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * conv4j's own off-heap memory: float arrays allocated through JavaCPP, so that they count in
 * {@link Pointer#totalBytes()} and obey its {@code maxBytes} limit, but owned by conv4j alone.
 *
 * <p>JavaCPP attaches every pointer allocated on a thread that has a {@link PointerScope} open to
 * that scope, which frees it when it closes. A server that opens a scope per request (as other
 * bytedeco libraries do) would then free a tensor, a workspace or a plan's weights under conv4j's
 * feet. {@link #allocate} takes the new pointer back from the scope that claimed it, so conv4j's
 * memory lives until conv4j frees it ({@link #free}) or, for memory nobody freed, until JavaCPP's
 * deallocator collects it after its pointer became unreachable. Internal to conv4j.
 */
public final class NativeMemory {
    private NativeMemory() {
    }

    /**
     * A new array of {@code floats} floats (contents undefined), owned by the caller whatever scope
     * is open.
     *
     * @throws OutOfMemoryError when JavaCPP's {@code maxBytes} or {@code maxPhysicalBytes} would be
     *                          exceeded or the system has no memory left
     */
    public static FloatPointer allocate(long floats) {
        if (floats < 1) {
            throw new IllegalArgumentException("cannot allocate " + floats + " floats");
        }
        FloatPointer p;
        try {
            p = new FloatPointer(floats);
        } catch (OutOfMemoryError e) {
            OutOfMemoryError o = new OutOfMemoryError("cannot allocate " + 4 * floats + " bytes off-heap ("
                    + e.getMessage() + "); in use through JavaCPP: " + Pointer.totalBytes() + " bytes of at most " + Pointer.maxBytes());
            o.initCause(e);
            throw o;
        }
        if (p.isNull()) {
            throw new OutOfMemoryError("cannot allocate " + 4 * floats + " bytes off-heap");
        }
        unscope(p);
        return p;
    }

    /**
     * {@code old} if it holds at least {@code floats} floats, else a new array of {@code size}
     * floats ({@code size >= floats}) and {@code old} freed, in that order: a failed allocation
     * leaves {@code old} as it was.
     */
    public static FloatPointer grow(FloatPointer old, long floats, long size) {
        if (old != null && !old.isNull() && old.limit() >= floats) {
            return old;
        }
        FloatPointer p = allocate(Math.max(floats, size));
        free(old);
        return p;
    }

    /** Frees memory from {@link #allocate} now; null and freed pointers are ignored. */
    public static void free(FloatPointer p) {
        if (p != null) {
            p.deallocate();
        }
    }

    /**
     * Takes a pointer back from the scope JavaCPP attached it to: the first open scope, innermost
     * first, whose classes accept it (what {@code Pointer.deallocator} does). The extra reference
     * keeps the scope's release from freeing it; {@link #free} frees it whatever its count.
     */
    private static void unscope(Pointer p) {
        Iterator<PointerScope> it = PointerScope.getScopeIterator();
        while (it != null && it.hasNext()) {
            PointerScope s = it.next();
            if (accepts(s, p)) {
                p.retainReference();
                s.detach(p);
                return;
            }
        }
    }

    private static boolean accepts(PointerScope s, Pointer p) {
        Class<? extends Pointer>[] classes = s.forClasses();
        if (classes == null || classes.length == 0) {
            return true;
        }
        for (Class<? extends Pointer> c : classes) {
            if (c != null && c.isInstance(p)) {
                return true;
            }
        }
        return false;
    }
}
