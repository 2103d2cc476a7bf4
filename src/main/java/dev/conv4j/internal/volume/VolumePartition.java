package dev.conv4j.internal.volume;

import static dev.conv4j.internal.engine.Partition.BAND_COLUMNS;
import static dev.conv4j.internal.engine.Partition.BLOCK_ROWS;
import static dev.conv4j.internal.engine.Partition.COLUMN_BUDGET;
import static dev.conv4j.internal.engine.Partition.FORWARD_COLUMN_BUDGET;
import static dev.conv4j.internal.engine.Partition.FORWARD_UNITS;
import static dev.conv4j.internal.engine.Partition.MIN_BAND_COLUMNS;
import static dev.conv4j.internal.engine.Partition.bands;
import static dev.conv4j.internal.engine.Partition.ceilDiv;

import dev.conv4j.Conv3dGeometry;

/**
 * How a 3-D pass is cut into independent units, by the rules of the 2-D passes ({@code Partition}) one
 * dimension up: forward, bands of output rows per image and group; backward, blocks of input channels
 * (per image and group for the input gradient, per group summing the batch for the weight gradient),
 * each running over bands of output rows. A band counts rows of OW outputs through the OD·OH rows of
 * each channel, so a band may span output planes and a deep, small-planed volume still splits finely.
 * Bands keep each column matrix within the column budgets, so memory stays bounded whatever the
 * volume. The cut depends on the shapes and the machine's core count only, never on an engine's thread
 * count: the results are the same bits whatever the number of threads.
 */
final class VolumePartition {
    private VolumePartition() {
    }

    /**
     * Output rows per forward band: about {@code BAND_COLUMNS} columns, fewer when the batch and groups
     * alone give fewer than {@code FORWARD_UNITS} units (not below {@code MIN_BAND_COLUMNS}), few enough
     * for the column matrix to stay within {@code FORWARD_COLUMN_BUDGET}, and as many bands as keep a
     * small number of units a multiple of the cores.
     */
    static int forwardRows(Conv3dGeometry g) {
        int total = g.outRows();
        int rows = Math.min(total, Math.max(1, ceilDiv(BAND_COLUMNS, g.ow)));
        long images = (long) g.n * g.groups;
        if (images * bands(total, rows) < FORWARD_UNITS) {
            long wanted = ceilDiv((long) FORWARD_UNITS, images);
            long most = Math.max(1, Math.min(total, (long) total * g.ow / MIN_BAND_COLUMNS));
            rows = ceilDiv(total, (int) Math.max(1, Math.min(wanted, most)));
        }
        rows = even(total, Math.min(rows, budgetRows(g, g.k, FORWARD_COLUMN_BUDGET)));
        return balanced(g, images, total, rows);
    }

    /** Output rows per band of a backward unit whose column block has {@code blockRows} rows. */
    static int backwardRows(Conv3dGeometry g, int blockRows) {
        return even(g.outRows(), budgetRows(g, blockRows, COLUMN_BUDGET));
    }

    /** Input channels per block of the input-gradient pass, whose units are images x groups x blocks. */
    static int dataChannelBlock(Conv3dGeometry g) {
        return channelBlock(g, (long) g.n * g.groups);
    }

    /** Input channels per block of the weight-gradient pass, whose units are groups x blocks (each sums the batch). */
    static int weightChannelBlock(Conv3dGeometry g) {
        return channelBlock(g, g.groups);
    }

    /**
     * Channels per block of the backward passes (within a group): blocks of about {@code BLOCK_ROWS}
     * column-matrix rows, and at least enough blocks that, with {@code other} units from images and
     * groups, a call offers {@code FORWARD_UNITS} units, preferring a multiple of them.
     */
    private static int channelBlock(Conv3dGeometry g, long other) {
        long want = Math.max(ceilDiv((long) g.k, BLOCK_ROWS), ceilDiv((long) FORWARD_UNITS, Math.min(other, FORWARD_UNITS)));
        int blocks = (int) Math.max(1, Math.min(g.cg, want));
        if ((other * blocks) % FORWARD_UNITS != 0 && other * blocks < 4L * FORWARD_UNITS) {
            for (int b = blocks + 1; b <= Math.min(g.cg, 2 * blocks); b++) {
                if ((other * b) % FORWARD_UNITS == 0 && bands(g.cg, ceilDiv(g.cg, b)) == b) {
                    blocks = b;
                    break;
                }
            }
        }
        return ceilDiv(g.cg, blocks);
    }

    /**
     * Fewer rows per band when that makes a small number of units a multiple of the cores: seven equal
     * units on two cores leave one idle for the last.
     */
    private static int balanced(Conv3dGeometry g, long images, int total, int rows) {
        int bands = bands(total, rows);
        if ((images * bands) % FORWARD_UNITS == 0 || images * bands >= 4L * FORWARD_UNITS) {
            return rows;
        }
        for (int b = bands + 1; b <= Math.min(total, 2 * bands); b++) {
            int r = ceilDiv(total, b);
            if ((images * b) % FORWARD_UNITS == 0 && bands(total, r) == b && (long) r * g.ow >= MIN_BAND_COLUMNS) {
                return r;
            }
        }
        return rows;
    }

    /** Rows per band for the same number of bands as {@code rows} gives, as equal as they go. */
    private static int even(int total, int rows) {
        return ceilDiv(total, bands(total, rows));
    }

    /** The most output rows whose column matrix of {@code blockRows} rows stays within {@code budget} floats; at least 1. */
    private static int budgetRows(Conv3dGeometry g, long blockRows, long budget) {
        long rows = budget / Math.max(1, blockRows * g.ow);
        return (int) Math.max(1, Math.min(g.outRows(), rows));
    }
}
