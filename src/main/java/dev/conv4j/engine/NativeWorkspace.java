package dev.conv4j.engine;

import org.bytedeco.javacpp.FloatPointer;

/**
 * Scratch buffers of one thread (in the engine) or one slot (in a plan): grown on demand, kept for
 * the next call, released by {@link #close()} or, for a thread that ends without closing, by
 * JavaCPP's deallocator once the workspace is unreachable.
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
            if (kind == BlasPasses.COLUMNS) {
                columnsKey = -1;
            }
            long size = b == null ? floats : Math.max(floats, b.limit() * 3 / 2);
            if (b != null) {
                b.close();
            }
            b = new FloatPointer(size);
            buffers[kind] = b;
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
            if (buffers[k] != null) {
                buffers[k].close();
                buffers[k] = null;
            }
        }
    }
}
