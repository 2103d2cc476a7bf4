package example;

/**
 * One system running one pass of one layer: {@link #run()} is the call that is timed, with all its
 * inputs and outputs allocated (and, where the system wants them, reordered) beforehand.
 */
interface Runner extends AutoCloseable {

    /** One call of the pass. */
    void run();

    /**
     * The result of the latest {@link #run()} in plain row-major layout: y (N×O×OH×OW) for forward,
     * gx (N×C×H×W) for backward-data, gw (O×C/G×KH×KW) for backward-weights.
     */
    float[] result();

    /** A short description of what runs, such as the implementation a library picked; may be null. */
    default String detail() {
        return null;
    }

    @Override
    default void close() {
    }
}
