package dev.conv4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * Tensors over {@link MemorySegment}s, on Java 22 and later. This class is in the multi-release
 * jar's Java 22 part ({@code META-INF/versions/22}): code compiled for Java 22 or later sees it, and
 * it is absent on Java 17 to 21.
 *
 * <pre>{@code
 * try (Arena arena = Arena.ofShared()) {
 *     MemorySegment pixels = arena.allocate(4L * 3 * 224 * 224, 64);
 *     Tensor x = Segments.wrap(pixels, 1, 3, 224, 224);   // no copy: writes through either are seen by the other
 *     try (Tensor y = engine.forward(p, x, w, b)) { ... }
 * }                                                        // x is unusable from here on: using it throws
 * }</pre>
 *
 * <p>The other way round, {@code MemorySegment.ofBuffer(tensor.buffer())} is a segment over a
 * tensor's memory.
 */
public final class Segments {
    private Segments() {
    }

    /**
     * A zero-copy view of the first {@code product(shape)} floats of a native memory segment, in
     * native byte order: writes through either are seen by the other. The view keeps the segment's
     * memory reachable (for an {@link Arena#ofAuto() automatic arena}, the garbage collector cannot
     * free it while the view is reachable) and honors the arena's lifetime: once the arena is closed,
     * using the view (or a view or buffer of it) throws {@link IllegalStateException}, never reads
     * freed memory. Close the arena only after the calls using the view have returned: conv4j cannot
     * keep an arena open, and closing it while a call reads it on another thread is like freeing any
     * memory a call is given. {@code close()} of the view frees nothing.
     *
     * <p>The memory must be shareable between threads (the engines read tensors on their helper
     * threads): a segment of a shared, automatic or global arena ({@link Arena#ofShared()},
     * {@link Arena#ofAuto()}, {@link Arena#global()}), or of a mapped file or direct buffer, but not of a
     * confined arena. The view holds at most {@link Tensor#MAX_BUFFER_ELEMENTS} elements (it lives in a
     * Java buffer of the segment). A segment over memory of a tensor ({@code MemorySegment.ofBuffer} of
     * its {@link Tensor#buffer()}) gives a view of that tensor, as {@link Tensor#wrap(FloatBuffer, int...)}
     * does.
     *
     * @param segment native memory of at least {@code 4 * product(shape)} bytes, at an address that is a
     *                multiple of 4
     * @param shape   the view's shape
     * @return a view of the segment's memory
     * @throws IllegalArgumentException if the segment is null, on the Java heap, read-only, confined to a
     *                                  thread, not aligned to 4 bytes or too small for the shape, or the
     *                                  shape is invalid or holds more than {@link Tensor#MAX_BUFFER_ELEMENTS}
     * @throws IllegalStateException    if the segment's arena has been closed, or the segment is memory
     *                                  of a tensor that has been closed
     */
    public static Tensor wrap(MemorySegment segment, int... shape) {
        if (segment == null) {
            throw new IllegalArgumentException("segment must not be null");
        }
        if (!segment.isNative()) {
            throw new IllegalArgumentException("the segment is memory on the Java heap (MemorySegment.ofArray and the like),"
                    + " but a tensor's memory is native; use Tensor.of(float[], ...) to copy it");
        }
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException("the segment's memory has been freed: its arena was closed");
        }
        if (segment.isReadOnly()) {
            throw new IllegalArgumentException("the segment is read-only; a tensor may be written (use Tensor.of(float[], ...) to copy it)");
        }
        if (segment.address() % Float.BYTES != 0) {
            throw new IllegalArgumentException("the segment starts at address " + segment.address()
                    + ", which is not a multiple of 4: floats must be aligned (e.g. arena.allocate(bytes, 64))");
        }
        long need = elements(shape);
        if (need > Tensor.MAX_BUFFER_ELEMENTS) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + need + " elements, more than the "
                    + Tensor.MAX_BUFFER_ELEMENTS + " a view of a memory segment holds (a Java buffer of at most 2 GiB)");
        }
        if (need > 0 && 4 * need > segment.byteSize()) {
            throw new IllegalArgumentException("the segment has " + segment.byteSize() + " bytes but shape "
                    + Arrays.toString(shape) + " needs " + 4 * need);
        }
        // the buffer over exactly the shape's bytes (or, for a shape Tensor.wrap will refuse, the most a buffer holds)
        long bytes = need > 0 ? 4 * need : Math.min(segment.byteSize() & ~3L, 4L * Tensor.MAX_BUFFER_ELEMENTS);
        FloatBuffer b = segment.asSlice(0, bytes).asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
        return Tensor.wrap(b, shape); // checks the shape, confinement and lifetime again, and finds tensors' memory
    }

    /** The product of a valid shape (capped above {@link Tensor#MAX_BUFFER_ELEMENTS}), or -1 for one Tensor.wrap refuses. */
    private static long elements(int[] shape) {
        if (shape == null) {
            return -1;
        }
        long n = 1;
        for (int d : shape) {
            if (d < 1) {
                return -1;
            }
            n = Math.min(n * d, 1L << 40); // no overflow: at most 2^40 * (2^31 - 1) before the cap
        }
        return n;
    }
}
