package dev.conv4j.internal.nativeblas;

import dev.conv4j.Conv3dGeometry;
import dev.conv4j.ConvGeometry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The parameters of one native call: a block of native memory holding one of the structs of
 * {@code native/common/conv4j_params.h} (the geometry, the element offsets of the arrays, the family's
 * own fields), written through a direct buffer over it and passed to the kernel as one pointer.
 *
 * <p>A call holds its block from {@link #take()} until {@link #close()}: the blocks come from a pool
 * that any thread, platform or virtual, takes from and gives back to without locks, so a warm call
 * allocates nothing, and concurrent calls never share a block. The pool grows to the most calls in
 * native code at once (at most {@link #SLOTS} blocks are kept). The byte offsets below are the C
 * structs'; the native library checks its own against them when it loads ({@link #checkLayout()}).
 * Internal to conv4j.
 */
final class NativeParams implements AutoCloseable {
    /* conv4j_conv_shape, at the start of every struct */
    static final int N = 0, C = 4, H = 8, W = 12, O = 16, KH = 20, KW = 24, OH = 28, OW = 32;
    static final int SH = 36, SW = 40, PT = 44, PL = 48, DH = 52, DW = 56, MULT = 60;
    /** {@code int64_t off[4]}: the element offsets of the array arguments, in the order the function takes them. */
    static final int OFF = 64;
    /* conv4j_band_params */
    static final int BAND_CN = 96, BAND_OH0 = 100, BAND_ROWS = 104, BAND_POINTWISE = 108, BAND_READY = 112, BAND_BETA = 116;
    /* conv4j_dw_params and conv4j_direct_params */
    static final int FIRST = 96, COUNT = 100, DW_ACCUMULATE = 104;
    /* conv4j_wino_params */
    static final int WINO_M = 96, WINO_T0 = 100, WINO_TC = 104, WINO_FIRST = 108, WINO_COUNT = 112, WINO_TRANSPOSE_U = 116,
            WINO_ACCUMULATE = 120, WINO_W_TOP = 124, WINO_FLIP = 128, WINO_J0 = 136, WINO_JN = 144;
    /* conv4j_blk_params (its offsets are five: x, packed weights, bias, y, residual) */
    static final int BLK_NB = 104, BLK_X_LAYOUT = 108, BLK_Y_LAYOUT = 112, BLK_R_LAYOUT = 116, BLK_OH0 = 120, BLK_ROWS = 124,
            BLK_G0 = 128, BLK_GN = 132, BLK_RESIDUAL = 136, BLK_CLAMP = 140, BLK_LO = 144, BLK_HI = 148, BLK_FLIP = 152,
            BLK_PACK_INLINE = 156;
    /* conv4j_vol_params (its offsets are four, as the band's) */
    static final int VOL_D = 96, VOL_KD = 100, VOL_OD = 104, VOL_SD = 108, VOL_PF = 112, VOL_DD = 116, VOL_CN = 120,
            VOL_R0 = 124, VOL_ROWS = 128, VOL_POINTWISE = 132, VOL_BETA = 136;
    /** sizeof of each family's struct: band, depthwise, direct, Winograd, blocked, volume (the order of conv4j_params_size). */
    static final int[] SIZES = {120, 112, 104, 152, 160, 144};
    private static final int BYTES = 256;

    /** Blocks kept for reuse: enough for every thread of a busy machine to be in native code at once. */
    static final int SLOTS = Integer.highestOneBit(Math.max(64, 8 * Runtime.getRuntime().availableProcessors()) * 2 - 1);
    private static final AtomicReferenceArray<NativeParams> FREE = new AtomicReferenceArray<>(SLOTS);

    /** The struct, as the kernels take it. */
    final FloatPointer memory;
    private final ByteBuffer fields;

    private NativeParams() {
        memory = NativeMemory.allocate(BYTES / Float.BYTES);
        fields = memory.asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /**
     * A block for one call, to give back with {@link #close()}. Blocks are looked for from a slot
     * chosen by the thread, so a thread finds the one it gave back last at once; a new one is made
     * only when every kept block is in use.
     */
    static NativeParams take() {
        int start = slot();
        for (int i = 0; i < SLOTS; i++) {
            int s = (start + i) & (SLOTS - 1);
            NativeParams p = FREE.get(s);
            if (p != null && FREE.compareAndSet(s, p, null)) {
                return p;
            }
        }
        return new NativeParams();
    }

    /** Gives the block back; freed at once when the pool is full. */
    @Override
    public void close() {
        int start = slot();
        for (int i = 0; i < SLOTS; i++) {
            int s = (start + i) & (SLOTS - 1);
            if (FREE.get(s) == null && FREE.compareAndSet(s, null, this)) {
                return;
            }
        }
        NativeMemory.free(memory);
    }

    @SuppressWarnings("deprecation") // Thread.getId: threadId() is Java 19+
    private static int slot() {
        long id = Thread.currentThread().getId();
        return (int) ((id * 0x9E3779B97F4A7C15L) >>> 40);
    }

    /** The shape of the convolution as the kernel sees it ({@code conv4j_conv_shape}). */
    NativeParams shape(int n, int c, int h, int w, int o, int kh, int kw, int oh, int ow, int sh, int sw, int pt, int pl,
                       int dh, int dw, int mult) {
        fields.putInt(N, n).putInt(C, c).putInt(H, h).putInt(W, w).putInt(O, o).putInt(KH, kh).putInt(KW, kw)
                .putInt(OH, oh).putInt(OW, ow).putInt(SH, sh).putInt(SW, sw).putInt(PT, pt).putInt(PL, pl)
                .putInt(DH, dh).putInt(DW, dw).putInt(MULT, mult);
        return this;
    }

    /** The layer's shape with {@code c} input and {@code o} output channels as the kernel counts them. */
    NativeParams layer(ConvGeometry g, int c, int o) {
        return shape(g.n, c, g.h, g.w, o, g.kh, g.kw, g.oh, g.ow, g.strideH, g.strideW, g.padTop, g.padLeft, g.dilationH,
                g.dilationW, g.og);
    }

    /** The element offsets of the array arguments, in the order the function takes them. */
    NativeParams offsets(long a, long b, long c, long d) {
        fields.putLong(OFF, a).putLong(OFF + 8, b).putLong(OFF + 16, c).putLong(OFF + 24, d);
        return this;
    }

    /** The fields of {@code conv4j_band_params} after the offsets. */
    NativeParams band(int cn, int oh0, int rows, boolean pointwise, boolean ready, float beta) {
        fields.putInt(BAND_CN, cn).putInt(BAND_OH0, oh0).putInt(BAND_ROWS, rows).putInt(BAND_POINTWISE, pointwise ? 1 : 0)
                .putInt(BAND_READY, ready ? 1 : 0).putFloat(BAND_BETA, beta);
        return this;
    }

    /** The fields of {@code conv4j_dw_params} and {@code conv4j_direct_params}: a block of channels. */
    NativeParams channels(int first, int count, boolean accumulate) {
        fields.putInt(FIRST, first).putInt(COUNT, count).putInt(DW_ACCUMULATE, accumulate ? 1 : 0);
        return this;
    }

    /** The fields of {@code conv4j_wino_params} for the tiles. */
    NativeParams tiles(int m, int t0, int tc, int first, int count, boolean transposeU, boolean accumulate, int wTop) {
        fields.putInt(WINO_M, m).putInt(WINO_T0, t0).putInt(WINO_TC, tc).putInt(WINO_FIRST, first).putInt(WINO_COUNT, count)
                .putInt(WINO_TRANSPOSE_U, transposeU ? 1 : 0).putInt(WINO_ACCUMULATE, accumulate ? 1 : 0).putInt(WINO_W_TOP, wTop);
        return this;
    }

    /** The fields of {@code conv4j_wino_params} for the weight transform. */
    NativeParams weights(int m, boolean flip, long j0, long jn) {
        fields.putInt(WINO_M, m).putInt(WINO_FLIP, flip ? 1 : 0).putLong(WINO_J0, j0).putLong(WINO_JN, jn);
        return this;
    }

    /** The fields of {@code conv4j_blk_params}: five offsets, then the tile, layouts, band, groups and epilogue. */
    NativeParams blocked(long xOff, long wOff, long biasOff, long yOff, long rOff, int nb, int xLayout, int yLayout, int rLayout, int oh0, int rows, int g0, int gn,
                         boolean residual, boolean clamp, float lo, float hi, boolean flip) {
        fields.putLong(OFF, xOff).putLong(OFF + 8, wOff).putLong(OFF + 16, biasOff).putLong(OFF + 24, yOff).putLong(OFF + 32, rOff);
        fields.putInt(BLK_NB, nb).putInt(BLK_X_LAYOUT, xLayout).putInt(BLK_Y_LAYOUT, yLayout).putInt(BLK_R_LAYOUT, rLayout)
                .putInt(BLK_OH0, oh0).putInt(BLK_ROWS, rows).putInt(BLK_G0, g0).putInt(BLK_GN, gn)
                .putInt(BLK_RESIDUAL, residual ? 1 : 0).putInt(BLK_CLAMP, clamp ? 1 : 0).putFloat(BLK_LO, lo).putFloat(BLK_HI, hi)
                .putInt(BLK_FLIP, flip ? 1 : 0).putInt(BLK_PACK_INLINE, 0);
        return this;
    }

    /**
     * The shape of {@code conv4j_vol_params} for a 3-D layer with {@code c} input and {@code o} output
     * channels as the kernel counts them: height and width in the 2-D shape, depth after the offsets.
     */
    NativeParams volume(Conv3dGeometry g, int c, int o) {
        shape(g.n, c, g.h, g.w, o, g.kh, g.kw, g.oh, g.ow, g.strideH, g.strideW, g.padTop, g.padLeft, g.dilationH, g.dilationW, 1);
        fields.putInt(VOL_D, g.d).putInt(VOL_KD, g.kd).putInt(VOL_OD, g.od).putInt(VOL_SD, g.strideD).putInt(VOL_PF, g.padFront)
                .putInt(VOL_DD, g.dilationD);
        return this;
    }

    /** The fields of {@code conv4j_vol_params} after the depth: the channel block, the band of output rows, beta. */
    NativeParams volumeBand(int cn, int r0, int rows, boolean pointwise, float beta) {
        fields.putInt(VOL_CN, cn).putInt(VOL_R0, r0).putInt(VOL_ROWS, rows).putInt(VOL_POINTWISE, pointwise ? 1 : 0)
                .putFloat(VOL_BETA, beta);
        return this;
    }

    /** Sets the channel-blocked forward call's weights to be the layer's own, packed chunk by chunk into its scratch. */
    NativeParams packInline() {
        fields.putInt(BLK_PACK_INLINE, 1);
        return this;
    }

    /** An int at a byte offset, for the tests. */
    int intAt(int at) {
        return fields.getInt(at);
    }

    /**
     * Throws when the loaded native library's parameter structs differ from the layout written here:
     * a library of another version of conv4j (a stale copy in JavaCPP's cache, say) must not be called.
     */
    static void checkLayout() {
        for (int family = 0; family < SIZES.length; family++) {
            int size = ConvNative.conv4j_params_size(family);
            if (size != SIZES[family]) {
                throw new IllegalStateException("the native library's parameter struct " + family + " has " + size
                        + " bytes where conv4j writes " + SIZES[family] + ": the library belongs to another version of conv4j");
            }
        }
    }
}
