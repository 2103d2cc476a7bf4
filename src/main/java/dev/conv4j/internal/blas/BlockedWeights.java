package dev.conv4j.internal.blas;

import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvGeometry;
import dev.conv4j.internal.engine.Partition;
import dev.conv4j.internal.nativeblas.NativeKernels;

/**
 * The weight gradient by the channel-blocked kernel family ({@code native/blocked/}): a unit owns one
 * block of 16 input channels by a range of 16-channel output blocks and sums them over the whole batch,
 * each (output block, input block) pair with its accumulators in registers over the plane (kernel width
 * x up to 16 input channels, each a vector of 16 output channels), so no unit reduces another's partial
 * sums and the bits do not depend on the thread count. Units of input block 0 also sum the bias
 * gradient.
 *
 * <p>Under {@code AUTO} it takes dense layers of at least 16 input and output channels, kernels larger
 * than 1x1 and up to 7 wide, and at least {@link #MIN_PIXELS} output pixels over the batch, on AVX-512
 * CPUs. Measured here (one thread, ResNet-50 batch 1, per call) it ran res2's 3x3 layer at 115 against
 * 92 GFLOP/s for im2col + GEMM and res3's at 148 against 143, but lost on 14x14 and 7x7 planes (res5: 71
 * against 108), where each pair of blocks sums too few pixels for its copies and its store, and on 1x1
 * kernels, whose weight gradient is a plain product the GEMM runs well.
 */
final class BlockedWeights implements Algorithm {
    static final Algorithm BACKWARD_WEIGHTS = new BlockedWeights();

    /** The fewest output pixels over the batch for {@code AUTO}: 28 x 14. */
    static final long MIN_PIXELS = 392;

    private BlockedWeights() {
    }

    @Override
    public String name() {
        return "blocked direct";
    }

    @Override
    public Pass pass() {
        return Pass.BACKWARD_WEIGHTS;
    }

    /** Whether the kernel can compute the layer's weight gradient: dense, kernels up to 7 wide, on a CPU with its fast variant. */
    static boolean can(ConvGeometry g) {
        return g.groups == 1 && g.kw <= 7 && NativeKernels.blockedFast()
                && NativeKernels.blockedWeightsScratchSize(g, 1) <= 8 * BlockedDirect.BAND_BUDGET;
    }

    @Override
    public boolean applies(ConvGeometry g, boolean prepared) {
        if (!can(g)) {
            return false;
        }
        return g.algorithm == ConvAlgorithm.DIRECT || (g.algorithm == ConvAlgorithm.AUTO && g.c >= 16 && g.o >= 16
                && g.kh * g.kw > 1 && (long) g.n * g.outPlane() >= MIN_PIXELS);
    }

    /** The most floats of sums a unit keeps (1 MiB): output blocks per unit are cut to it. */
    static final long SUMS_BUDGET = 1L << 18;

    /**
     * Output blocks per unit: all of them where their sums fit {@link #SUMS_BUDGET}, so that a unit (one
     * input block) copies its input once per image for all of them.
     */
    private static int outputBlocks(ConvGeometry g) {
        long perBlock = 256L * g.kh * g.kw + 16;
        return (int) Math.max(1, Math.min(Partition.ceilDiv(g.o, 16), SUMS_BUDGET / perBlock));
    }

    @Override
    public int units(ConvGeometry g, boolean bias) {
        return Partition.ceilDiv(g.c, 16) * Partition.bands(Partition.ceilDiv(g.o, 16), outputBlocks(g));
    }

    @Override
    public void scratch(ConvGeometry g, long[] floats) {
        floats[Scratch.COLUMNS] = Math.max(floats[Scratch.COLUMNS], NativeKernels.blockedWeightsScratchSize(g, outputBlocks(g)));
    }

    @Override
    public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
        int obs = Partition.ceilDiv(g.o, 16), per = outputBlocks(g), ranges = Partition.bands(obs, per);
        int ob = (u % ranges) * per, obn = Math.min(per, obs - ob);
        NativeKernels.blockedWeights(g, a.x, a.xLayout, a.gy, a.yLayout, a.gw, a.gbias,
                s.get(Scratch.COLUMNS, NativeKernels.blockedWeightsScratchSize(g, per)), ob, obn, u / ranges, 1, a.accumulate);
    }
}
