package dev.conv4j.internal.blas;

import org.bytedeco.javacpp.FloatPointer;

/** The scratch buffers of the thread running units, by kind. */
public interface Scratch {
    /** Kinds of scratch buffer. */
    int COLUMNS = 0, WINOGRAD_INPUT = 1, WINOGRAD_PRODUCT = 2, WINOGRAD_SCRATCH = 3, GEMM_PACK = 4, KINDS = 5;

    /** At least {@code floats} floats of kind {@code kind}, or null for none. */
    FloatPointer get(int kind, long floats);

    /** Whether the {@link #COLUMNS} buffer holds column matrix {@code key} of call {@code call}, left by an earlier unit of it. */
    boolean holdsColumns(long call, int key);

    /** Records what the {@link #COLUMNS} buffer holds: matrix {@code key} of call {@code call}, or nothing (key -1). */
    void heldColumns(long call, int key);
}
