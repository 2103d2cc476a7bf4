package dev.conv4j.internal.blas;

import dev.conv4j.ConvGeometry;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The blas engine's algorithms in order of preference, per pass: the first whose
 * {@link Algorithm#applies} holds computes the pass (oneDNN's rule: the first implementation whose
 * init succeeds wins). This is the one place that names them all; a new algorithm goes in here.
 * The choice is made once per geometry: a plan keeps its {@link Choice}, and the per-call engine finds
 * it in a small table shared by all threads (not per thread: a server may make a thread per request),
 * keyed by the geometry instance the engine's own cache hands out for repeated shapes.
 */
public final class Algorithms {
    /** Forward: direct kernels where they win, Winograd where it pays, im2col + GEMM for everything else. */
    static final Algorithm[] FORWARD = {
        DepthwiseDirect.FORWARD_ANY_LAYOUT, DepthwiseDirect.FORWARD, SmallDirect.FORWARD, BlockedDirect.FORWARD_INLINE, BlockedDirect.FORWARD, Winograd.F4_FORWARD, Winograd.F2_FORWARD, Im2colGemm.FORWARD,
    };
    static final Algorithm[] BACKWARD_DATA = {
        DepthwiseDirect.BACKWARD_DATA, BlockedDirect.BACKWARD_DATA_INLINE, BlockedDirect.BACKWARD_DATA, Winograd.F4_BACKWARD_DATA, Winograd.F2_BACKWARD_DATA, Im2colGemm.BACKWARD_DATA,
    };
    static final Algorithm[] BACKWARD_WEIGHTS = {
        DepthwiseDirect.BACKWARD_WEIGHTS, BlockedWeights.BACKWARD_WEIGHTS, Im2colGemm.BACKWARD_WEIGHTS,
    };

    private Algorithms() {
    }

    /** The algorithms chosen for one geometry, each pass. */
    public static final class Choice {
        /** Forward with weights given per call, and with weights prepacked by a plan. */
        public final Algorithm forward, forwardPrepacked;
        public final Algorithm backwardData, backwardWeights;
        final ConvGeometry geometry;

        Choice(ConvGeometry g) {
            geometry = g;
            forward = first(FORWARD, g, false);
            forwardPrepacked = first(FORWARD, g, true);
            backwardData = first(BACKWARD_DATA, g, false);
            backwardWeights = first(BACKWARD_WEIGHTS, g, false);
        }

        /** The most floats of each scratch kind a unit of any chosen pass takes, so a plan can allocate once. */
        long[] scratch() {
            long[] floats = new long[Scratch.KINDS];
            for (Algorithm a : new Algorithm[] {forward, forwardPrepacked, backwardData, backwardWeights}) {
                a.scratch(geometry, floats);
            }
            return floats;
        }
    }

    private static Algorithm first(Algorithm[] list, ConvGeometry g, boolean prepared) {
        for (Algorithm a : list) {
            if (a.applies(g, prepared)) {
                return a;
            }
        }
        throw new IllegalStateException("no algorithm applies to " + g); // the last of each list applies to all
    }

    private static final AtomicReferenceArray<Choice> RECENT = new AtomicReferenceArray<>(64);

    /** The choice for {@code g}: from the table when it was made for this geometry instance, else made now. */
    public static Choice of(ConvGeometry g) {
        int slot = System.identityHashCode(g) & (RECENT.length() - 1);
        Choice c = RECENT.get(slot);
        if (c == null || c.geometry != g) {
            c = new Choice(g);
            RECENT.set(slot, c);
        }
        return c;
    }
}
