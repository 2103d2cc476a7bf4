package dev.conv4j.internal.blas;

import dev.conv4j.ConvGeometry;
import dev.conv4j.internal.engine.Partition;
import dev.conv4j.internal.nativeblas.NativeKernels;

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
