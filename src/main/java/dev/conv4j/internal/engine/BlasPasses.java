package dev.conv4j.internal.engine;

import dev.conv4j.ConvGeometry;
import dev.conv4j.internal.nativeblas.NativeKernels;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The three passes of the blas engine as numbered units of work (see {@link Partition}), shared by
 * {@link BlasEngine} (per-thread scratch) and {@link BlasPlan} (scratch owned by the plan). Units of
 * one pass write disjoint parts of the output, so they may run in any order on any thread.
 */
final class BlasPasses {
    /** Kinds of scratch buffer. */
    static final int COLUMNS = 0, WINOGRAD_INPUT = 1, WINOGRAD_PRODUCT = 2, WINOGRAD_SCRATCH = 3, GEMM_PACK = 4, KINDS = 5;

    /** The scratch buffers available to the thread running a unit. */
    interface Scratch {
        FloatPointer get(int kind, long floats);

        /**
         * Whether the {@link #COLUMNS} buffer holds the column matrix {@code key} (an image, group
         * and band) of the call {@code a} is running, left there by an earlier unit of that call.
         */
        boolean holdsColumns(Args a, int key);

        /** Records what the {@link #COLUMNS} buffer holds: matrix {@code key} of this call, or nothing (key -1). */
        void heldColumns(Args a, int key);
    }

    /** The pointers one call works on; weights are the Winograd transform U when the pass uses Winograd. */
    static final class Args {
        /** Drops every reference to the call's memory. */
        void clear() {
            x = w = bias = y = gy = gx = gw = gbias = wSource = transform = raw = null;
            rawTop = 0;
            accumulate = false;
            flip = false;
            winograd = 0;
        }

        FloatPointer x, w, bias, y, gy, gx, gw, gbias;
        /** The weights to transform for Winograd, the transform's buffer, and whether to turn the kernels. */
        FloatPointer wSource, transform;
        /**
         * The untransformed weights of a Winograd pass chosen by {@code AUTO}, with which the kernel
         * recomputes tiles that come out non-finite; null for an explicitly requested Winograd pass,
         * which keeps its raw values.
         */
        FloatPointer raw;
        /** {@link NativeKernels#maxBits} of {@link #raw}. */
        int rawTop;
        boolean flip;
        boolean accumulate;
        /** Numbers the calls made with these arguments, so scratch left by an earlier call is never taken for this one's. */
        long call;
        /**
         * The Winograd tile size of the pass being run (forward or backward-data), 2 or 4, or 0 for
         * none (see {@link Partition#winogradTile}).
         */
        int winograd;
    }

    private BlasPasses() {
    }

    // ---- Winograd weight transform (per call) --------------------------------------------------

    /** Units of the weight transform: ranges of the O·C kernels, so that threads share it. */
    static int transformUnits(ConvGeometry g) {
        return (int) Math.max(1, Math.min(Partition.FORWARD_UNITS, (long) g.o * g.c / Partition.MIN_TRANSFORM_KERNELS));
    }

    /** Whether a Winograd pass of this layer recomputes non-finite tiles: only when AUTO chose Winograd. */
    static boolean repairsNonFinite(ConvGeometry g) {
        return g.algorithm == dev.conv4j.ConvAlgorithm.AUTO;
    }

    /**
     * Keeps the untransformed weights {@code w} of a Winograd call for the kernels' repair of non-finite
     * tiles, under AUTO, with their largest magnitude ({@code wTop} when the caller already knows it,
     * else -1: one vectorized pass).
     */
    static void keepRaw(ConvGeometry g, Args a, FloatPointer w, int wTop) {
        if (repairsNonFinite(g)) {
            a.raw = w;
            a.rawTop = wTop >= 0 ? wTop : NativeKernels.maxBits(w, 0, (long) g.o * g.c * 9);
        } else {
            a.raw = null;
            a.rawTop = 0;
        }
    }

    static void transformUnit(ConvGeometry g, int u, Args a) {
        long oc = (long) g.o * g.c, units = transformUnits(g), j0 = oc * u / units, j1 = oc * (u + 1) / units;
        NativeKernels.winogradWeights(g, a.wSource, a.transform, a.winograd, a.flip, j0, j1 - j0);
    }

    // ---- forward -------------------------------------------------------------------------------

    static int forwardUnits(ConvGeometry g, int winograd) {
        if (g.isDepthwise()) {
            return g.n * Partition.bands(g.o, Partition.depthwiseForwardBlock(g));
        }
        if (winograd != 0) {
            int tiles = NativeKernels.winogradTiles(g, winograd);
            return Partition.bands(tiles, Partition.winogradChunk(g, tiles, winograd))
                    * Partition.bands(g.o, Partition.winogradChannelBlock(g, tiles, winograd, g.o));
        }
        if (Partition.useDirect(g)) {
            return g.n * g.groups * Partition.bands(g.og, Partition.directChannelBlock(g));
        }
        return g.n * g.groups * Partition.bands(g.oh, Partition.forwardRows(g))
                * Partition.bands(g.og, Partition.forwardChannelBlock(g));
    }

    static void forwardUnit(ConvGeometry g, int u, Args a, Scratch s) {
        if (g.isDepthwise()) {
            int ob = Partition.depthwiseForwardBlock(g), blocks = Partition.bands(g.o, ob);
            int o0 = (u % blocks) * ob;
            NativeKernels.depthwiseForward(g, a.x, a.w, a.bias, a.y, u / blocks, o0, Math.min(ob, g.o - o0));
        } else if (a.winograd != 0) {
            int m = a.winograd, tiles = NativeKernels.winogradTiles(g, m), chunk = Partition.winogradChunk(g, tiles, m);
            int ob = Partition.winogradChannelBlock(g, tiles, m, g.o), blocks = Partition.bands(g.o, ob);
            int t0 = (u / blocks) * chunk, tc = Math.min(chunk, tiles - t0), o0 = (u % blocks) * ob;
            NativeKernels.winogradForwardTiles(g, a.x, a.w, a.bias, a.y,
                    s.get(WINOGRAD_INPUT, NativeKernels.winogradTransformSize(g, tc, m)),
                    s.get(WINOGRAD_PRODUCT, NativeKernels.winogradTransformSize(g, tc, m)),
                    s.get(WINOGRAD_SCRATCH, NativeKernels.winogradScratchSize(g, m)), t0, tc, m, o0, Math.min(ob, g.o - o0), a.raw, a.rawTop);
        } else if (Partition.useDirect(g)) {
            int ob = Partition.directChannelBlock(g), blocks = Partition.bands(g.og, ob);
            int blk = u % blocks, grp = (u / blocks) % g.groups, n = u / (blocks * g.groups), o0 = blk * ob;
            NativeKernels.directForward(g, a.x, a.w, a.bias, a.y, s.get(COLUMNS, NativeKernels.directScratchSize(g)),
                    n, grp, o0, Math.min(ob, g.og - o0));
        } else {
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
            FloatPointer col = s.get(COLUMNS, (long) g.k * r * g.ow);
            boolean ready = blocks > 1 && s.holdsColumns(a, key);
            boolean held = NativeKernels.forwardBand(g, a.x, a.w, a.bias, a.y, col, pack(s, 0, (long) r * g.ow, false), n, grp, o0,
                    Math.min(ob, g.og - o0), oh0, r, ready);
            s.heldColumns(a, held ? key : -1);
        }
    }

    /** The packing buffer for a product of this shape (null when it goes to OpenBLAS). */
    private static FloatPointer pack(Scratch s, long rows, long columns, boolean transposedA) {
        return s.get(GEMM_PACK, NativeKernels.gemmPackSize(rows, columns, transposedA));
    }

    // ---- backward data -------------------------------------------------------------------------

    static int backwardDataUnits(ConvGeometry g, int winograd) {
        if (g.isDepthwise()) {
            return g.n * Partition.bands(g.c, Partition.depthwiseDataBlock(g));
        }
        if (winograd != 0) {
            int tiles = (int) NativeKernels.winogradBackwardTileCount(g, winograd);
            return Partition.bands(tiles, Partition.winogradChunk(g, tiles, winograd))
                    * Partition.bands(g.c, Partition.winogradChannelBlock(g, tiles, winograd, g.c));
        }
        if (g.isPointwise()) {
            return g.n * g.groups * Partition.bands(g.oh, Partition.forwardRows(g));
        }
        return g.n * g.groups * Partition.bands(g.cg, Partition.dataChannelBlock(g));
    }

    static void backwardDataUnit(ConvGeometry g, int u, Args a, Scratch s) {
        if (a.winograd != 0) {
            int m = a.winograd, tiles = (int) NativeKernels.winogradBackwardTileCount(g, m);
            int chunk = Partition.winogradChunk(g, tiles, m);
            int cb = Partition.winogradChannelBlock(g, tiles, m, g.c), blocks = Partition.bands(g.c, cb);
            int t0 = (u / blocks) * chunk, tc = Math.min(chunk, tiles - t0), c0 = (u % blocks) * cb;
            NativeKernels.winogradBackwardDataTiles(g, a.gy, a.w, a.gx,
                    s.get(WINOGRAD_INPUT, NativeKernels.winogradTransformSize(g, tc, m)),
                    s.get(WINOGRAD_PRODUCT, NativeKernels.winogradTransformSize(g, tc, m)),
                    s.get(WINOGRAD_SCRATCH, NativeKernels.winogradScratchSize(g, m)), t0, tc, m, a.accumulate,
                    c0, Math.min(cb, g.c - c0), a.raw, a.rawTop);
            return;
        }
        if (g.isDepthwise()) {
            int cb = Partition.depthwiseDataBlock(g), blocks = Partition.bands(g.c, cb);
            int c0 = (u % blocks) * cb;
            NativeKernels.depthwiseBackwardData(g, a.gy, a.w, a.gx, u / blocks, c0, Math.min(cb, g.c - c0), a.accumulate);
            return;
        }
        if (g.isPointwise()) {
            /* gx = Wᵀ gy, band by band of pixels: every channel in one product, no column matrix */
            int rows = Partition.forwardRows(g), bands = Partition.bands(g.oh, rows);
            int band = u % bands, grp = (u / bands) % g.groups, n = u / (bands * g.groups), oh0 = band * rows;
            NativeKernels.backwardDataBand(g, a.gy, a.w, a.gx, null, pack(s, g.cg, (long) rows * g.ow, true), n, grp, 0, g.cg, oh0,
                    Math.min(rows, g.oh - oh0), a.accumulate);
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
        FloatPointer col = s.get(COLUMNS, (long) cn * khkw * rows * g.ow);
        FloatPointer pack = pack(s, (long) cn * khkw, (long) rows * g.ow, true);
        for (int oh0 = 0; oh0 < g.oh; oh0 += rows) {
            NativeKernels.backwardDataBand(g, a.gy, a.w, a.gx, col, pack, n, grp, c0, cn, oh0, Math.min(rows, g.oh - oh0), true);
        }
    }

    // ---- backward weights ----------------------------------------------------------------------

    /** Weight units, plus one unit for the bias gradient when there is one. */
    static int backwardWeightsUnits(ConvGeometry g, boolean bias) {
        int units = g.isDepthwise() ? Partition.bands(g.o, Partition.depthwiseWeightBlock(g))
                : g.groups * Partition.bands(g.cg, Partition.weightChannelBlock(g))
                * Partition.bands(g.og, Partition.weightOutputBlock(g));
        return units + (bias && !g.isDepthwise() ? 1 : 0);
    }

    static void backwardWeightsUnit(ConvGeometry g, int u, Args a, Scratch s) {
        if (g.isDepthwise()) {
            int ob = Partition.depthwiseWeightBlock(g), o0 = u * ob, on = Math.min(ob, g.o - o0);
            NativeKernels.depthwiseBackwardWeights(g, a.x, a.gy, a.gw, o0, on, a.accumulate);
            if (a.gbias != null) {
                NativeKernels.channelSums(g, a.gy, a.gbias, o0, on, a.accumulate);
            }
            return;
        }
        int cb = Partition.weightChannelBlock(g), blocks = Partition.bands(g.cg, cb), khkw = g.kh * g.kw;
        int ob = Partition.weightOutputBlock(g), oblocks = Partition.bands(g.og, ob);
        if (u == g.groups * blocks * oblocks) {
            NativeKernels.channelSums(g, a.gy, a.gbias, 0, g.o, a.accumulate);
            return;
        }
        int oblk = u % oblocks, blk = (u / oblocks) % blocks, grp = u / (oblocks * blocks);
        int c0 = blk * cb, cn = Math.min(cb, g.cg - c0), o0 = oblk * ob, on = Math.min(ob, g.og - o0);
        int rows = Partition.backwardRows(g, cn * khkw);
        FloatPointer col = g.isPointwise() ? null : s.get(COLUMNS, (long) cn * khkw * rows * g.ow);
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

    /**
     * The most floats of each scratch kind any unit of any pass needs, so a plan can allocate its
     * workspaces once.
     */
    static long[] scratchSizes(ConvGeometry g, int winograd, int dataWinograd) {
        long[] size = new long[KINDS];
        if (g.isDepthwise()) {
            return size;
        }
        // products are at most a plane wide, or (weight gradients) a channel block of kernels; those
        // of the input gradient have up to a group's channels times its kernel size as rows
        size[GEMM_PACK] = NativeKernels.gemmPackSize((long) g.cg * g.kh * g.kw,
                Math.max(g.outPlane(), (long) Partition.weightChannelBlock(g) * g.kh * g.kw), true);
        if (!g.isPointwise()) {
            int rows = Partition.forwardRows(g);
            long forward = winograd != 0 ? 0 : Partition.useDirect(g) ? NativeKernels.directScratchSize(g)
                    : (long) g.k * rows * g.ow;
            long backward = 0;
            int[] blocks = dataWinograd != 0 ? new int[] {Partition.weightChannelBlock(g)}
                    : new int[] {Partition.dataChannelBlock(g), Partition.weightChannelBlock(g)};
            for (int cb : blocks) {
                int rowsOfBlock = cb * g.kh * g.kw;
                backward = Math.max(backward, (long) rowsOfBlock * Partition.backwardRows(g, rowsOfBlock) * g.ow);
            }
            size[COLUMNS] = Math.max(forward, backward);
        }
        for (int pass = 0; pass < 2; pass++) {
            int m = pass == 0 ? winograd : dataWinograd;
            if (m != 0) {
                int tiles = pass == 0 ? NativeKernels.winogradTiles(g, m) : (int) NativeKernels.winogradBackwardTileCount(g, m);
                long t = NativeKernels.winogradTransformSize(g, Partition.winogradChunk(g, tiles, m), m);
                size[WINOGRAD_INPUT] = Math.max(size[WINOGRAD_INPUT], t);
                size[WINOGRAD_PRODUCT] = Math.max(size[WINOGRAD_PRODUCT], t);
                size[WINOGRAD_SCRATCH] = Math.max(size[WINOGRAD_SCRATCH], NativeKernels.winogradScratchSize(g, m));
            }
        }
        return size;
    }
}
