package dev.conv4j.internal.engine;

import dev.conv4j.internal.nativeblas.NativeMemory;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Scratch buffers of the thread running units (in the engine, checked out of its pool for a run of
 * units) or of one slot (in a plan): grown on demand, kept for the next call, released by
 * {@link #close()} or, for a workspace nobody closed, by JavaCPP's deallocator once it is unreachable.
 * A buffer grows by allocating the new one before freeing the old, so a failed allocation (native
 * memory exhausted) leaves the workspace as it was.
 */
final class NativeWorkspace implements BlasPasses.Scratch, AutoCloseable {
    private final FloatPointer[] buffers = new FloatPointer[BlasPasses.KINDS];
    /** What the column buffer holds: matrix {@code columnsKey} of call {@code columnsCall} made with {@code columnsArgs}. */
    private BlasPasses.Args columnsArgs;
    private long columnsCall;
    private int columnsKey = -1;

    @Override
    public FloatPointer get(int kind, long floats) {
        if (floats == 0) {
            return null;
        }
        FloatPointer b = buffers[kind];
        if (b == null || b.limit() < floats) {
            FloatPointer grown = NativeMemory.grow(b, floats, b == null ? floats : b.limit() * 3 / 2);
            if (kind == BlasPasses.COLUMNS) {
                columnsKey = -1;
            }
            buffers[kind] = grown;
            b = grown;
        }
        return b;
    }

    @Override
    public boolean holdsColumns(BlasPasses.Args a, int key) {
        return columnsKey == key && columnsArgs == a && columnsCall == a.call;
    }

    @Override
    public void heldColumns(BlasPasses.Args a, int key) {
        columnsArgs = key < 0 ? null : a;
        columnsCall = a.call;
        columnsKey = key;
    }

    /** Allocates every kind to at least the given sizes now. */
    void reserve(long[] sizes) {
        for (int k = 0; k < sizes.length; k++) {
            get(k, sizes[k]);
        }
    }

    long bytes() {
        long n = 0;
        for (FloatPointer b : buffers) {
            n += b == null ? 0 : 4L * b.limit();
        }
        return n;
    }

    @Override
    public void close() {
        columnsArgs = null;
        columnsKey = -1;
        for (int k = 0; k < buffers.length; k++) {
            NativeMemory.free(buffers[k]);
            buffers[k] = null;
        }
    }
}
