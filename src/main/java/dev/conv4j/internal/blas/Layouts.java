package dev.conv4j.internal.blas;

import dev.conv4j.Activation;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.internal.engine.Pass;
import dev.conv4j.internal.engine.Reorder;
import dev.conv4j.internal.engine.TensorMemory;
import dev.conv4j.internal.nativeblas.NativeKernels;

/**
 * Which layouts and epilogues the blas engine and its plans run themselves, and how a call passes them
 * to the kernels: the channel-blocked kernels (and the depthwise forward pass in any layout) read and
 * write NCHW, NHWC and NCHW16C and apply the forward epilogue, so where one of them is the algorithm chosen for a pass every combination runs
 * without staging; elsewhere only NCHW does, and the shared layout runner stages the rest. Taking the
 * chosen algorithm in every layout, never another, keeps the bits of a pass the same in every layout
 * and with or without a fused epilogue.
 */
final class Layouts {
    private Layouts() {
    }

    /** The {@code runsLayouts} answer for a pass computed by {@code chosen}. */
    static boolean runs(Algorithm chosen, Layout in, Layout out) {
        return (in == Layout.NCHW && out == Layout.NCHW) || blocked(chosen);
    }

    /** Whether {@code a} is one of the channel-blocked algorithms, which take every layout and the forward epilogue. */
    static boolean blocked(Algorithm a) {
        return a == BlockedDirect.FORWARD || a == BlockedDirect.FORWARD_INLINE || a == BlockedDirect.BACKWARD_DATA
                || a == BlockedDirect.BACKWARD_DATA_INLINE || a == BlockedWeights.BACKWARD_WEIGHTS || a == DepthwiseDirect.FORWARD_ANY_LAYOUT;
    }

    /**
     * The staging reorders of the engine and its plans: on AVX-512 and AVX2 CPUs by the native kernel
     * (16 x 16 or 8 x 8 transposes; on AMD Zen 3, 0.3 to 0.9 ns a float against 1.2 to 2.1 for the Java
     * copy), elsewhere by the pure-Java copy, whose tiles beat the plain loops of the native generic
     * variant. Both are exact copies, so the bits do not depend on which ran.
     */
    static void reorder(Tensor src, Tensor dst) {
        if (NativeKernels.blockedFast() && src.rank() == 4 && src.layout() != dst.layout() && !src.overlaps(dst)) {
            // dim() rather than shape(), whose copy would be the call's only allocation
            NativeKernels.blockedReorder(TensorMemory.pointer(src), BlockedDirect.code(src.layout()), TensorMemory.pointer(dst),
                    BlockedDirect.code(dst.layout()), src.dim(0), src.dim(1), src.dim(2), src.dim(3));
        } else {
            Reorder.copy(src, dst);
        }
    }

    /** The algorithm the per-call engine chose for a pass. */
    static Algorithm chosen(Algorithms.Choice c, Pass pass) {
        switch (pass) {
            case FORWARD:
                return c.forward;
            case BACKWARD_DATA:
                return c.backwardData;
            default:
                return c.backwardWeights;
        }
    }

    /** Records the layouts of a pass's input and output in {@code a}, for the channel-blocked kernels. */
    static void pass(CallArgs a, Tensor in, Tensor out) {
        a.xLayout = BlockedDirect.code(in.layout());
        a.yLayout = BlockedDirect.code(out.layout());
    }

    /** Records a forward call's layouts, residual (or null) and activation in {@code a}, for the channel-blocked kernel. */
    static void epilogue(CallArgs a, Tensor x, Tensor residual, Activation act, Tensor y) {
        pass(a, x, y);
        if (residual != null) {
            a.residual = TensorMemory.pointer(residual);
            a.rLayout = BlockedDirect.code(residual.layout());
        }
        if (!act.isIdentity()) {
            a.clamp = true;
            a.lo = act.min();
            a.hi = act.max();
        }
    }
}
