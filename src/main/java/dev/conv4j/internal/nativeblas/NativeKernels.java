package dev.conv4j.internal.nativeblas;

import dev.conv4j.Conv3dGeometry;
import dev.conv4j.ConvGeometry;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The checked entry to the native kernels. Loop bounds come from a validated {@link ConvGeometry};
 * every pointer is checked to hold the elements the kernel will touch, from its offset, before the
 * call, so no argument can make native code read or write outside the memory it was given. The
 * geometry and offsets reach the kernel in a parameter block the call holds ({@code NativeParams}):
 * the methods may be called from any number of threads at once, and a warm call allocates nothing.
 * Internal to conv4j.
 */
public final class NativeKernels {
    private NativeKernels() {
    }

    /**
     * Floats of the packing buffer the band passes take to run their products on conv4j's own
     * AVX-512 or AVX2 kernels, or 0 where they cannot run (neither, or {@code -Dconv4j.gemm=openblas}):
     * then they take {@code null} and every product goes to OpenBLAS.
     */
    public static long gemmPackSize() {
        return GemmPack.FLOATS;
    }

    /**
     * {@link #gemmPackSize()} for products of this many rows and columns, of a transposed first
     * factor or not; 0 for those that go to OpenBLAS anyway.
     */
    public static long gemmPackSize(long rows, long columns, boolean transposedA) {
        boolean used = columns >= GemmPack.MIN_COLUMNS || (transposedA && rows >= GemmPack.MIN_TRANSPOSED_ROWS);
        return used ? GemmPack.FLOATS : 0;
    }

    /** Asked once: the CPU does not change. */
    private static final class GemmPack {
        static final long FLOATS = "openblas".equals(System.getProperty("conv4j.gemm")) ? 0 : ConvNative.conv4j_gemm_pack_size();
        static final int MIN_COLUMNS = ConvNative.conv4j_gemm_min_columns();
        static final int MIN_TRANSPOSED_ROWS = ConvNative.conv4j_gemm_min_transposed_rows();
    }

    /** The packing buffer to pass native code: null unless there is one, checked to be large enough. */
    private static FloatPointer pack(FloatPointer pack) {
        if (pack == null || gemmPackSize() == 0) {
            return null;
        }
        check(pack, 0, gemmPackSize(), "gemm packing workspace");
        return pack;
    }

    /**
     * Forward of output rows [oh0, oh0+rows) and output channels [o0, o0+on) of group {@code grp} of
     * image {@code n}; {@code pack} is null or holds {@link #gemmPackSize()} floats.
     */
    public static void forwardBand(ConvGeometry g, FloatPointer x, FloatPointer w, FloatPointer bias, FloatPointer y,
                                   FloatPointer col, FloatPointer pack, int n, int grp, int o0, int on, int oh0, int rows) {
        forwardBand(g, x, w, bias, y, col, pack, n, grp, o0, on, oh0, rows, false);
    }

    /**
     * The same, where {@code columnsReady} says that {@code col} already holds the column matrix of
     * this image, group and band (built by an earlier call for another block of output channels).
     *
     * @return whether {@code col} holds that matrix after the call (false when the product gathered
     *         it from the image instead, or the kernel is pointwise)
     */
    public static boolean forwardBand(ConvGeometry g, FloatPointer x, FloatPointer w, FloatPointer bias, FloatPointer y,
                                      FloatPointer col, FloatPointer pack, int n, int grp, int o0, int on, int oh0, int rows,
                                      boolean columnsReady) {
        checkBand(g, oh0, rows);
        checkRange(o0, on, g.og, "output channel block");
        checkRange(n, 1, g.n, "image");
        checkRange(grp, 1, g.groups, "group");
        boolean pw = g.isPointwise();
        long oc = (long) grp * g.og + o0;
        long xoff = ((long) n * g.c + (long) grp * g.cg) * g.inPlane();
        long woff = oc * g.k;
        long yoff = ((long) n * g.o + oc) * g.outPlane();
        check(x, xoff, (long) g.cg * g.inPlane(), "x");
        check(w, woff, (long) on * g.k, "w");
        check(y, yoff, (long) on * g.outPlane(), "y");
        if (bias != null) {
            check(bias, oc, on, "bias");
        }
        if (!pw) {
            check(col, 0, (long) g.k * rows * g.ow, "column workspace");
        }
        FloatPointer packing = pack(pack);
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.cg, on).offsets(xoff, woff, oc, yoff).band(0, oh0, rows, pw, columnsReady && !pw, 0f);
            return ConvNative.conv4j_forward_band(p.memory, x, w, bias, y, pw ? null : col, packing) != 0;
        }
    }

    /**
     * Adds the input gradient of channels [c0, c0+cn) of group {@code grp} of image {@code n}
     * coming from output rows [oh0, oh0+rows). A pointwise layer's band of gx is written directly:
     * overwritten, or added to with {@code accumulate}.
     */
    public static void backwardDataBand(ConvGeometry g, FloatPointer gy, FloatPointer w, FloatPointer gx,
                                        FloatPointer col, FloatPointer pack, int n, int grp, int c0, int cn, int oh0, int rows,
                                        boolean accumulate) {
        checkBand(g, oh0, rows);
        checkRange(c0, cn, g.cg, "channel block");
        boolean pw = g.isPointwise();
        int khkw = g.kh * g.kw;
        long gyoff = ((long) n * g.o + (long) grp * g.og) * g.outPlane();
        long woff = (long) grp * g.og * g.k + (long) c0 * khkw;
        long gxoff = ((long) n * g.c + (long) grp * g.cg + c0) * g.inPlane();
        check(gy, gyoff, (long) g.og * g.outPlane(), "gy");
        check(w, woff, (long) (g.og - 1) * g.k + (long) cn * khkw, "w");
        check(gx, gxoff, (long) cn * g.inPlane(), "gx");
        if (!pw) {
            check(col, 0, (long) cn * khkw * rows * g.ow, "column workspace");
        }
        FloatPointer packing = pack(pack);
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.cg, g.og).offsets(gyoff, woff, gxoff, 0).band(cn, oh0, rows, pw, false, accumulate ? 1f : 0f);
            ConvNative.conv4j_backward_data_band(p.memory, gy, w, gx, pw ? null : col, packing);
        }
    }

    /**
     * {@code gw[group grp, channels c0..c0+cn) = beta * gw + gy band * col^T} for output rows
     * [oh0, oh0+rows) of image {@code n}.
     */
    public static void backwardWeightsBand(ConvGeometry g, FloatPointer x, FloatPointer gy, FloatPointer gw,
                                           FloatPointer col, FloatPointer pack, int n, int grp, int c0, int cn, int o0, int on,
                                           int oh0, int rows, boolean accumulate) {
        checkBand(g, oh0, rows);
        checkRange(c0, cn, g.cg, "channel block");
        checkRange(o0, on, g.og, "output channel block");
        boolean pw = g.isPointwise();
        int khkw = g.kh * g.kw;
        long xoff = ((long) n * g.c + (long) grp * g.cg + c0) * g.inPlane();
        long gyoff = ((long) n * g.o + (long) grp * g.og + o0) * g.outPlane();
        long gwoff = ((long) grp * g.og + o0) * g.k + (long) c0 * khkw;
        check(x, xoff, (long) cn * g.inPlane(), "x");
        check(gy, gyoff, (long) on * g.outPlane(), "gy");
        check(gw, gwoff, (long) (on - 1) * g.k + (long) cn * khkw, "gw");
        if (!pw) {
            check(col, 0, (long) cn * khkw * rows * g.ow, "column workspace");
        }
        FloatPointer packing = pack(pack);
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.cg, on).offsets(xoff, gyoff, gwoff, 0).band(cn, oh0, rows, pw, false, accumulate ? 1f : 0f);
            ConvNative.conv4j_backward_weights_band(p.memory, x, gy, gw, pw ? null : col, packing);
        }
    }

    /** Depthwise forward of output channels [o0, o0+on) of image {@code n}. */
    public static void depthwiseForward(ConvGeometry g, FloatPointer x, FloatPointer w, FloatPointer bias,
                                        FloatPointer y, int n, int o0, int on) {
        checkDepthwise(g);
        checkRange(o0, on, g.o, "output channel block");
        long xoff = (long) n * g.c * g.inPlane(), yoff = (long) n * g.o * g.outPlane();
        check(x, xoff, (long) g.c * g.inPlane(), "x");
        check(w, 0, (long) g.o * g.kh * g.kw, "w");
        check(y, yoff, (long) g.o * g.outPlane(), "y");
        if (bias != null) {
            check(bias, 0, g.o, "bias");
        }
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.c, g.o).offsets(xoff, 0, 0, yoff).channels(o0, on, false);
            ConvNative.conv4j_dw_forward(p.memory, x, w, bias, y);
        }
    }

    /**
     * Output rows per band of {@link #depthwiseLayouts} ({@code conv4j_dw_layouts_rows}): as many as keep
     * the padded input band within 4096 pixels, at least 1, at most {@code rows}.
     */
    static int depthwiseLayoutsRows(ConvGeometry g, int rows) {
        long wp = (long) (g.ow - 1) * g.strideW + (long) (g.kw - 1) * g.dilationW + 1, fit = 4096 / Math.max(1, wp);
        long span = (long) (g.kh - 1) * g.dilationH;
        long r = fit > span ? (fit - 1 - span) / g.strideH + 1 : 1;
        return (int) Math.max(1, Math.min(r, rows));
    }

    /**
     * Floats of scratch {@link #depthwiseLayouts} needs for bands of up to {@code rows} output rows
     * ({@code conv4j_dw_layouts_floats}): the padded band of NCHW input and a block's kernels.
     */
    public static long depthwiseLayoutsScratchSize(ConvGeometry g, int rows) {
        int r = depthwiseLayoutsRows(g, rows);
        long hb = (long) (r - 1) * g.strideH + (long) (g.kh - 1) * g.dilationH + 1;
        long wp = (long) (g.ow - 1) * g.strideW + (long) (g.kw - 1) * g.dilationW + 1;
        return 16 * (hb * wp + 8L * g.strideW) + 16L * g.kh * g.kw;
    }

    /** {@link #depthwiseLayoutsScratchSize} as the native library computes it, for the tests. */
    static long nativeDepthwiseLayoutsScratchSize(ConvGeometry g, int rows) {
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.c, g.o);
            return ConvNative.conv4j_dw_layouts_scratch(p.memory, rows);
        }
    }

    /**
     * Output rows [oh0, oh0+rows) of channel blocks [b0, b0+bn) (16 channels each) of image {@code n} of a
     * depthwise layer with one output channel per input channel, x, y and the residual {@code res} (or
     * null; it may be y itself) in the given layouts, with bias (or null), residual and the clamp to
     * [lo, hi] when {@code clamp}, applied as {@link #blockedForward} applies them. The sums are those of
     * {@link #depthwiseForward}, term for term. Scratch holds {@link #depthwiseLayoutsScratchSize} floats
     * for {@code rows}. Only where {@link #blockedFast()}: the generic variant has no such kernel.
     */
    public static void depthwiseLayouts(ConvGeometry g, FloatPointer x, int xLayout, FloatPointer w, FloatPointer bias,
                                        FloatPointer res, int rLayout, FloatPointer y, int yLayout, FloatPointer scratch, int n,
                                        int oh0, int rows, int b0, int bn, boolean clamp, float lo, float hi) {
        if (!g.isDepthwise() || g.o != g.c) {
            throw new IllegalArgumentException("the depthwise kernel in any layout takes one output channel per input channel: " + g);
        }
        if (!blockedFast()) {
            throw new IllegalStateException("the depthwise kernel in any layout needs the AVX2 or AVX-512 variants; running: " + isa());
        }
        checkLayout(xLayout, "x");
        checkLayout(yLayout, "y");
        checkLayout(rLayout, "residual");
        checkRange(n, 1, g.n, "image");
        checkBand(g, oh0, rows);
        checkRange(b0, bn, ceilDiv(g.c, 16), "channel block");
        long xImage = imageSize(xLayout, g.c, g.inPlane()), yImage = imageSize(yLayout, g.o, g.outPlane());
        long rImage = imageSize(rLayout, g.o, g.outPlane());
        check(x, n * xImage, xImage, "x");
        check(w, 0, (long) g.o * g.kh * g.kw, "w");
        check(y, n * yImage, yImage, "y");
        check(scratch, 0, depthwiseLayoutsScratchSize(g, rows), "depthwise scratch");
        if (bias != null) {
            check(bias, 0, g.o, "bias");
        }
        if (res != null) {
            check(res, n * rImage, rImage, "residual");
        }
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.c, g.o).blocked(n * xImage, 0, 0, n * yImage, res == null ? 0 : n * rImage, 0, xLayout, yLayout, rLayout,
                    oh0, rows, b0, bn, res != null, clamp, lo, hi, false);
            ConvNative.conv4j_dw_forward_layouts(p.memory, x, w, bias, res, y, scratch);
        }
    }

    /** Floats of scratch {@link #directForward} needs: the padded input planes of one group, plus slack. */
    public static long directScratchSize(ConvGeometry g) {
        return (long) g.cg * ((long) g.oh + (long) (g.kh - 1) * g.dilationH) * ((long) g.ow + (long) (g.kw - 1) * g.dilationW) + 16;
    }

    /**
     * Forward of output channels [o0, o0+on) of group {@code grp} of image {@code n} by the direct
     * kernel for small stride-1 layers, with {@code scratch} of {@link #directScratchSize} floats.
     */
    public static void directForward(ConvGeometry g, FloatPointer x, FloatPointer w, FloatPointer bias, FloatPointer y,
                                     FloatPointer scratch, int n, int grp, int o0, int on) {
        if (g.strideH != 1 || g.strideW != 1) {
            throw new IllegalArgumentException("the direct kernel needs stride 1: " + g);
        }
        checkRange(n, 1, g.n, "image");
        checkRange(grp, 1, g.groups, "group");
        checkRange(o0, on, g.og, "output channel block");
        long xoff = ((long) n * g.c + (long) grp * g.cg) * g.inPlane();
        long woff = (long) grp * g.og * g.k;
        long yoff = ((long) n * g.o + (long) grp * g.og) * g.outPlane();
        check(x, xoff, (long) g.cg * g.inPlane(), "x");
        check(w, woff, (long) g.og * g.k, "w");
        check(y, yoff, (long) g.og * g.outPlane(), "y");
        check(scratch, 0, directScratchSize(g), "direct-kernel scratch");
        if (bias != null) {
            check(bias, (long) grp * g.og, g.og, "bias");
        }
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.cg, g.og).offsets(xoff, woff, (long) grp * g.og, yoff).channels(o0, on, false);
            ConvNative.conv4j_direct_forward(p.memory, x, w, bias, y, scratch);
        }
    }

    /** Activation layouts as the channel-blocked kernel numbers them ({@code CONV4J_LAYOUT_*}). */
    public static final int NCHW = 0, NHWC = 1, NCHW16C = 2;

    /*
     * The channel-blocked kernel computes a forward convolution. With `data` set, that convolution is
     * the input gradient of layer g (stride 1): of gy (O channels, OH x OW) into gx (C channels, H x W),
     * with the kernels transposed and turned by 180 degrees and the padding (K-1)·d - p, which may be
     * negative (the kernel treats every row and column outside the input as zero).
     */

    /** The instruction set of the native variants in use: {@code "AVX-512"}, {@code "AVX2"} or {@code "generic x86-64"}. */
    public static String isa() {
        switch (ConvNative.conv4j_isa_in_use()) {
            case 1:
                return "AVX-512";
            case 2:
                return "AVX2";
            default:
                return "generic x86-64";
        }
    }

    /** Whether the channel-blocked direct kernel's forward pass (and input gradient) runs a vector variant here, AVX-512 or AVX2 (else its plain loops). */
    public static boolean blockedFast() {
        return ConvNative.conv4j_isa_in_use() != 0;
    }

    /**
     * Whether the channel-blocked kernels run their AVX-512 variants here: the weight gradient has no
     * other vector variant (elsewhere it runs plain loops), and the forward tiles of AVX2 are narrower.
     */
    public static boolean blockedAvx512() {
        return ConvNative.conv4j_isa_in_use() == 1;
    }

    /** Weight groups (nb·16 output channels of the pass each) of the channel-blocked kernel. */
    public static int blockedGroups(ConvGeometry g, boolean data, int nb) {
        return ceilDiv(data ? g.c : g.o, 16 * nb);
    }

    /** Floats of the weights packed for the channel-blocked kernel. */
    public static long blockedWeightSize(ConvGeometry g, boolean data, int nb) {
        return (long) blockedGroups(g, data, nb) * ceilDiv(data ? g.o : g.c, 16) * g.kh * g.kw * 16 * 16 * nb;
    }

    /** Floats of scratch for a band of {@code rows} output rows of the pass: its padded input band in 16-channel blocks. */
    public static long blockedScratchSize(ConvGeometry g, boolean data, int rows) {
        int sh = data ? 1 : g.strideH, sw = data ? 1 : g.strideW, ow = data ? g.w : g.ow;
        long bandRows = (long) (rows - 1) * sh + (long) (g.kh - 1) * g.dilationH + 1;
        long bandCols = (long) (ow - 1) * sw + (long) (g.kw - 1) * g.dilationW + 1;
        return (long) ceilDiv(data ? g.o : g.c, 16) * 16 * bandRows * bandCols;
    }

    /**
     * Floats of scratch after the band where a group's weights pass 256 KiB: the band's tile sums, kept
     * between chunks of the reduction ({@code conv4j_blk_partial_floats}).
     */
    public static long blockedPartialSize(ConvGeometry g, boolean data, int nb, int rows) {
        long perBlock = (long) g.kh * g.kw * 16 * 16 * nb, chunk = Math.max(1, 65536 / perBlock);
        int px = nb == 4 ? 7 : 14, ow = data ? g.w : g.ow;
        return chunk < ceilDiv(data ? g.o : g.c, 16) ? (long) rows * ceilDiv(ow, px) * 56 * 16 : 0;
    }

    /**
     * Copies {@code n} images of {@code c} channels of h x w pixels from x in {@code xLayout} to y in
     * {@code yLayout} (bit-exact; NCHW16C padding channels of y written as 0). x and y must not overlap.
     */
    public static void blockedReorder(FloatPointer x, int xLayout, FloatPointer y, int yLayout, int n, int c, int h, int w) {
        checkLayout(xLayout, "x");
        checkLayout(yLayout, "y");
        if (n < 1 || c < 1 || h < 1 || w < 1) {
            throw new IllegalArgumentException("reorder of " + n + "x" + c + "x" + h + "x" + w + " images");
        }
        long plane = (long) h * w, xs = n * imageSize(xLayout, c, plane), ys = n * imageSize(yLayout, c, plane);
        check(x, 0, xs, "x");
        check(y, 0, ys, "y");
        long xa = x.address() + 4 * x.position(), ya = y.address() + 4 * y.position();
        if (xa < ya + 4 * ys && ya < xa + 4 * xs) {
            throw new IllegalArgumentException("reorder: x and y overlap");
        }
        try (NativeParams p = NativeParams.take()) {
            p.shape(n, c, h, w, c, 1, 1, h, w, 1, 1, 0, 0, 1, 1, 1)
                    .blocked(0, 0, 0, 0, 0, 2, xLayout, yLayout, NCHW, 0, h, 0, 0, false, false, 0f, 0f, false);
            ConvNative.conv4j_blk_reorder(p.memory, x, y);
        }
    }

    /**
     * Floats of scratch after the partial sums of a forward call that packs its weights inline: one
     * chunk of a group's packed weights ({@code conv4j_blk_inline_floats}).
     */
    public static long blockedInlineSize(ConvGeometry g, boolean data, int nb) {
        long perBlock = (long) g.kh * g.kw * 16 * 16 * nb, chunk = Math.max(1, 65536 / perBlock);
        return Math.min(chunk, ceilDiv(data ? g.o : g.c, 16)) * perBlock;
    }

    /** Floats one image of {@code c} channels of {@code plane} pixels takes in a layout. */
    public static long imageSize(int layout, int c, long plane) {
        return (layout == NCHW16C ? (long) ceilDiv(c, 16) * 16 : c) * plane;
    }

    private static int ceilDiv(long a, int b) {
        return (int) ((a + b - 1) / b);
    }

    private static void checkBlocked(ConvGeometry g, boolean data, int nb) {
        if (g.groups != 1 || (nb != 2 && nb != 4) || g.strideW > 2 || (data && (g.strideH != 1 || g.strideW != 1))) {
            throw new IllegalArgumentException("the channel-blocked kernel takes dense layers of stride width 1 or 2"
                    + " (stride 1 for the input gradient): " + g);
        }
    }

    private static void checkLayout(int layout, String what) {
        if (layout < NCHW || layout > NCHW16C) {
            throw new IllegalArgumentException(what + " layout " + layout);
        }
    }

    /** The pass's shape as the kernel takes it. */
    private static NativeParams blockedShape(NativeParams p, ConvGeometry g, boolean data) {
        if (!data) {
            return p.layer(g, g.c, g.o);
        }
        return p.shape(g.n, g.o, g.oh, g.ow, g.c, g.kh, g.kw, g.h, g.w, 1, 1, (g.kh - 1) * g.dilationH - g.padTop,
                (g.kw - 1) * g.dilationW - g.padLeft, g.dilationH, g.dilationW, 1);
    }

    /** Packs weight groups [g0, g0+gn) of the OIHW weights {@code w} into {@code wp} for the channel-blocked kernel's pass. */
    public static void blockedPack(ConvGeometry g, boolean data, int nb, FloatPointer w, FloatPointer wp, int g0, int gn) {
        checkBlocked(g, data, nb);
        checkRange(g0, gn, blockedGroups(g, data, nb), "weight group");
        check(w, 0, (long) g.o * g.k, "w");
        check(wp, 0, blockedWeightSize(g, data, nb), "packed weights");
        try (NativeParams p = NativeParams.take()) {
            blockedShape(p, g, data).blocked(0, 0, 0, 0, 0, nb, NCHW, NCHW, NCHW, 0, 1, g0, gn, false, false, 0f, 0f, data);
            ConvNative.conv4j_blk_pack(p.memory, w, wp);
        }
    }

    /**
     * Output rows [oh0, oh0+rows) of the pass for image {@code n}, weight groups [g0, g0+gn) (nb·16 output
     * channels each), by the channel-blocked kernel: forward, x into y; with {@code data}, the input gradient, gy (as x) into gx (as y).
     * x, y and the residual {@code res} (or null; it may be y itself) come in the given layouts, {@code wp}
     * packed by {@link #blockedPack} for the same pass, bias or null; the result is clamped to [lo, hi]
     * when {@code clamp}. Scratch holds {@link #blockedScratchSize} floats for {@code rows}.
     */
    public static void blockedForward(ConvGeometry g, boolean data, int nb, boolean packInline, FloatPointer x, int xLayout,
                                      FloatPointer wp, FloatPointer bias, FloatPointer res, int rLayout, FloatPointer y,
                                      int yLayout, FloatPointer scratch, int n, int oh0, int rows, int g0, int gn, boolean clamp,
                                      float lo, float hi) {
        checkBlocked(g, data, nb);
        checkLayout(xLayout, "x");
        checkLayout(yLayout, "y");
        checkLayout(rLayout, "residual");
        int xc = data ? g.o : g.c, yc = data ? g.c : g.o;
        long xPlane = data ? g.outPlane() : g.inPlane(), yPlane = data ? g.inPlane() : g.outPlane();
        checkRange(n, 1, g.n, "image");
        checkRange(oh0, rows, data ? g.h : g.oh, "output row band");
        checkRange(g0, gn, blockedGroups(g, data, nb), "weight group");
        long xImage = imageSize(xLayout, xc, xPlane), yImage = imageSize(yLayout, yc, yPlane), rImage = imageSize(rLayout, yc, yPlane);
        check(x, n * xImage, xImage, "x");
        if (packInline) {
            check(wp, 0, (long) g.o * g.k, "w");
        } else {
            check(wp, 0, blockedWeightSize(g, data, nb), "packed weights");
        }
        check(y, n * yImage, yImage, "y");
        check(scratch, 0, blockedScratchSize(g, data, rows) + blockedPartialSize(g, data, nb, rows)
                + (packInline ? blockedInlineSize(g, data, nb) : 0), "channel-blocked scratch");
        if (bias != null) {
            check(bias, 0, yc, "bias");
        }
        if (res != null) {
            check(res, n * rImage, rImage, "residual");
        }
        try (NativeParams p = NativeParams.take()) {
            blockedShape(p, g, data).blocked(n * xImage, 0, 0, n * yImage, res == null ? 0 : n * rImage, nb, xLayout, yLayout,
                    rLayout, oh0, rows, g0, gn, res != null, clamp, lo, hi, packInline && data); // flip: packing the input gradient's weights
            if (packInline) {
                p.packInline();
            }
            ConvNative.conv4j_blk_forward(p.memory, x, wp, bias, res, y, scratch);
        }
    }

    /**
     * Floats of scratch of a weight-gradient call of the channel-blocked kernel over {@code cbn} input by
     * {@code obn} output blocks ({@code conv4j_blk_weights_scratch}).
     */
    public static long blockedWeightsScratchSize(ConvGeometry g, int cbn, int obn) {
        return (blockedScratchSize(g, false, g.oh) / ceilDiv(g.c, 16) / 16 + (long) obn * g.outPlane()
                + (16L * g.kh * g.kw * cbn + 1) * obn) * 16;
    }

    /**
     * The weight gradient of the output channels of blocks [ob, ob+obn) by the input channels of blocks
     * [cb, cb+cbn), blocks of 16, over the whole batch by the channel-blocked kernel (dense layers, kernel
     * width up to 7), x and gy in the given layouts; with {@code gb} (taken where cb is 0) also the bias
     * gradient of the output blocks; {@code accumulate} adds to gw and gb.
     */
    public static void blockedWeights(ConvGeometry g, FloatPointer x, int xLayout, FloatPointer gy, int gyLayout, FloatPointer gw,
                                      FloatPointer gb, FloatPointer scratch, int ob, int obn, int cb, int cbn, boolean accumulate) {
        if (g.groups != 1 || g.kw > 7) {
            throw new IllegalArgumentException("the channel-blocked weight gradient takes dense layers of kernel width up to 7: " + g);
        }
        checkLayout(xLayout, "x");
        checkLayout(gyLayout, "gy");
        checkRange(ob, obn, ceilDiv(g.o, 16), "output channel blocks");
        checkRange(cb, cbn, ceilDiv(g.c, 16), "input channel blocks");
        check(x, 0, g.n * imageSize(xLayout, g.c, g.inPlane()), "x");
        check(gy, 0, g.n * imageSize(gyLayout, g.o, g.outPlane()), "gy");
        check(gw, 0, (long) g.o * g.k, "gw");
        check(scratch, 0, blockedWeightsScratchSize(g, cbn, obn), "channel-blocked scratch");
        if (gb != null) {
            check(gb, 0, g.o, "gbias");
        }
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.c, g.o).blocked(0, 0, 0, 0, 0, 2, xLayout, gyLayout, NCHW, cb, cbn, ob, obn, accumulate, false, 0f, 0f,
                    false);
            ConvNative.conv4j_blk_weights(p.memory, x, gy, gw, cb == 0 ? gb : null, scratch);
        }
    }

    /** Depthwise input gradient of input channels [c0, c0+cn) of image {@code n}. */
    public static void depthwiseBackwardData(ConvGeometry g, FloatPointer gy, FloatPointer w, FloatPointer gx,
                                             int n, int c0, int cn, boolean accumulate) {
        checkDepthwise(g);
        checkRange(c0, cn, g.c, "channel block");
        long gyoff = (long) n * g.o * g.outPlane(), gxoff = (long) n * g.c * g.inPlane();
        check(gy, gyoff, (long) g.o * g.outPlane(), "gy");
        check(w, 0, (long) g.o * g.kh * g.kw, "w");
        check(gx, gxoff, (long) g.c * g.inPlane(), "gx");
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.c, g.o).offsets(gyoff, 0, gxoff, 0).channels(c0, cn, accumulate);
            ConvNative.conv4j_dw_backward_data(p.memory, gy, w, gx);
        }
    }

    /** Depthwise weight gradient of output channels [o0, o0+on), summed over the batch. */
    public static void depthwiseBackwardWeights(ConvGeometry g, FloatPointer x, FloatPointer gy, FloatPointer gw,
                                                int o0, int on, boolean accumulate) {
        checkDepthwise(g);
        checkRange(o0, on, g.o, "output channel block");
        check(x, 0, (long) g.n * g.c * g.inPlane(), "x");
        check(gy, 0, (long) g.n * g.o * g.outPlane(), "gy");
        check(gw, 0, (long) g.o * g.kh * g.kw, "gw");
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.c, g.o).offsets(0, 0, 0, 0).channels(o0, on, accumulate);
            ConvNative.conv4j_dw_backward_weights(p.memory, x, gy, gw);
        }
    }

    /*
     * Winograd F(m x m, 3x3) with tile size m = 2 or 4: transforms hold a² planes, a = m + 2, each
     * conv4j_wino_plane apart.
     */

    /** Elements of the Winograd weight transform U (a² planes of O x C) of a layer. */
    public static long winogradWeightSize(ConvGeometry g, int m) {
        return planes(m) * winogradPlane((long) g.o * g.c);
    }

    /**
     * Elements of the Winograd input transform, and of the products, of {@code tiles} tiles in either
     * pass (a² planes of max(C, O) rows).
     */
    public static long winogradTransformSize(ConvGeometry g, int tiles, int m) {
        return planes(m) * winogradPlane((long) Math.max(g.c, g.o) * rowLength(tiles));
    }

    /** The row length of transform planes of {@code tiles} tiles, as {@code conv4j_wino_ld} computes it. */
    private static long rowLength(int tiles) {
        return ((long) tiles + 15) & ~15L;
    }

    /** The distance between transform planes of n floats, as {@code conv4j_wino_plane} computes it. */
    private static long winogradPlane(long n) {
        return ((n + 15) & ~15L) + 16;
    }

    private static long planes(int m) {
        checkTile(m);
        return (long) (m + 2) * (m + 2);
    }

    /** Tiles (m x m output blocks) of the whole batch. */
    public static long winogradTileCount(ConvGeometry g, int m) {
        checkTile(m);
        return (long) g.n * ((g.oh + m - 1) / m) * ((g.ow + m - 1) / m);
    }

    /** {@link #winogradTileCount}, which must fit an int for the Winograd kernels. */
    public static int winogradTiles(ConvGeometry g, int m) {
        long tiles = winogradTileCount(g, m);
        if (tiles > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Winograd needs fewer than 2^31 tiles, " + g + " has " + tiles);
        }
        return (int) tiles;
    }

    /**
     * U = G w Gᵀ for every output and input channel, into {@code u} (a² x O x C); with {@code flip},
     * of every kernel turned by 180 degrees, for {@link #winogradBackwardDataTiles}.
     */
    public static void winogradWeights(ConvGeometry g, FloatPointer w, FloatPointer u, int m, boolean flip) {
        winogradWeights(g, w, u, m, flip, 0, (long) g.o * g.c);
    }

    /** As {@link #winogradWeights(ConvGeometry, FloatPointer, FloatPointer, int, boolean)}, for weights [j0, j0+jn) of the O·C. */
    public static void winogradWeights(ConvGeometry g, FloatPointer w, FloatPointer u, int m, boolean flip, long j0, long jn) {
        checkWinograd(g);
        long oc = (long) g.o * g.c;
        if (j0 < 0 || jn < 0 || j0 + jn > oc) {
            throw new IllegalArgumentException("weight range [" + j0 + ", " + (j0 + jn) + ") is outside [0, " + oc + ")");
        }
        check(w, 0, oc * 9, "w");
        check(u, 0, winogradWeightSize(g, m), "Winograd weight workspace");
        try (NativeParams p = NativeParams.take()) {
            p.layer(g, g.c, g.o).offsets(0, 0, 0, 0).weights(m, flip, j0, jn);
            ConvNative.conv4j_wino_weights(p.memory, w, u);
        }
    }

    /** Floats of row scratch the Winograd transforms need: 2a rows of m·tiles-per-row + 2, for either pass. */
    public static long winogradScratchSize(ConvGeometry g, int m) {
        checkTile(m);
        return 2L * (m + 2) * ((long) m * ((Math.max(g.ow, g.w) + m - 1) / m) + 2);
    }

    /** Tiles (m x m blocks of the input gradient) of the whole batch, for {@link #winogradBackwardDataTiles}. */
    public static long winogradBackwardTileCount(ConvGeometry g, int m) {
        checkTile(m);
        return (long) g.n * ((g.h + m - 1) / m) * ((g.w + m - 1) / m);
    }

    /**
     * The input gradient of tiles [t0, t0+tc) of the batch by Winograd F(m x m, 3x3): the convolution
     * of gy with the kernels turned by 180 degrees and transposed, padded by 2 - pad (negative padding
     * crops). {@code u} is the flipped transform ({@link #winogradWeights} with flip); the workspaces
     * are those of a forward pass with C and O swapped. Input channels [c0, c0+cn) of gx are stored into,
     * or added to with accumulate. With {@code raw}, the untransformed weights, tiles that come out
     * non-finite are recomputed from the definition (see {@code native/winograd/winograd.h}), checked only
     * where gy or the weights ({@code rawTop}, the {@link #maxBits} of {@code raw}) hold non-finite
     * or large values; null keeps Winograd's raw values.
     */
    public static void winogradBackwardDataTiles(ConvGeometry g, FloatPointer gy, FloatPointer u, FloatPointer gx,
                                                 FloatPointer v, FloatPointer mp, FloatPointer scratch,
                                                 int t0, int tc, int m, boolean accumulate, int c0, int cn, FloatPointer raw,
                                                 int rawTop) {
        checkWinograd(g);
        long tiles = winogradBackwardTileCount(g, m);
        if (tiles > Integer.MAX_VALUE || g.h >= 1 << 30 || g.w >= 1 << 30) {
            throw new IllegalArgumentException("Winograd input gradient too large for " + g);
        }
        checkWinogradCall(g, u, v, mp, scratch, t0, tc, (int) tiles, m);
        checkRange(c0, cn, g.c, "input channel block");
        check(gy, 0, (long) g.n * g.o * g.outPlane(), "gy");
        check(gx, 0, (long) g.n * g.c * g.inPlane(), "gx");
        if (raw != null) {
            check(raw, 0, (long) g.o * g.c * 9, "w");
        }
        try (NativeParams p = NativeParams.take()) {
            // the convolution of gy (O channels of oh x ow) into C channels of h x w, padded by 2 - pad
            p.shape(g.n, g.o, g.oh, g.ow, g.c, 3, 3, g.h, g.w, 1, 1, 2 - g.padTop, 2 - g.padLeft, 1, 1, 1)
                    .offsets(0, 0, 0, 0).tiles(m, t0, tc, c0, cn, true, accumulate, rawTop);
            ConvNative.conv4j_wino_tiles(p.memory, gy, u, null, gx, v, mp, scratch, raw);
        }
    }

    /**
     * Forward of output channels [o0, o0+on) of tiles [t0, t0+tc) of the batch by Winograd F(m x m, 3x3), with workspaces v
     * and mp ({@link #winogradTransformSize}) and scratch
     * ({@link #winogradScratchSize}). With {@code raw}, the untransformed weights, tiles that come
     * out non-finite are recomputed from the definition, checked only where x or the weights
     * ({@code rawTop}, the {@link #maxBits} of {@code raw}) hold non-finite or large values; null
     * keeps Winograd's raw values.
     */
    public static void winogradForwardTiles(ConvGeometry g, FloatPointer x, FloatPointer u, FloatPointer bias,
                                            FloatPointer y, FloatPointer v, FloatPointer mp, FloatPointer scratch,
                                            int t0, int tc, int m, int o0, int on, FloatPointer raw, int rawTop) {
        checkWinograd(g);
        checkWinogradCall(g, u, v, mp, scratch, t0, tc, winogradTiles(g, m), m);
        checkRange(o0, on, g.o, "output channel block");
        check(x, 0, (long) g.n * g.c * g.inPlane(), "x");
        check(y, 0, (long) g.n * g.o * g.outPlane(), "y");
        if (bias != null) {
            check(bias, 0, g.o, "bias");
        }
        if (raw != null) {
            check(raw, 0, (long) g.o * g.c * 9, "w");
        }
        try (NativeParams p = NativeParams.take()) {
            p.shape(g.n, g.c, g.h, g.w, g.o, 3, 3, g.oh, g.ow, 1, 1, g.padTop, g.padLeft, 1, 1, 1)
                    .offsets(0, 0, 0, 0).tiles(m, t0, tc, o0, on, false, false, rawTop);
            ConvNative.conv4j_wino_tiles(p.memory, x, u, bias, y, v, mp, scratch, raw);
        }
    }

    private static void checkWinograd(ConvGeometry g) {
        if (!dev.conv4j.ConvAlgorithm.winogradApplies(g)) {
            throw new IllegalArgumentException("Winograd does not apply to " + g);
        }
    }

    /** The checks both Winograd passes share: the tile range, the transformed weights and the workspaces. */
    private static void checkWinogradCall(ConvGeometry g, FloatPointer u, FloatPointer v, FloatPointer mp, FloatPointer scratch,
                                          int t0, int tc, int tiles, int m) {
        checkRange(t0, tc, tiles, "tile range");
        if (tc > 1 << 24) {
            throw new IllegalArgumentException("Winograd tile chunk of " + tc + " tiles exceeds 2^24");
        }
        check(u, 0, winogradWeightSize(g, m), "Winograd weights");
        check(v, 0, winogradTransformSize(g, tc, m), "Winograd input workspace");
        check(mp, 0, winogradTransformSize(g, tc, m), "Winograd product workspace");
        check(scratch, 0, winogradScratchSize(g, m), "Winograd row scratch");
    }

    private static void checkTile(int m) {
        if (m != 2 && m != 4) {
            throw new IllegalArgumentException("Winograd tile size must be 2 or 4, got " + m);
        }
    }

    /**
     * The largest magnitude among {@code count} floats from {@code offset}, as the bits of a float with
     * the sign cleared: 0x7f800000 (the bits of +∞) or more when some value is infinite or NaN.
     */
    public static int maxBits(FloatPointer p, long offset, long count) {
        check(p, offset, count, "scanned memory");
        return ConvNative.conv4j_max_bits(p, offset, count);
    }

    /** Sets {@code count} elements from {@code offset} to {@code value}. */
    public static void fill(FloatPointer p, long offset, long count, float value) {
        check(p, offset, count, "fill target");
        ConvNative.conv4j_fill(p, offset, count, value);
    }

    /** The bias gradient of channels [c0, c0+cn): sums of gy over the batch and the output plane. */
    public static void channelSums(ConvGeometry g, FloatPointer gy, FloatPointer out, int c0, int cn,
                                   boolean accumulate) {
        checkRange(c0, cn, g.o, "channel block");
        check(gy, 0, (long) g.n * g.o * g.outPlane(), "gy");
        check(out, 0, g.o, "gbias");
        ConvNative.conv4j_channel_sums(gy, g.n, g.o, g.outPlane(), c0, cn, out, accumulate ? 1 : 0);
    }

    /** The OpenBLAS build string, e.g. {@code OpenBLAS 0.3.31 DYNAMIC_ARCH ... SkylakeX MAX_THREADS=64}. */
    public static String openblasConfig() {
        return ConvNative.openblas_get_config().getString();
    }

    /** The OpenBLAS kernel family chosen for this CPU at run time. */
    public static String openblasCore() {
        return ConvNative.openblas_get_corename().getString();
    }

    public static int openblasThreads() {
        return ConvNative.openblas_get_num_threads();
    }

    /** Sets OpenBLAS's own thread count; the setting is process-wide. */
    public static void setOpenblasThreads(int threads) {
        ConvNative.openblas_set_num_threads(threads);
    }

    /*
     * 3-D convolution by vol2col + GEMM (native/volume/): per image and group, over bands of output
     * rows counted through the OD·OH rows of OW outputs of each output channel.
     */

    /** Floats of the column matrix of a band of {@code rows} output rows over {@code cn} input channels of a 3-D layer. */
    public static long volumeColumns(Conv3dGeometry g, int cn, int rows) {
        return (long) cn * g.taps() * rows * g.ow;
    }

    /**
     * {@code y = W·col + bias} (or, with {@code accumulate}, {@code y += W·col + bias}) over output rows
     * [r0, r0+rows) of all the output channels of group {@code grp} of image {@code n}; {@code bias} may be
     * null; {@code col} holds {@link #volumeColumns} floats for the group's channels (null for a pointwise
     * layer), {@code pack} is null or holds {@link #gemmPackSize()} floats.
     */
    public static void volumeForwardBand(Conv3dGeometry g, FloatPointer x, FloatPointer w, FloatPointer bias, FloatPointer y,
                                         FloatPointer col, FloatPointer pack, int n, int grp, int r0, int rows,
                                         boolean accumulate) {
        checkRange(r0, rows, g.outRows(), "output row band");
        checkRange(n, 1, g.n, "image");
        checkRange(grp, 1, g.groups, "group");
        boolean pw = g.isPointwise();
        long oc = (long) grp * g.og;
        long xoff = ((long) n * g.c + (long) grp * g.cg) * g.inVolume();
        long woff = oc * g.k;
        long yoff = ((long) n * g.o + oc) * g.outVolume();
        check(x, xoff, (long) g.cg * g.inVolume(), "x");
        check(w, woff, (long) g.og * g.k, "w");
        check(y, yoff, (long) g.og * g.outVolume(), "y");
        if (bias != null) {
            check(bias, oc, g.og, "bias");
        }
        if (!pw) {
            check(col, 0, volumeColumns(g, g.cg, rows), "column workspace");
        }
        FloatPointer packing = pack(pack);
        try (NativeParams p = NativeParams.take()) {
            p.volume(g, g.cg, g.og).offsets(xoff, woff, oc, yoff).volumeBand(0, r0, rows, pw, accumulate ? 1f : 0f);
            ConvNative.conv4j_vol_forward_band(p.memory, x, w, bias, y, pw ? null : col, packing);
        }
    }

    /**
     * Adds the input gradient of channels [c0, c0+cn) of group {@code grp} of image {@code n} coming from
     * output rows [r0, r0+rows) ({@code Wᵀ·gy}, then col2vol). A pointwise layer's band of gx is written
     * directly: overwritten, or added to with {@code accumulate}; any other is always added to.
     */
    public static void volumeBackwardDataBand(Conv3dGeometry g, FloatPointer gy, FloatPointer w, FloatPointer gx,
                                              FloatPointer col, FloatPointer pack, int n, int grp, int c0, int cn, int r0,
                                              int rows, boolean accumulate) {
        checkRange(r0, rows, g.outRows(), "output row band");
        checkRange(n, 1, g.n, "image");
        checkRange(grp, 1, g.groups, "group");
        checkRange(c0, cn, g.cg, "channel block");
        boolean pw = g.isPointwise();
        long gyoff = ((long) n * g.o + (long) grp * g.og) * g.outVolume();
        long woff = (long) grp * g.og * g.k + (long) c0 * g.taps();
        long gxoff = ((long) n * g.c + (long) grp * g.cg + c0) * g.inVolume();
        check(gy, gyoff, (long) g.og * g.outVolume(), "gy");
        check(w, woff, (long) (g.og - 1) * g.k + (long) cn * g.taps(), "w");
        check(gx, gxoff, (long) cn * g.inVolume(), "gx");
        if (!pw) {
            check(col, 0, volumeColumns(g, cn, rows), "column workspace");
        }
        FloatPointer packing = pack(pack);
        try (NativeParams p = NativeParams.take()) {
            p.volume(g, g.cg, g.og).offsets(gyoff, woff, gxoff, 0).volumeBand(cn, r0, rows, pw, accumulate ? 1f : 0f);
            ConvNative.conv4j_vol_backward_data_band(p.memory, gy, w, gx, pw ? null : col, packing);
        }
    }

    /**
     * {@code gw[group grp, channels c0..c0+cn) = beta * gw + gy band · colᵀ} over output rows [r0, r0+rows)
     * of image {@code n}, beta 1 with {@code accumulate}, else 0.
     */
    public static void volumeBackwardWeightsBand(Conv3dGeometry g, FloatPointer x, FloatPointer gy, FloatPointer gw,
                                                 FloatPointer col, FloatPointer pack, int n, int grp, int c0, int cn, int r0,
                                                 int rows, boolean accumulate) {
        checkRange(r0, rows, g.outRows(), "output row band");
        checkRange(n, 1, g.n, "image");
        checkRange(grp, 1, g.groups, "group");
        checkRange(c0, cn, g.cg, "channel block");
        boolean pw = g.isPointwise();
        long xoff = ((long) n * g.c + (long) grp * g.cg + c0) * g.inVolume();
        long gyoff = ((long) n * g.o + (long) grp * g.og) * g.outVolume();
        long gwoff = (long) grp * g.og * g.k + (long) c0 * g.taps();
        check(x, xoff, (long) cn * g.inVolume(), "x");
        check(gy, gyoff, (long) g.og * g.outVolume(), "gy");
        check(gw, gwoff, (long) (g.og - 1) * g.k + (long) cn * g.taps(), "gw");
        if (!pw) {
            check(col, 0, volumeColumns(g, cn, rows), "column workspace");
        }
        FloatPointer packing = pack(pack);
        try (NativeParams p = NativeParams.take()) {
            p.volume(g, g.cg, g.og).offsets(xoff, gyoff, gwoff, 0).volumeBand(cn, r0, rows, pw, accumulate ? 1f : 0f);
            ConvNative.conv4j_vol_backward_weights_band(p.memory, x, gy, gw, pw ? null : col, packing);
        }
    }

    /**
     * The bias gradient of output channels [c0, c0+cn) of a 3-D layer: the sums of gy over the batch and
     * the output volume, one value at a time in double in index order (as the Java engines sum them).
     */
    public static void volumeChannelSums(Conv3dGeometry g, FloatPointer gy, FloatPointer gbias, int c0, int cn,
                                         boolean accumulate) {
        checkRange(c0, cn, g.o, "channel block");
        check(gy, 0, (long) g.n * g.o * g.outVolume(), "gy");
        check(gbias, 0, g.o, "gbias");
        ConvNative.conv4j_vol_channel_sums(gy, g.n, g.o, g.outVolume(), c0, cn, gbias, accumulate ? 1 : 0);
    }

    private static void checkDepthwise(ConvGeometry g) {
        if (g.cg != 1) {
            throw new IllegalArgumentException("depthwise kernel needs one input channel per group: " + g);
        }
    }

    private static void checkBand(ConvGeometry g, int oh0, int rows) {
        checkRange(oh0, rows, g.oh, "output row band");
    }

    private static void checkRange(int start, int count, int limit, String what) {
        if (start < 0 || count < 1 || (long) start + count > limit) {
            throw new IllegalArgumentException(what + " [" + start + ", " + ((long) start + count)
                    + ") is outside [0, " + limit + ")");
        }
    }

    private static void check(FloatPointer p, long offset, long count, String what) {
        if (p == null || p.isNull()) {
            throw new IllegalArgumentException(what + " pointer is null");
        }
        long avail = p.limit() - p.position();
        if (offset < 0 || count < 0 || offset + count > avail) {
            throw new IllegalArgumentException(what + ": elements [" + offset + ", " + (offset + count)
                    + ") do not lie inside its " + avail + " elements");
        }
    }
}
