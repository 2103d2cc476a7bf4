package dev.conv4j.internal.engine;

import java.util.Arrays;
import dev.conv4j.Tensor;

/** The per-call checks of a plan: the tensors must be open and have exactly the planned shapes. */
final class PlanChecks {
    private PlanChecks() {
    }

    /** Reads dimensions one by one, so a passing check allocates nothing. */
    static void require(Tensor t, String name, int[] expected) {
        if (t == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        t.checkOpen();
        boolean same = t.rank() == expected.length;
        for (int i = 0; same && i < expected.length; i++) {
            same = t.dim(i) == expected[i];
        }
        if (!same) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(t.shape()) + " but the plan was made for "
                    + Arrays.toString(expected));
        }
    }

    static void disjoint(Tensor out, String outName, Tensor in, String inName) {
        if (in != null && out.overlaps(in)) {
            throw new IllegalArgumentException(outName + " must not share memory with " + inName);
        }
    }
}
