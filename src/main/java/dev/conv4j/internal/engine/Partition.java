package dev.conv4j.internal.engine;

import dev.conv4j.ConvGeometry;

/**
 * How a convolution is cut into independent units of work: bands of output rows, blocks of input
 * or output channels (the algorithms of the blas engine cut their own further, as Winograd's tile chunks). The cut depends on the shapes and the machine's
 * core count, never on an engine's thread count, so an engine gives bit-identical results whatever
 * number of threads runs it.
 */
public final class Partition {
    /**
     * Largest column buffer of one unit, in floats (1 MiB): about what a core's L2 holds, so the GEMM
     * reads the columns im2col just wrote from cache; it also bounds memory for huge images.
     * (Measured on ResNet-50 layers here: 1 MiB was as fast as 8 MiB, or faster.)
     */
    public static final long COLUMN_BUDGET = 1L << 18;
    /**
     * The forward pass's column budget (2 MiB): its products gain more from width than they lose to
     * L2 misses (ResNet-50's 3x3 stride-2 layer ran 10% faster in two bands of 392 columns than in
     * four of 196, whose products are too narrow for conv4j's own GEMM kernel).
     */
    public static final long FORWARD_COLUMN_BUDGET = 1L << 19;
    /** Output columns per forward band: enough for an efficient GEMM, several bands per large image. */
    public static final int BAND_COLUMNS = 1024;
    /** Column-matrix rows per channel block in the backward passes. */
    public static final int BLOCK_ROWS = 1024;
    /** The fewest channels per unit of the depthwise kernels. */
    public static final int DEPTHWISE_BLOCK = 8;
    /** Multiply-adds a depthwise unit should do at least, where the cores still get a unit each. */
    public static final long DEPTHWISE_UNIT_WORK = 1L << 16;

    /**
     * Channels per unit of a depthwise pass whose units each cover {@code images} images of
     * {@code channels} channels, each channel costing {@code perChannel} multiply-adds per image: a
     * multiple of {@link #DEPTHWISE_BLOCK}, large enough for {@link #DEPTHWISE_UNIT_WORK} (on
     * MobileNet's 7x7 layer, blocks of 8 channels spent more time in calls than in sums), small
     * enough that a call with {@code unitImages} images per unit dimension still gives every core a unit.
     */
    public static int depthwiseBlock(int channels, long perChannel, long unitImages) {
        long want = ceilDiv(DEPTHWISE_UNIT_WORK, Math.max(1L, perChannel));
        long block = ceilDiv(Math.max(DEPTHWISE_BLOCK, want), DEPTHWISE_BLOCK) * DEPTHWISE_BLOCK;
        // blocks per image that give the cores a unit each
        long perImage = ceilDiv(FORWARD_UNITS, Math.max(1L, unitImages));
        block = Math.min(block, Math.max(DEPTHWISE_BLOCK, ceilDiv(channels, perImage)));
        return (int) Math.max(1, Math.min(block, channels));
    }

    /** Output channels per unit of the depthwise forward pass (one image per unit). */
    public static int depthwiseForwardBlock(ConvGeometry g) {
        return depthwiseBlock(g.o, (long) g.kh * g.kw * g.outPlane(), g.n);
    }

    /** Input channels per unit of the depthwise input gradient (one image per unit). */
    public static int depthwiseDataBlock(ConvGeometry g) {
        return depthwiseBlock(g.c, (long) g.kh * g.kw * g.outPlane() * (g.o / g.c), g.n);
    }

    /** Output channels per unit of the depthwise weight gradient (the whole batch per unit). */
    public static int depthwiseWeightBlock(ConvGeometry g) {
        return depthwiseBlock(g.o, (long) g.kh * g.kw * g.outPlane() * g.n, 1);
    }

    private Partition() {
    }

    /**
     * Forward units a call should offer, so that small batches still spread over the machine's
     * cores. It depends on the machine, never on an engine's thread count, so all thread counts on
     * one machine cut a call alike.
     */
    public static final int FORWARD_UNITS = Math.min(16, Runtime.getRuntime().availableProcessors());
    /**
     * The narrowest forward band cut to give the cores more units, in output columns (ResNet-50's
     * res4, 14x14, runs as two bands of 98 columns).
     */
    public static final int MIN_BAND_COLUMNS = 64;
    /**
     * The fewest output channels per forward block: narrower GEMMs lose much of their speed (blocks
     * of 128 cost ResNet-50's res4/res5 layers a quarter of their one-thread speed here).
     */
    public static final int MIN_CHANNEL_BLOCK = 256;

    /**
     * Output rows per forward band: about {@link #BAND_COLUMNS} columns, fewer when the batch and
     * groups alone would give fewer than {@link #FORWARD_UNITS} units (but not below
     * {@link #MIN_BAND_COLUMNS}), and few enough that the column matrix stays within the budget.
     */
    public static int forwardRows(ConvGeometry g) {
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
    public static int forwardChannelBlock(ConvGeometry g) {
        int units = g.n * g.groups * bands(g.oh, forwardRows(g));
        if (units >= FORWARD_UNITS || g.og < 2 * MIN_CHANNEL_BLOCK) {
            return g.og;
        }
        int blocks = Math.min(g.og / MIN_CHANNEL_BLOCK, ceilDiv(FORWARD_UNITS, units));
        return ceilDiv(g.og, blocks);
    }

    /** Output rows per band of a backward unit whose column block has {@code blockRows} rows. */
    public static int backwardRows(ConvGeometry g, int blockRows) {
        return even(g.oh, Math.min(g.oh, budgetRows(g, blockRows)));
    }

    /**
     * Channels per block of the backward passes (within one group): blocks of about
     * {@link #BLOCK_ROWS} column-matrix rows, and at least enough blocks that, with
     * {@code otherUnits} units from images and groups, a call offers {@link #FORWARD_UNITS} units.
     */
    public static int channelBlock(ConvGeometry g, int otherUnits) {
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
    public static int dataChannelBlock(ConvGeometry g) {
        return channelBlock(g, g.n * g.groups);
    }

    /** Channels per block of the backward-weights pass, whose units are groups x blocks (it sums over the batch). */
    public static int weightChannelBlock(ConvGeometry g) {
        return splitsOutputs(g) ? g.cg : channelBlock(g, g.groups);
    }

    /**
     * Output channels per block of the backward-weights pass: all, except for a pointwise layer with
     * more output than input channels, which is split by output channels instead (there is no
     * column matrix to build twice, and the products stay as wide as the input channels).
     */
    public static int weightOutputBlock(ConvGeometry g) {
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
    public static final int MIN_WEIGHT_OUTPUTS = 64;

    public static int bands(int extent, int per) {
        return ceilDiv(extent, per);
    }

    private static int budgetRows(ConvGeometry g, long blockRows) {
        return budgetRows(g, blockRows, COLUMN_BUDGET);
    }

    private static int budgetRows(ConvGeometry g, long blockRows, long budget) {
        long rows = budget / Math.max(1, blockRows * g.ow);
        return (int) Math.max(1, Math.min(g.oh, rows));
    }

    public static int ceilDiv(int a, int b) {
        return (int) ((a + (long) b - 1) / b);
    }

    public static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
