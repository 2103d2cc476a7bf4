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
 * <p>Under {@code AUTO} it takes dense layers of at least 16 input and output channels, kernels up to
 * 7 wide, and at least {@link #MIN_PIXELS} output pixels over the batch, on AVX-512 CPUs. Measured here
 * (one thread, ResNet-50 batch 1, per call, NCHW) it ran res2's 3x3 layer at 157 against 114 GFLOP/s for
 * im2col + GEMM and the 1x1 layers at 102 to 132 against 72 to 80 (1x1 kernels sum two output blocks at
 * a time), but lost on 14x14 and 7x7 planes (res5: 93 against 126), where each pair of blocks sums too
 * few pixels for its copies and its store.
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
        return g.groups == 1 && g.kw <= 7 && NativeKernels.blockedAvx512()
                && NativeKernels.blockedWeightsScratchSize(g, 1, 1) <= 8 * BlockedDirect.BAND_BUDGET;
    }

    @Override
    public boolean applies(ConvGeometry g, boolean prepared) {
        if (!can(g)) {
            return false;
        }
        return g.algorithm == ConvAlgorithm.DIRECT || (g.algorithm == ConvAlgorithm.AUTO && g.c >= 16 && g.o >= 16
                && (long) g.n * g.outPlane() >= MIN_PIXELS);
    }

    /** The most floats of sums a unit keeps (1 MiB): its blocks are cut to it. */
    static final long SUMS_BUDGET = 1L << 18;

    /** Floats of sums of one (input block, output block) pair. */
    private static long pairSums(ConvGeometry g) {
        return 256L * g.kh * g.kw + 16;
    }

    /**
     * Output blocks per unit: all of them where their sums fit {@link #SUMS_BUDGET}, so that a unit copies
     * each of its input blocks once per image for all of them.
     */
    private static int outputBlocks(ConvGeometry g) {
        return (int) Math.max(1, Math.min(Partition.ceilDiv(g.o, 16), SUMS_BUDGET / pairSums(g)));
    }

    /**
     * Input blocks per unit: enough for one unit per core, within the sums budget. A unit makes each gy
     * block of an image pixel vectors once for all its input blocks (per input block, the transposes of
     * an NCHW gy cost as much as a 1x1 layer's sums).
     */
    private static int inputBlocks(ConvGeometry g) {
        int cbs = Partition.ceilDiv(g.c, 16);
        long fit = Math.max(1, SUMS_BUDGET / (pairSums(g) * outputBlocks(g)));
        return (int) Math.min(fit, Partition.ceilDiv(cbs, Math.min(cbs, Partition.FORWARD_UNITS)));
    }

    @Override
    public int units(ConvGeometry g, boolean bias) {
        return Partition.bands(Partition.ceilDiv(g.c, 16), inputBlocks(g)) * Partition.bands(Partition.ceilDiv(g.o, 16), outputBlocks(g));
    }

    @Override
    public void scratch(ConvGeometry g, long[] floats) {
        floats[Scratch.COLUMNS] = Math.max(floats[Scratch.COLUMNS],
                NativeKernels.blockedWeightsScratchSize(g, inputBlocks(g), outputBlocks(g)));
    }

    @Override
    public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
        int obs = Partition.ceilDiv(g.o, 16), per = outputBlocks(g), ranges = Partition.bands(obs, per);
        int cbs = Partition.ceilDiv(g.c, 16), cper = inputBlocks(g);
        int ob = (u % ranges) * per, obn = Math.min(per, obs - ob);
        int cb = (u / ranges) * cper, cbn = Math.min(cper, cbs - cb);
        NativeKernels.blockedWeights(g, a.x, a.xLayout, a.gy, a.yLayout, a.gw, a.gbias,
                s.get(Scratch.COLUMNS, NativeKernels.blockedWeightsScratchSize(g, cper, per)), ob, obn, cb, cbn, a.accumulate);
    }
}
