package dev.conv4j.internal.blas;

import dev.conv4j.ConvGeometry;
import dev.conv4j.internal.engine.Partition;
import dev.conv4j.internal.nativeblas.NativeKernels;
import org.bytedeco.javacpp.FloatPointer;

/**
 * im2col + GEMM, the algorithm that applies to every layer, by the native im2col/col2im and GEMM
 * families (conv4j's own AVX-512 GEMM where it is faster, else OpenBLAS sgemm). Per image and group,
 * forward computes {@code y = W · col} band by band of output rows, the input gradient
 * {@code dcol = Wᵀ · gy} followed by col2im, the weight gradient {@code gw += gy · colᵀ} summed over
 * the batch. A 1x1 stride-1 unpadded layer reads its input in place as the column matrix.
 */
final class Im2colGemm {
    private Im2colGemm() {
    }

    private abstract static class Base extends PassAlgorithm {
        Base(Pass pass) {
            super("im2col+gemm", pass);
        }

        @Override
        public boolean applies(ConvGeometry g, boolean prepared) {
            return true;
        }
    }

    /** The packing buffer for a product of this shape (null when it goes to OpenBLAS). */
    private static FloatPointer pack(Scratch s, long rows, long columns, boolean transposedA) {
        return s.get(Scratch.GEMM_PACK, NativeKernels.gemmPackSize(rows, columns, transposedA));
    }

    private static void atLeast(long[] floats, int kind, long n) {
        floats[kind] = Math.max(floats[kind], n);
    }

    /** The channel counts the blocks of {@code block} channels out of {@code channels} come in: full and last. */
    private static int[] blockSizes(int channels, int block) {
        int last = channels - (Partition.bands(channels, block) - 1) * block;
        return last == block ? new int[] {block} : new int[] {block, last};
    }

    static final Algorithm FORWARD = new Base(Algorithm.Pass.FORWARD) {
        @Override
        public int units(ConvGeometry g, boolean bias) {
            return g.n * g.groups * Partition.bands(g.oh, Partition.forwardRows(g))
                    * Partition.bands(g.og, Partition.forwardChannelBlock(g));
        }

        @Override
        public void scratch(ConvGeometry g, long[] floats) {
            int rows = Partition.forwardRows(g);
            atLeast(floats, Scratch.GEMM_PACK, NativeKernels.gemmPackSize(0, (long) rows * g.ow, false));
            if (!g.isPointwise()) {
                atLeast(floats, Scratch.COLUMNS, (long) g.k * rows * g.ow);
            }
        }

        @Override
        public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
            int rows = Partition.forwardRows(g), bands = Partition.bands(g.oh, rows);
            int ob = Partition.forwardChannelBlock(g), blocks = Partition.bands(g.og, ob);
            int blk = u % blocks, band = (u / blocks) % bands, grp = (u / (blocks * bands)) % g.groups;
            int n = u / (blocks * bands * g.groups);
            int oh0 = band * rows, r = Math.min(rows, g.oh - oh0), o0 = blk * ob;
            if (g.isPointwise()) {
                NativeKernels.forwardBand(g, a.x, a.w, a.bias, a.y, null, pack(s, 0, (long) r * g.ow, false), n, grp, o0,
                        Math.min(ob, g.og - o0), oh0, r);
                return;
            }
            // blocks of output channels of one band share its column matrix when they run on one thread
            int key = u / blocks;
            FloatPointer col = s.get(Scratch.COLUMNS, (long) g.k * r * g.ow);
            boolean ready = blocks > 1 && s.holdsColumns(a.call, key);
            boolean held = NativeKernels.forwardBand(g, a.x, a.w, a.bias, a.y, col, pack(s, 0, (long) r * g.ow, false), n, grp, o0,
                    Math.min(ob, g.og - o0), oh0, r, ready);
            s.heldColumns(a.call, held ? key : -1);
        }
    };

    static final Algorithm BACKWARD_DATA = new Base(Algorithm.Pass.BACKWARD_DATA) {
        @Override
        public int units(ConvGeometry g, boolean bias) {
            if (g.isPointwise()) {
                return g.n * g.groups * Partition.bands(g.oh, Partition.forwardRows(g));
            }
            return g.n * g.groups * Partition.bands(g.cg, Partition.dataChannelBlock(g));
        }

        @Override
        public void scratch(ConvGeometry g, long[] floats) {
            if (g.isPointwise()) {
                atLeast(floats, Scratch.GEMM_PACK, NativeKernels.gemmPackSize(g.cg, (long) Partition.forwardRows(g) * g.ow, true));
                return;
            }
            for (int cn : blockSizes(g.cg, Partition.dataChannelBlock(g))) {
                int kr = cn * g.kh * g.kw, rows = Partition.backwardRows(g, kr);
                atLeast(floats, Scratch.COLUMNS, (long) kr * rows * g.ow);
                atLeast(floats, Scratch.GEMM_PACK, NativeKernels.gemmPackSize(kr, (long) rows * g.ow, true));
            }
        }

        @Override
        public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
            if (g.isPointwise()) {
                /* gx = Wᵀ gy, band by band of pixels: every channel in one product, no column matrix */
                int rows = Partition.forwardRows(g), bands = Partition.bands(g.oh, rows);
                int band = u % bands, grp = (u / bands) % g.groups, n = u / (bands * g.groups), oh0 = band * rows;
                NativeKernels.backwardDataBand(g, a.gy, a.w, a.gx, null, pack(s, g.cg, (long) rows * g.ow, true), n, grp, 0, g.cg,
                        oh0, Math.min(rows, g.oh - oh0), a.accumulate);
                return;
            }
            int cb = Partition.dataChannelBlock(g), blocks = Partition.bands(g.cg, cb), khkw = g.kh * g.kw;
            int blk = u % blocks, grp = (u / blocks) % g.groups, n = u / (blocks * g.groups);
            int c0 = blk * cb, cn = Math.min(cb, g.cg - c0);
            if (!a.accumulate) {
                long gxoff = ((long) n * g.c + (long) grp * g.cg + c0) * g.inPlane();
                NativeKernels.fill(a.gx, gxoff, (long) cn * g.inPlane(), 0f);
            }
            int rows = Partition.backwardRows(g, cn * khkw);
            FloatPointer col = s.get(Scratch.COLUMNS, (long) cn * khkw * rows * g.ow);
            FloatPointer pack = pack(s, (long) cn * khkw, (long) rows * g.ow, true);
            for (int oh0 = 0; oh0 < g.oh; oh0 += rows) {
                NativeKernels.backwardDataBand(g, a.gy, a.w, a.gx, col, pack, n, grp, c0, cn, oh0, Math.min(rows, g.oh - oh0), true);
            }
        }
    };

    static final Algorithm BACKWARD_WEIGHTS = new Base(Algorithm.Pass.BACKWARD_WEIGHTS) {
        /** Weight units, plus one unit for the bias gradient when there is one. */
        @Override
        public int units(ConvGeometry g, boolean bias) {
            return g.groups * Partition.bands(g.cg, Partition.weightChannelBlock(g))
                    * Partition.bands(g.og, Partition.weightOutputBlock(g)) + (bias ? 1 : 0);
        }

        @Override
        public void scratch(ConvGeometry g, long[] floats) {
            for (int cn : blockSizes(g.cg, Partition.weightChannelBlock(g))) {
                int kr = cn * g.kh * g.kw, rows = Partition.backwardRows(g, kr);
                atLeast(floats, Scratch.GEMM_PACK, NativeKernels.gemmPackSize(0, kr, false));
                if (!g.isPointwise()) {
                    atLeast(floats, Scratch.COLUMNS, (long) kr * rows * g.ow);
                }
            }
        }

        @Override
        public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
            int cb = Partition.weightChannelBlock(g), blocks = Partition.bands(g.cg, cb), khkw = g.kh * g.kw;
            int ob = Partition.weightOutputBlock(g), oblocks = Partition.bands(g.og, ob);
            if (u == g.groups * blocks * oblocks) {
                NativeKernels.channelSums(g, a.gy, a.gbias, 0, g.o, a.accumulate);
                return;
            }
            int oblk = u % oblocks, blk = (u / oblocks) % blocks, grp = u / (oblocks * blocks);
            int c0 = blk * cb, cn = Math.min(cb, g.cg - c0), o0 = oblk * ob, on = Math.min(ob, g.og - o0);
            int rows = Partition.backwardRows(g, cn * khkw);
            FloatPointer col = g.isPointwise() ? null : s.get(Scratch.COLUMNS, (long) cn * khkw * rows * g.ow);
            FloatPointer pack = pack(s, 0, (long) cn * khkw, false);
            boolean add = a.accumulate;
            for (int n = 0; n < g.n; n++) {
                for (int oh0 = 0; oh0 < g.oh; oh0 += rows) {
                    NativeKernels.backwardWeightsBand(g, a.x, a.gy, a.gw, col, pack, n, grp, c0, cn, o0, on, oh0,
                            Math.min(rows, g.oh - oh0), add);
                    add = true;
                }
            }
        }
    };
}
