package dev.conv4j.internal.blas;

import dev.conv4j.ConvGeometry;

/**
 * One way the blas engine computes one pass of a convolution, in the manner of oneDNN's primitive
 * descriptors: it says whether it applies to a geometry, how the pass is cut into units, what scratch
 * a unit takes, and runs a unit. {@link Algorithms} lists them in order of preference, and the first
 * that applies wins, once per geometry. Units of one pass write disjoint parts of the output, so they
 * may run in any order on any thread.
 *
 * <p>An algorithm that works on transformed weights (Winograd's U) says how large they are and
 * transforms them in units of its own; the executor ({@link BlasCall}) runs that transform once per call,
 * or a plan runs it once at prepack. Adding an algorithm is one class and one entry in {@link Algorithms}
 * (plus its native kernel family).
 */
public interface Algorithm {
    /** The pass an algorithm computes. */
    enum Pass { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

    /** A short name, for diagnostics and tests. */
    String name();

    Pass pass();

    /**
     * Whether this algorithm computes its pass for {@code g}: it can, and under {@code AUTO} it also pays
     * off. {@code prepared}: the weights are transformed once (a plan's prepacked weights), not per call.
     */
    boolean applies(ConvGeometry g, boolean prepared);

    /** The units the pass is cut into; {@code bias}: a bias gradient is wanted too (backward-weights). */
    int units(ConvGeometry g, boolean bias);

    /** Raises {@code floats[kind]} to what a unit of this algorithm takes of each {@link Scratch} kind. */
    void scratch(ConvGeometry g, long[] floats);

    /** Runs unit {@code unit} of the pass on the call's arguments with the running thread's scratch. */
    void run(ConvGeometry g, int unit, CallArgs a, Scratch s);

    /** Floats of the transformed weights this algorithm reads ({@link CallArgs#u}), or 0: it reads the weights as given. */
    default long transformSize(ConvGeometry g) {
        return 0;
    }

    /** The units the weight transform is cut into. */
    default int transformUnits(ConvGeometry g) {
        return 0;
    }

    /** Transforms part {@code unit} of {@link CallArgs#w} into {@link CallArgs#u}. */
    default void transform(ConvGeometry g, int unit, CallArgs a) {
    }

    /** Readies what the units read besides the tensors, once per call, after the transform. */
    default void prepare(ConvGeometry g, CallArgs a) {
    }
}
