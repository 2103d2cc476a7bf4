package dev.conv4j.internal.blas;

import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.internal.engine.Partition;
import dev.conv4j.internal.nativeblas.NativeKernels;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The forward pass by the channel-blocked direct kernel family ({@code native/blocked/}): weights
 * packed into groups of 32 or 64 output channels by 16 input channels (per call, or by a plan at
 * prepack), the input copied band by band into 16-channel blocks with its padding (a strided 1x1
 * layer's band holds only the pixels it reads), and register tiles of 32 channels x 14 pixels (64 x 7
 * on 7-wide planes) that hold their sums over every input channel and tap. Bias, residual and clamp
 * are applied on the registers, and the tile is stored in the output's layout, so a plan can keep a
 * network in the blocked layout from layer to layer.
 *
 * <p>Under {@code AUTO} on NCHW tensors it takes dense layers of at least 16 input (or 3: an RGB first
 * layer, whose tiles sum only the 3 channels) and 32 output channels: measured here (AVX-512, one
 * thread, ResNet-50 batch 1, per call) it ran the 3x3 layers at 170 to 195 GFLOP/s against 70 to 150
 * for im2col + GEMM and up to 145 for Winograd with prepacked weights, and the pointwise layers at 165
 * to 185 against 75 to 95. Pointwise layers on NCHW input are plain products of the input plane, which
 * the kernel reads in place where its channels fill whole blocks of 16; other pointwise layers take it
 * only where they widen the channels at least twofold. With the weights packed per call, the smallest
 * planes stay with im2col.
 *
 * <p>On CPUs with AVX2 but not AVX-512 the kernel's AVX2 variant runs (tiles of 16 channels x 6 pixels,
 * the same packed weights and order of sums); there {@code AUTO} leaves pointwise layers to im2col +
 * GEMM, which OpenBLAS runs at full width on such CPUs: on NCHW tensors it ran them at 1.0x to 1.15x of
 * the tiles (AMD EPYC Zen 3, ResNet-50 batch 1), though the tiles ran them 1.2x to 2x faster in the
 * blocked layouts, whose staging the product pays. RGB layers take the tiles (ResNet-50's conv1 1.05x
 * im2col + GEMM per call on NCHW, 1.2x in NCHW16C).
 *
 * <p>Units are bands of output rows of one image, each copying the input rows it reads (or, where the
 * weights outweigh the input, chunks of output channels, which then pack their weights inline); the
 * cut never changes what a tile computes, so the bits do not depend on it.
 */
final class BlockedDirect implements Algorithm {
    static final Algorithm FORWARD = new BlockedDirect(false, false);
    static final Algorithm BACKWARD_DATA = new BlockedDirect(true, false);
    /**
     * The forward pass per call of a small batch whose weights outweigh its input (ResNet-50's res4 and
     * res5 at batch 1): no packing phase, each unit packs each chunk of its weight groups into its
     * scratch just before the tiles read it, so the packed weights stay in cache instead of making a
     * trip through memory (res5: 9 MB written and read back per call). The packed values and the order
     * of the sums are those of {@link #FORWARD}, so are the bits.
     */
    static final Algorithm FORWARD_INLINE = new BlockedDirect(false, true);
    /**
     * The input gradient per call of such a layer, packing inline likewise. Its packing gathers each
     * vector (of the transposed kernels), so the small planes {@link #BACKWARD_DATA} leaves to im2col
     * per call stay there (res5: 88 GFLOP/s packing inline against 100 for im2col + GEMM).
     */
    static final Algorithm BACKWARD_DATA_INLINE = new BlockedDirect(true, true);

    /** The most floats of padded input band a unit copies (2 MiB, about a core's L2). */
    static final long BAND_BUDGET = 1L << 19;
    /**
     * The fewest output pixels (over the batch) for which packing the weights on every call pays:
     * below, the per-call engine leaves the layer to im2col + GEMM; a plan packs once and always takes it.
     * The input gradient's packing (a gather per vector, of the transposed kernels) costs more.
     */
    static final long MIN_CALL_PIXELS = 16, MIN_CALL_PIXELS_DATA = 196;

    /** Computes the input gradient (as the forward convolution of gy with the flipped kernels) instead of the forward pass. */
    private final boolean data;
    /** Packs the weights in the units, chunk by chunk, instead of in a packing phase. */
    private final boolean inline;

    private BlockedDirect(boolean data, boolean inline) {
        this.data = data;
        this.inline = inline;
    }

    @Override
    public String name() {
        return inline ? "blocked direct, packing inline" : "blocked direct";
    }

    @Override
    public Pass pass() {
        return data ? Pass.BACKWARD_DATA : Pass.FORWARD;
    }

    /**
     * Whether the kernel can compute the pass at all: dense, stride width 1 or 2 (stride 1 for the input
     * gradient), on a CPU with its fast variant.
     */
    static boolean can(ConvGeometry g, boolean data) {
        return g.groups == 1 && g.strideW <= 2 && (!data || (g.strideH == 1 && g.strideW == 1)) && NativeKernels.blockedFast()
                && NativeKernels.blockedWeightSize(g, data, nb(g, data)) < Integer.MAX_VALUE
                && NativeKernels.blockedScratchSize(g, data, 1) <= 8 * BAND_BUDGET;
    }

    /** The kernel's number for a layout ({@code CONV4J_LAYOUT_*}). */
    static int code(Layout layout) {
        switch (layout) {
            case NHWC:
                return NativeKernels.NHWC;
            case NCHW16C:
                return NativeKernels.NCHW16C;
            default:
                return NativeKernels.NCHW;
        }
    }

    @Override
    public boolean applies(ConvGeometry g, boolean prepared) {
        if (inline) {
            // where the units cut the channels, each packs its groups' chunks once per image
            Algorithm packed = data ? BACKWARD_DATA : FORWARD;
            return !prepared && packed.applies(g, false) && g.n < Math.max(2, Partition.FORWARD_UNITS) && weightBound(g)
                    && NativeKernels.blockedPartialSize(g, data, nb(g), 1) > 0;
        }
        if (!can(g, data)) {
            return false;
        }
        if (g.algorithm == ConvAlgorithm.DIRECT) {
            return true;
        }
        int in = data ? g.o : g.c, out = data ? g.c : g.o;
        long pixels = (long) g.n * (data ? g.inPlane() : g.outPlane());
        if (g.algorithm == ConvAlgorithm.AUTO && !NativeKernels.blockedAvx512() && g.isPointwise()) {
            // pointwise layers are plain products, which OpenBLAS runs at full width on AVX2 CPUs: on NCHW
            // the AVX2 tiles (16 channels x 6 pixels, transposed in and out) ran at 0.85x to 1.0x of it
            return false;
        }
        return g.algorithm == ConvAlgorithm.AUTO && (in >= 16 || in == 3) && out >= 32 && (!g.isPointwise() || in % 16 == 0 || out >= 2 * in)
                && !SmallDirect.chosen(g) && (prepared || pixels >= (data ? MIN_CALL_PIXELS_DATA : MIN_CALL_PIXELS));
    }

    /** 16-channel blocks per tile: four on planes whose rows split into runs of 7 better than of 14. */
    static int nb(ConvGeometry g, boolean data) {
        int ow = data ? g.w : g.ow, out = data ? g.c : g.o;
        boolean sevens = ow < 7 || (ow % 14 != 0 && ow % 7 == 0);
        return sevens && (out % 64 == 0 || out >= 128) ? 4 : 2;
    }

    private int nb(ConvGeometry g) {
        return nb(g, data);
    }

    /** Output rows of the pass. */
    private int outRows(ConvGeometry g) {
        return data ? g.h : g.oh;
    }

    /**
     * Whether the packed weights outweigh an image's input: then a small batch is cut by output channels
     * rather than rows, so each weight is read once per image (two bands of ResNet-50's res5 each
     * streamed all 9 MB of its weights; two halves of the channels read half each).
     */
    private boolean weightBound(ConvGeometry g) {
        long image = (long) (data ? g.o : g.c) * (data ? g.outPlane() : g.inPlane());
        return NativeKernels.blockedWeightSize(g, data, nb(g)) > image;
    }

    /** Output rows per band: as many as the band budget holds, cut further so a small batch gives every core a unit. */
    private int rows(ConvGeometry g) {
        int oh = outRows(g), rows = oh;
        while (rows > 1 && NativeKernels.blockedScratchSize(g, data, rows) > BAND_BUDGET) {
            rows = Partition.ceilDiv(rows, 2);
        }
        if (g.n < Partition.FORWARD_UNITS && !weightBound(g)) {
            int want = Math.min(oh, Partition.ceilDiv(Partition.FORWARD_UNITS, g.n));
            rows = Math.min(rows, Partition.ceilDiv(oh, want));
        }
        return rows;
    }

    /** Chunks of weight groups per band: more than one where a weight-bound small batch is cut by channels. */
    private int chunks(ConvGeometry g) {
        if (g.n >= Partition.FORWARD_UNITS || !weightBound(g)) {
            return 1;
        }
        return Math.min(NativeKernels.blockedGroups(g, data, nb(g)), Partition.ceilDiv(Partition.FORWARD_UNITS, g.n));
    }

    /** A unit's scratch: its input band and, where the reduction runs in chunks, its tiles' sums. */
    private long scratchSize(ConvGeometry g, int rows) {
        return NativeKernels.blockedScratchSize(g, data, rows) + NativeKernels.blockedPartialSize(g, data, nb(g), rows)
                + (inline ? NativeKernels.blockedInlineSize(g, data, nb(g)) : 0);
    }

    @Override
    public int units(ConvGeometry g, boolean bias) {
        return g.n * Partition.bands(outRows(g), rows(g)) * chunks(g);
    }

    @Override
    public void scratch(ConvGeometry g, long[] floats) {
        floats[Scratch.COLUMNS] = Math.max(floats[Scratch.COLUMNS], scratchSize(g, rows(g)));
    }

    @Override
    public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
        int rows = rows(g), oh = outRows(g), bands = Partition.bands(oh, rows), chunks = chunks(g);
        int chunk = u % chunks, band = (u / chunks) % bands, n = u / (chunks * bands), oh0 = band * rows;
        int groups = NativeKernels.blockedGroups(g, data, nb(g)), g0 = groups * chunk / chunks, g1 = groups * (chunk + 1) / chunks;
        FloatPointer scratch = s.get(Scratch.COLUMNS, scratchSize(g, rows));
        if (data) {
            // accumulating adds gx to itself as the residual
            NativeKernels.blockedForward(g, true, nb(g), inline, a.gy, a.xLayout, inline ? a.w : a.u, null, a.accumulate ? a.gx : null, a.yLayout,
                    a.gx, a.yLayout, scratch, n, oh0, Math.min(rows, oh - oh0), g0, g1 - g0, false, 0f, 0f);
        } else {
            NativeKernels.blockedForward(g, false, nb(g), inline, a.x, a.xLayout, inline ? a.w : a.u, a.bias, a.residual, a.rLayout, a.y, a.yLayout,
                    scratch, n, oh0, Math.min(rows, oh - oh0), g0, g1 - g0, a.clamp, a.lo, a.hi);
        }
    }

    @Override
    public long transformSize(ConvGeometry g) {
        return inline ? 0 : NativeKernels.blockedWeightSize(g, data, nb(g));
    }

    @Override
    public int transformUnits(ConvGeometry g) {
        return inline ? 0 : Math.min(NativeKernels.blockedGroups(g, data, nb(g)), Partition.FORWARD_UNITS);
    }

    @Override
    public void transform(ConvGeometry g, int unit, CallArgs a) {
        int nb = nb(g), groups = NativeKernels.blockedGroups(g, data, nb), units = transformUnits(g);
        int g0 = groups * unit / units, g1 = groups * (unit + 1) / units;
        NativeKernels.blockedPack(g, data, nb, a.w, a.u, g0, g1 - g0);
    }
}
