package dev.conv4j.internal.blas;

import dev.conv4j.internal.nativeblas.NativeMemory;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Scratch buffers of the thread running units (in the engine, checked out of its pool for a run of
 * units) or of one slot (in a plan): grown on demand, kept for the next call, released by
 * {@link #close()} or, for a workspace nobody closed, by JavaCPP's deallocator once it is unreachable.
 * A buffer grows by allocating the new one before freeing the old, so a failed allocation (native
 * memory exhausted) leaves the workspace as it was.
 */
final class NativeWorkspace implements Scratch, AutoCloseable {
    private final FloatPointer[] buffers = new FloatPointer[KINDS];
    /** What the column buffer holds: matrix {@code columnsKey} of call {@code columnsCall}. */
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
            if (kind == COLUMNS) {
                columnsKey = -1;
            }
            buffers[kind] = grown;
            b = grown;
        }
        return b;
    }

    @Override
    public boolean holdsColumns(long call, int key) {
        return columnsKey == key && columnsCall == call;
    }

    @Override
    public void heldColumns(long call, int key) {
        columnsCall = call;
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
        columnsKey = -1;
        for (int k = 0; k < buffers.length; k++) {
            NativeMemory.free(buffers[k]);
            buffers[k] = null;
        }
    }
}
