package dev.conv4j.engine;

import org.bytedeco.javacpp.FloatPointer;

/**
 * Scratch buffers of one thread (in the engine) or one slot (in a plan): grown on demand, kept for
 * the next call, released by {@link #close()} or, for a thread that ends without closing, by
 * JavaCPP's deallocator once the workspace is unreachable.
 */
final class NativeWorkspace implements BlasPasses.Scratch, AutoCloseable {
    private final FloatPointer[] buffers = new FloatPointer[BlasPasses.KINDS];

    @Override
    public FloatPointer get(int kind, long floats) {
        if (floats == 0) {
            return null;
        }
        FloatPointer b = buffers[kind];
        if (b == null || b.limit() < floats) {
            long size = b == null ? floats : Math.max(floats, b.limit() * 3 / 2);
            if (b != null) {
                b.close();
            }
            b = new FloatPointer(size);
            buffers[kind] = b;
        }
        return b;
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
        for (int k = 0; k < buffers.length; k++) {
            if (buffers[k] != null) {
                buffers[k].close();
                buffers[k] = null;
            }
        }
    }
}
