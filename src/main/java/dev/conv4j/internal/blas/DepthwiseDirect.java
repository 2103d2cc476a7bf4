package dev.conv4j.internal.blas;

import dev.conv4j.ConvGeometry;
import dev.conv4j.internal.engine.Partition;
import dev.conv4j.internal.nativeblas.NativeKernels;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Depthwise layers (one input channel per group, any channel multiplier), all three passes, by the
 * native depthwise kernel family: their products are one channel deep, too thin for a GEMM. Forward
 * and input-gradient units are blocks of channels of one image; weight-gradient units are blocks of
 * output channels over the whole batch (with their bias sums).
 */
final class DepthwiseDirect {
    private DepthwiseDirect() {
    }

    private abstract static class Base extends PassAlgorithm {
        Base(Pass pass) {
            super("depthwise direct", pass);
        }

        @Override
        public boolean applies(ConvGeometry g, boolean prepared) {
            return g.isDepthwise();
        }

        @Override
        public void scratch(ConvGeometry g, long[] floats) {
        }
    }

    static final Algorithm FORWARD = new Base(Algorithm.Pass.FORWARD) {
        @Override
        public int units(ConvGeometry g, boolean bias) {
            return g.n * Partition.bands(g.o, Partition.depthwiseForwardBlock(g));
        }

        @Override
        public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
            int ob = Partition.depthwiseForwardBlock(g), blocks = Partition.bands(g.o, ob);
            int o0 = (u % blocks) * ob;
            NativeKernels.depthwiseForward(g, a.x, a.w, a.bias, a.y, u / blocks, o0, Math.min(ob, g.o - o0));
        }
    };

    /**
     * The forward pass of a layer with one output channel per input channel on a CPU with the AVX2 or
     * AVX-512 variants, in every layout and with the epilogue fused: NCHW in and out without an
     * epilogue takes {@link #FORWARD}'s kernels; anything else takes the kernel in any layout, whose
     * taps read NCHW16C and NHWC input in place, 8 channels to a vector, and which adds residual and
     * clamp on its registers. Both give each output {@code 0 + bias}, then the taps' fused
     * multiply-adds in the kernel's row and column order, so the bits do not depend on the layouts or on
     * the fusion. Units are blocks of 16-channel blocks of one image.
     */
    static final Algorithm FORWARD_ANY_LAYOUT = new Base(Algorithm.Pass.FORWARD) {
        @Override
        public String name() {
            return "depthwise direct, any layout";
        }

        @Override
        public boolean applies(ConvGeometry g, boolean prepared) {
            return g.isDepthwise() && g.o == g.c && NativeKernels.blockedFast()
                    && NativeKernels.depthwiseLayoutsScratchSize(g, g.oh) <= MAX_SCRATCH;
        }

        @Override
        public int units(ConvGeometry g, boolean bias) {
            return g.n * Partition.bands(g.o, block(g));
        }

        @Override
        public void scratch(ConvGeometry g, long[] floats) {
            floats[Scratch.COLUMNS] = Math.max(floats[Scratch.COLUMNS], NativeKernels.depthwiseLayoutsScratchSize(g, g.oh));
        }

        @Override
        public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
            int ob = block(g), blocks = Partition.bands(g.o, ob), n = u / blocks, o0 = (u % blocks) * ob, on = Math.min(ob, g.o - o0);
            if (a.xLayout == NativeKernels.NCHW && a.yLayout == NativeKernels.NCHW && a.residual == null && !a.clamp) {
                NativeKernels.depthwiseForward(g, a.x, a.w, a.bias, a.y, n, o0, on);
            } else {
                FloatPointer scratch = s.get(Scratch.COLUMNS, NativeKernels.depthwiseLayoutsScratchSize(g, g.oh));
                NativeKernels.depthwiseLayouts(g, a.x, a.xLayout, a.w, a.bias, a.residual, a.rLayout, a.y, a.yLayout, scratch, n, 0,
                        g.oh, o0 / 16, Partition.ceilDiv(on, 16), a.clamp, a.lo, a.hi);
            }
        }

        /** Channels per unit: the depthwise forward block, in whole 16-channel blocks. */
        private int block(ConvGeometry g) {
            return Partition.ceilDiv(Partition.depthwiseForwardBlock(g), 16) * 16;
        }
    };

    /** The most floats of scratch a unit of {@link #FORWARD_ANY_LAYOUT} takes (16 MiB); beyond, the layers stage through NCHW. */
    static final long MAX_SCRATCH = 1L << 22;

    static final Algorithm BACKWARD_DATA = new Base(Algorithm.Pass.BACKWARD_DATA) {
        @Override
        public int units(ConvGeometry g, boolean bias) {
            return g.n * Partition.bands(g.c, Partition.depthwiseDataBlock(g));
        }

        @Override
        public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
            int cb = Partition.depthwiseDataBlock(g), blocks = Partition.bands(g.c, cb);
            int c0 = (u % blocks) * cb;
            NativeKernels.depthwiseBackwardData(g, a.gy, a.w, a.gx, u / blocks, c0, Math.min(cb, g.c - c0), a.accumulate);
        }
    };

    static final Algorithm BACKWARD_WEIGHTS = new Base(Algorithm.Pass.BACKWARD_WEIGHTS) {
        @Override
        public int units(ConvGeometry g, boolean bias) {
            return Partition.bands(g.o, Partition.depthwiseWeightBlock(g)); // each unit sums its own channels' bias
        }

        @Override
        public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
            int ob = Partition.depthwiseWeightBlock(g), o0 = u * ob, on = Math.min(ob, g.o - o0);
            NativeKernels.depthwiseBackwardWeights(g, a.x, a.gy, a.gw, o0, on, a.accumulate);
            if (a.gbias != null) {
                NativeKernels.channelSums(g, a.gy, a.gbias, o0, on, a.accumulate);
            }
        }
    };
}
