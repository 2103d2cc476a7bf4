package dev.conv4j.internal;

import dev.conv4j.Tensor;
import java.util.Arrays;

/**
 * 1-D operations on the 2-D kernels: an N×C×L tensor is viewed as N×C×1×L (the same memory, no copy),
 * and a kernel of K taps as 1×K.
 */
public final class OneD {
    private OneD() {
    }

    /**
     * The 2-D shape {a, b, 1, l} of a 1-D shape {a, b, l}.
     *
     * @param dims the names of the three dimensions, for the message
     */
    public static int[] lift(int[] shape, String name, String dims) {
        if (shape == null) {
            throw new IllegalArgumentException(name + " shape must not be null");
        }
        if (shape.length != 3) {
            throw new IllegalArgumentException(name + " must have rank 3 (" + dims + ") but has shape " + Arrays.toString(shape));
        }
        return new int[] {shape[0], shape[1], 1, shape[2]};
    }

    /** A 2-D view of a rank-3 tensor, or null for null (the callee names what is missing). */
    public static Tensor view(Tensor t, String name, String dims) {
        if (t == null) {
            return null;
        }
        return t.reshape(lift(t.shape(), name, dims));
    }
}
