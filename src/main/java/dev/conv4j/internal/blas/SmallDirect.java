package dev.conv4j.internal.blas;

import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvGeometry;
import dev.conv4j.internal.engine.Partition;
import dev.conv4j.internal.nativeblas.NativeKernels;

/**
 * The forward pass of small stride-1 layers by the native direct kernel family, chosen by {@code AUTO}
 * for dense or grouped (not depthwise), non-pointwise layers with at most 16 output channels per group
 * and at most 512 weights per output channel. Measured here (AVX-512, one thread), it beat im2col +
 * sgemm on such layers by 1.1x (16 channels in and out) to 2.7x (tiny_3x3), where the products are too
 * narrow for sgemm; with 32 or more output channels sgemm won. Units are blocks of output channels of
 * one image and group; each copies its padded input into scratch.
 */
final class SmallDirect implements Algorithm {
    static final Algorithm FORWARD = new SmallDirect();

    /** The most floats of padded input a unit copies: 16 MiB. */
    static final long SCRATCH_LIMIT = 1L << 22;

    private SmallDirect() {
    }

    /** Whether {@code AUTO} takes this kernel for the layer (the Winograd choice defers to it too). */
    static boolean chosen(ConvGeometry g) {
        return g.algorithm == ConvAlgorithm.AUTO && !g.isDepthwise() && !g.isPointwise()
                && g.strideH == 1 && g.strideW == 1 && g.og <= 16 && g.k <= 512
                && NativeKernels.directScratchSize(g) <= SCRATCH_LIMIT;
    }

    @Override
    public String name() {
        return "small direct";
    }

    @Override
    public Pass pass() {
        return Pass.FORWARD;
    }

    @Override
    public boolean applies(ConvGeometry g, boolean prepared) {
        return chosen(g);
    }

    /** Output channels per unit: all, unless images and groups give too few units. */
    private static int channelBlock(ConvGeometry g) {
        if ((long) g.n * g.groups >= Partition.FORWARD_UNITS) {
            return g.og;
        }
        int blocks = Math.max(1, Math.min(Partition.ceilDiv(g.og, 8), Partition.FORWARD_UNITS));
        return Math.min(g.og, (Partition.ceilDiv(g.og, blocks) + 7) & ~7);
    }

    @Override
    public int units(ConvGeometry g, boolean bias) {
        return g.n * g.groups * Partition.bands(g.og, channelBlock(g));
    }

    @Override
    public void scratch(ConvGeometry g, long[] floats) {
        floats[Scratch.COLUMNS] = Math.max(floats[Scratch.COLUMNS], NativeKernels.directScratchSize(g));
    }

    @Override
    public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
        int ob = channelBlock(g), blocks = Partition.bands(g.og, ob);
        int blk = u % blocks, grp = (u / blocks) % g.groups, n = u / (blocks * g.groups), o0 = blk * ob;
        NativeKernels.directForward(g, a.x, a.w, a.bias, a.y, s.get(Scratch.COLUMNS, NativeKernels.directScratchSize(g)),
                n, grp, o0, Math.min(ob, g.og - o0));
    }
}
