package dev.conv4j.internal.engine;

import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvGeometry;
import dev.conv4j.internal.nativeblas.NativeKernels;

/**
 * How a convolution is cut into independent units of work: bands of output rows, blocks of input
 * or output channels, chunks of Winograd tiles. The cut depends on the shapes and the machine's
 * core count, never on an engine's thread count, so an engine gives bit-identical results whatever
 * number of threads runs it.
 */
final class Partition {
    /**
     * Largest column buffer of one unit, in floats (1 MiB): about what a core's L2 holds, so the GEMM
     * reads the columns im2col just wrote from cache; it also bounds memory for huge images.
     * (Measured on ResNet-50 layers here: 1 MiB was as fast as 8 MiB, or faster.)
     */
    static final long COLUMN_BUDGET = 1L << 18;
    /**
     * The forward pass's column budget (2 MiB): its products gain more from width than they lose to
     * L2 misses (ResNet-50's 3x3 stride-2 layer ran 10% faster in two bands of 392 columns than in
     * four of 196, whose products are too narrow for conv4j's own GEMM kernel).
     */
    static final long FORWARD_COLUMN_BUDGET = 1L << 19;
    /** Output columns per forward band: enough for an efficient GEMM, several bands per large image. */
    static final int BAND_COLUMNS = 1024;
    /** Column-matrix rows per channel block in the backward passes. */
    static final int BLOCK_ROWS = 1024;
    /** The fewest channels per unit of the depthwise kernels. */
    static final int DEPTHWISE_BLOCK = 8;
    /** Multiply-adds a depthwise unit should do at least, where the cores still get a unit each. */
    static final long DEPTHWISE_UNIT_WORK = 1L << 16;

    /**
     * Channels per unit of a depthwise pass whose units each cover {@code images} images of
     * {@code channels} channels, each channel costing {@code perChannel} multiply-adds per image: a
     * multiple of {@link #DEPTHWISE_BLOCK}, large enough for {@link #DEPTHWISE_UNIT_WORK} (on
     * MobileNet's 7x7 layer, blocks of 8 channels spent more time in calls than in sums), small
     * enough that a call with {@code unitImages} images per unit dimension still gives every core a unit.
     */
    static int depthwiseBlock(int channels, long perChannel, long unitImages) {
        long want = ceilDiv(DEPTHWISE_UNIT_WORK, Math.max(1L, perChannel));
        long block = ceilDiv(Math.max(DEPTHWISE_BLOCK, want), DEPTHWISE_BLOCK) * DEPTHWISE_BLOCK;
        // blocks per image that give the cores a unit each
        long perImage = ceilDiv(FORWARD_UNITS, Math.max(1L, unitImages));
        block = Math.min(block, Math.max(DEPTHWISE_BLOCK, ceilDiv(channels, perImage)));
        return (int) Math.max(1, Math.min(block, channels));
    }

    /** Output channels per unit of the depthwise forward pass (one image per unit). */
    static int depthwiseForwardBlock(ConvGeometry g) {
        return depthwiseBlock(g.o, (long) g.kh * g.kw * g.outPlane(), g.n);
    }

    /** Input channels per unit of the depthwise input gradient (one image per unit). */
    static int depthwiseDataBlock(ConvGeometry g) {
        return depthwiseBlock(g.c, (long) g.kh * g.kw * g.outPlane() * (g.o / g.c), g.n);
    }

    /** Output channels per unit of the depthwise weight gradient (the whole batch per unit). */
    static int depthwiseWeightBlock(ConvGeometry g) {
        return depthwiseBlock(g.o, (long) g.kh * g.kw * g.outPlane() * g.n, 1);
    }

    private Partition() {
    }

    /**
     * Forward units a call should offer, so that small batches still spread over the machine's
     * cores. It depends on the machine, never on an engine's thread count, so all thread counts on
     * one machine cut a call alike.
     */
    static final int FORWARD_UNITS = Math.min(16, Runtime.getRuntime().availableProcessors());
    /**
     * The narrowest forward band cut to give the cores more units, in output columns (ResNet-50's
     * res4, 14x14, runs as two bands of 98 columns).
     */
    static final int MIN_BAND_COLUMNS = 64;
    /**
     * The fewest output channels per forward block: narrower GEMMs lose much of their speed (blocks
     * of 128 cost ResNet-50's res4/res5 layers a quarter of their one-thread speed here).
     */
    static final int MIN_CHANNEL_BLOCK = 256;

    /**
     * Output rows per forward band: about {@link #BAND_COLUMNS} columns, fewer when the batch and
     * groups alone would give fewer than {@link #FORWARD_UNITS} units (but not below
     * {@link #MIN_BAND_COLUMNS}), and few enough that the column matrix stays within the budget.
     */
    static int forwardRows(ConvGeometry g) {
        int rows = Math.min(g.oh, Math.max(1, ceilDiv(BAND_COLUMNS, g.ow)));
        int images = g.n * g.groups;
        if (images * bands(g.oh, rows) < FORWARD_UNITS) {
            int wantedBands = ceilDiv(FORWARD_UNITS, images);
            int maxBands = Math.max(1, g.oh * g.ow / MIN_BAND_COLUMNS);
            rows = ceilDiv(g.oh, Math.max(1, Math.min(wantedBands, Math.min(maxBands, g.oh))));
        }
        // a pointwise band reads the input in place: no column matrix to keep within the budget
        return balanced(g, even(g.oh, g.isPointwise() ? rows : Math.min(rows, budgetRows(g, g.k, FORWARD_COLUMN_BUDGET))));
    }

    /** Rows per band for the same number of bands as {@code rows} gives, as equal as they go (18+18+18+2 becomes 4 x 14). */
    private static int even(int total, int rows) {
        return ceilDiv(total, bands(total, rows));
    }

    /**
     * Fewer rows per band when that makes a small number of units a multiple of
     * {@link #FORWARD_UNITS}: three equal units on two cores leave one core idle a third of the time
     * (ResNet-50's 1x1 layers on 56x56 scaled 1.4x on two threads with three bands of 19 rows).
     */
    private static int balanced(ConvGeometry g, int rows) {
        long images = (long) g.n * g.groups;
        int bands = bands(g.oh, rows);
        if ((images * bands) % FORWARD_UNITS == 0 || images * bands >= 4L * FORWARD_UNITS) {
            return rows;
        }
        for (int b = bands + 1; b <= Math.min(g.oh, 2 * bands); b++) {
            int r = ceilDiv(g.oh, b);
            if ((images * b) % FORWARD_UNITS == 0 && bands(g.oh, r) == b && (long) r * g.ow >= MIN_BAND_COLUMNS) {
                return r;
            }
        }
        return rows;
    }

    /**
     * Output channels per forward block (within a group): all of them, unless the batch, groups
     * and bands give fewer than {@link #FORWARD_UNITS} units and the group has at least twice
     * {@link #MIN_CHANNEL_BLOCK} channels to split (each block then builds its own column matrix).
     */
    static int forwardChannelBlock(ConvGeometry g) {
        int units = g.n * g.groups * bands(g.oh, forwardRows(g));
        if (units >= FORWARD_UNITS || g.og < 2 * MIN_CHANNEL_BLOCK) {
            return g.og;
        }
        int blocks = Math.min(g.og / MIN_CHANNEL_BLOCK, ceilDiv(FORWARD_UNITS, units));
        return ceilDiv(g.og, blocks);
    }

    /** Output rows per band of a backward unit whose column block has {@code blockRows} rows. */
    static int backwardRows(ConvGeometry g, int blockRows) {
        return even(g.oh, Math.min(g.oh, budgetRows(g, blockRows)));
    }

    /**
     * Channels per block of the backward passes (within one group): blocks of about
     * {@link #BLOCK_ROWS} column-matrix rows, and at least enough blocks that, with
     * {@code otherUnits} units from images and groups, a call offers {@link #FORWARD_UNITS} units.
     */
    static int channelBlock(ConvGeometry g, int otherUnits) {
        long other = Math.max(1, otherUnits);
        int blocks = Math.min(g.cg, Math.max(ceilDiv(g.k, BLOCK_ROWS), ceilDiv(FORWARD_UNITS, (int) Math.min(other, FORWARD_UNITS))));
        blocks = Math.max(1, blocks);
        if ((other * blocks) % FORWARD_UNITS != 0 && other * blocks < 4L * FORWARD_UNITS) {
            // as for forward bands: a small unit count that is a multiple of the cores keeps them all busy
            for (int b = blocks + 1; b <= Math.min(g.cg, 2 * blocks); b++) {
                if ((other * b) % FORWARD_UNITS == 0 && ceilDiv(g.cg, ceilDiv(g.cg, b)) == b) {
                    blocks = b;
                    break;
                }
            }
        }
        return Math.max(1, ceilDiv(g.cg, blocks));
    }

    /** Channels per block of the backward-data pass, whose units are images x groups x blocks. */
    static int dataChannelBlock(ConvGeometry g) {
        return channelBlock(g, g.n * g.groups);
    }

    /** Channels per block of the backward-weights pass, whose units are groups x blocks (it sums over the batch). */
    static int weightChannelBlock(ConvGeometry g) {
        return splitsOutputs(g) ? g.cg : channelBlock(g, g.groups);
    }

    /**
     * Output channels per block of the backward-weights pass: all, except for a pointwise layer with
     * more output than input channels, which is split by output channels instead (there is no
     * column matrix to build twice, and the products stay as wide as the input channels).
     */
    static int weightOutputBlock(ConvGeometry g) {
        if (!splitsOutputs(g)) {
            return g.og;
        }
        int blocks = Math.max(1, Math.min(ceilDiv(FORWARD_UNITS, g.groups), g.og / MIN_WEIGHT_OUTPUTS));
        return ceilDiv(g.og, blocks);
    }

    private static boolean splitsOutputs(ConvGeometry g) {
        return g.isPointwise() && g.og > g.cg;
    }

    /** The fewest output channels per block when the backward-weights pass splits them. */
    static final int MIN_WEIGHT_OUTPUTS = 64;

    /** The most floats of padded input the direct kernel copies per unit: 16 MiB. */
    static final long DIRECT_SCRATCH_LIMIT = 1L << 22;

    /**
     * Whether the blas engine's forward pass uses the direct kernel for small layers: under AUTO,
     * for stride-1, non-pointwise, dense or grouped (not depthwise) layers with at most 16 output
     * channels per group and at most 512 weights per output channel. Measured here (AVX-512, one
     * thread), it beat im2col + sgemm on such layers by 1.1x (16 channels in and out) to 2.7x
     * (tiny_3x3), where the products are too narrow for sgemm; with 32 or more output channels
     * sgemm won.
     */
    static boolean useDirect(ConvGeometry g) {
        return g.algorithm == ConvAlgorithm.AUTO && !g.isDepthwise() && !g.isPointwise()
                && g.strideH == 1 && g.strideW == 1 && g.og <= 16 && g.k <= 512
                && NativeKernels.directScratchSize(g) <= DIRECT_SCRATCH_LIMIT;
    }

    /** Output channels per direct-kernel unit: all, unless images and groups give too few units. */
    static int directChannelBlock(ConvGeometry g) {
        if ((long) g.n * g.groups >= FORWARD_UNITS) {
            return g.og;
        }
        int blocks = Math.max(1, Math.min(ceilDiv(g.og, 8), FORWARD_UNITS));
        return Math.min(g.og, (ceilDiv(g.og, blocks) + 7) & ~7);
    }

    /** Floats of Winograd transform workspace (V and M) per unit: 4 MiB. */
    static final long WINOGRAD_BUDGET = 1L << 20;

    /**
     * The Winograd tile size of the blas engine's forward pass: 2 for F(2x2, 3x3), 4 for F(4x4, 3x3),
     * 0 for im2col. As asked, or under AUTO where Winograd applies and pays off. Measured here
     * (AVX-512, one and two threads) on the ResNet-50 3x3 layers: F(4x4) does 4x fewer
     * multiplications than im2col, but its transformed weights are 4x larger (36 floats per
     * kernel) and every call streams them, so it needs enough tiles (4x4 output blocks) per call
     * to use each of them more than a few times. With the weights transformed once (a plan) it won
     * from 16 tiles (res4: 145 against 110 GFLOP/s) and lost at 4 (res5: 55 against 70 inside the
     * benchmark, whose other buffers keep the 38 MB transform out of cache); done per call, the
     * transform itself costs more than Winograd saves below about 32 tiles. F(2x2) is left for 32
     * (plan) or 128 (per call) 2x2 tiles. Narrow layers (C or O below 16) make the products
     * inefficient.
     */
    static int winogradTile(ConvGeometry g, boolean weightsPrepared) {
        return pick(g, NativeKernels.winogradTileCount(g, 4), NativeKernels.winogradTileCount(g, 2), weightsPrepared);
    }

    /**
     * The same choice for the backward-data pass, whose input gradient is the convolution of the
     * output gradient with the turned kernels: Winograd tiles the input gradient, and the weight
     * transform is done per call.
     */
    static int dataWinogradTile(ConvGeometry g) {
        if (g.h >= 1 << 30 || g.w >= 1 << 30) {
            return 0;
        }
        return pick(g, NativeKernels.winogradBackwardTileCount(g, 4), NativeKernels.winogradBackwardTileCount(g, 2), false);
    }

    private static int pick(ConvGeometry g, long tiles4, long tiles2, boolean weightsPrepared) {
        switch (g.algorithm) {
            case WINOGRAD_2X2:
                return 2;
            case WINOGRAD_4X4:
                return 4;
            case IM2COL:
                return 0;
            default:
                if (!ConvAlgorithm.winogradApplies(g) || g.c < 16 || g.o < 16 || tiles4 > Integer.MAX_VALUE
                        || useDirect(g)) {
                    return 0;
                }
                if (tiles4 >= (weightsPrepared ? 16 : 32)) {
                    return 4;
                }
                return tiles2 >= (weightsPrepared ? 32 : 128) ? 2 : 0;
        }
    }

    /**
     * Tiles per Winograd unit: as many as the budget allows; split evenly into
     * {@link #FORWARD_UNITS} chunks when each keeps {@link #MIN_WINOGRAD_TILES} tiles (the width of
     * its products).
     */
    static int winogradChunk(ConvGeometry g, int tiles, int m) {
        long max = Math.max(64, WINOGRAD_BUDGET / ((long) (m + 2) * (m + 2) * (g.c + g.o)));
        int chunks = (int) Math.max(1, (tiles + max - 1) / max);
        chunks = Math.max(chunks, Math.min(FORWARD_UNITS, tiles / MIN_WINOGRAD_TILES));
        if (chunks > 1 && chunks % FORWARD_UNITS != 0 && chunks < 4 * FORWARD_UNITS) {
            chunks = Math.min(tiles, ceilDiv(chunks, FORWARD_UNITS) * FORWARD_UNITS);  // keep every core busy
        }
        return ceilDiv(tiles, Math.max(1, chunks));
    }

    /**
     * Channels (of the pass's output: O forward, C for the input gradient) per Winograd unit: all,
     * unless there are too few tile chunks for {@link #FORWARD_UNITS} units; then the channels are
     * split, each block keeping {@link #MIN_WINOGRAD_CHANNELS}. Each block transforms the input of
     * its tiles again, which costs little next to its products.
     */
    static int winogradChannelBlock(ConvGeometry g, int tiles, int m, int channels) {
        int chunks = bands(tiles, winogradChunk(g, tiles, m));
        if (chunks >= FORWARD_UNITS) {
            return channels;
        }
        int blocks = Math.min(ceilDiv(FORWARD_UNITS, chunks), channels / MIN_WINOGRAD_CHANNELS);
        return blocks <= 1 ? channels : ceilDiv(channels, blocks);
    }

    /** The fewest kernels (of O·C) a unit of the per-call Winograd weight transform takes. */
    static final long MIN_TRANSFORM_KERNELS = 8192;

    /** The fewest tiles a Winograd unit is cut to for parallelism: its products are that wide. */
    static final int MIN_WINOGRAD_TILES = 64;
    /** The fewest channels a Winograd unit is cut to for parallelism: its products are that tall. */
    static final int MIN_WINOGRAD_CHANNELS = 32;

    static int bands(int extent, int per) {
        return ceilDiv(extent, per);
    }

    private static int budgetRows(ConvGeometry g, long blockRows) {
        return budgetRows(g, blockRows, COLUMN_BUDGET);
    }

    private static int budgetRows(ConvGeometry g, long blockRows, long budget) {
        long rows = budget / Math.max(1, blockRows * g.ow);
        return (int) Math.max(1, Math.min(g.oh, rows));
    }

    static int ceilDiv(int a, int b) {
        return (int) ((a + (long) b - 1) / b);
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
