package dev.conv4j.internal.blas;

import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvGeometry;
import dev.conv4j.internal.engine.Partition;
import dev.conv4j.internal.nativeblas.NativeKernels;

/**
 * Winograd F(m x m, 3x3), m = 4 or 2, by the native Winograd kernel family: the forward pass, and the
 * input gradient as the convolution of the output gradient with the kernels turned by 180 degrees. The
 * weights are transformed to U = G w Gᵀ first (per call, or once by a plan); units are chunks of tiles
 * (m x m output blocks) times blocks of output channels, each transforming its input tiles, multiplying
 * by U and transforming back.
 *
 * <p>When it pays ({@code AUTO}), measured here (AVX-512, one and two threads) on the ResNet-50 3x3
 * layers: F(4x4) does 4x fewer multiplications than im2col, but its transformed weights are 4x larger
 * (36 floats per kernel) and every call streams them, so it needs enough tiles per call to use each of
 * them more than a few times. With the weights transformed once (a plan) it won from 16 tiles (res4:
 * 145 against 110 GFLOP/s) and lost at 4 (res5: 55 against 70 inside the benchmark, whose other
 * buffers keep the 38 MB transform out of cache); done per call, the transform itself costs more than
 * Winograd saves below about 32 tiles. F(2x2) is left for 32 (plan) or 128 (per call) 2x2 tiles.
 * Narrow layers (C or O below 16) make the products inefficient; small layers go to {@link SmallDirect}.
 *
 * <p>Under {@code AUTO} the kernels recompute by the definition any tile that comes out non-finite
 * from finite data (the transforms can overflow where the definition does not), with the untransformed
 * weights and their largest magnitude at hand.
 */
final class Winograd implements Algorithm {
    static final Algorithm F4_FORWARD = new Winograd(4, Pass.FORWARD);
    static final Algorithm F2_FORWARD = new Winograd(2, Pass.FORWARD);
    static final Algorithm F4_BACKWARD_DATA = new Winograd(4, Pass.BACKWARD_DATA);
    static final Algorithm F2_BACKWARD_DATA = new Winograd(2, Pass.BACKWARD_DATA);

    /** Floats of transform workspace (V and M) per unit: 4 MiB. */
    static final long BUDGET = 1L << 20;
    /** The fewest tiles a unit is cut to for parallelism: its products are that wide. */
    static final int MIN_TILES = 64;
    /** The fewest channels a unit is cut to for parallelism: its products are that tall. */
    static final int MIN_CHANNELS = 32;
    /** The fewest kernels (of O·C) a unit of the per-call weight transform takes. */
    static final long MIN_TRANSFORM_KERNELS = 8192;

    private final int m;
    private final Pass pass;
    private final boolean forward;

    private Winograd(int m, Pass pass) {
        this.m = m;
        this.pass = pass;
        forward = pass == Pass.FORWARD;
    }

    @Override
    public String name() {
        return "winograd F(" + m + "x" + m + ",3x3)";
    }

    @Override
    public Pass pass() {
        return pass;
    }

    /** Output tiles of the pass: of y forward, of the input gradient backward. */
    private long tileCount(ConvGeometry g, int tile) {
        return forward ? NativeKernels.winogradTileCount(g, tile) : NativeKernels.winogradBackwardTileCount(g, tile);
    }

    @Override
    public boolean applies(ConvGeometry g, boolean prepared) {
        if (!forward && (g.h >= 1 << 30 || g.w >= 1 << 30)) {
            return false;
        }
        if (g.algorithm == ConvAlgorithm.WINOGRAD_4X4 || g.algorithm == ConvAlgorithm.WINOGRAD_2X2) {
            return g.algorithm == (m == 4 ? ConvAlgorithm.WINOGRAD_4X4 : ConvAlgorithm.WINOGRAD_2X2);
        }
        if (g.algorithm != ConvAlgorithm.AUTO || !ConvAlgorithm.winogradApplies(g) || g.c < 16 || g.o < 16
                || SmallDirect.chosen(g)) {
            return false;
        }
        long tiles4 = tileCount(g, 4);
        if (tiles4 > Integer.MAX_VALUE) {
            return false;
        }
        boolean four = tiles4 >= (prepared ? 16 : 32);
        return m == 4 ? four : !four && tileCount(g, 2) >= (prepared ? 32 : 128);
    }

    private int tiles(ConvGeometry g) {
        return (int) tileCount(g, m);
    }

    /** The pass's output channels: O forward, C for the input gradient. */
    private int channels(ConvGeometry g) {
        return forward ? g.o : g.c;
    }

    /**
     * Tiles per unit: as many as the budget allows; split evenly into {@link Partition#FORWARD_UNITS}
     * chunks when each keeps {@link #MIN_TILES} tiles.
     */
    private int chunk(ConvGeometry g, int tiles) {
        long max = Math.max(64, BUDGET / ((long) (m + 2) * (m + 2) * (g.c + g.o)));
        int chunks = (int) Math.max(1, (tiles + max - 1) / max);
        chunks = Math.max(chunks, Math.min(Partition.FORWARD_UNITS, tiles / MIN_TILES));
        if (chunks > 1 && chunks % Partition.FORWARD_UNITS != 0 && chunks < 4 * Partition.FORWARD_UNITS) {
            chunks = Math.min(tiles, Partition.ceilDiv(chunks, Partition.FORWARD_UNITS) * Partition.FORWARD_UNITS);
        }
        return Partition.ceilDiv(tiles, Math.max(1, chunks));
    }

    /**
     * Channels per unit: all, unless there are too few tile chunks for {@link Partition#FORWARD_UNITS}
     * units; then the channels are split, each block keeping {@link #MIN_CHANNELS}. Each block transforms
     * the input of its tiles again, which costs little next to its products.
     */
    private int channelBlock(ConvGeometry g, int tiles) {
        int channels = channels(g), chunks = Partition.bands(tiles, chunk(g, tiles));
        if (chunks >= Partition.FORWARD_UNITS) {
            return channels;
        }
        int blocks = Math.min(Partition.ceilDiv(Partition.FORWARD_UNITS, chunks), channels / MIN_CHANNELS);
        return blocks <= 1 ? channels : Partition.ceilDiv(channels, blocks);
    }

    @Override
    public int units(ConvGeometry g, boolean bias) {
        int tiles = tiles(g);
        return Partition.bands(tiles, chunk(g, tiles)) * Partition.bands(channels(g), channelBlock(g, tiles));
    }

    @Override
    public void scratch(ConvGeometry g, long[] floats) {
        long t = NativeKernels.winogradTransformSize(g, chunk(g, tiles(g)), m);
        floats[Scratch.WINOGRAD_INPUT] = Math.max(floats[Scratch.WINOGRAD_INPUT], t);
        floats[Scratch.WINOGRAD_PRODUCT] = Math.max(floats[Scratch.WINOGRAD_PRODUCT], t);
        floats[Scratch.WINOGRAD_SCRATCH] = Math.max(floats[Scratch.WINOGRAD_SCRATCH], NativeKernels.winogradScratchSize(g, m));
    }

    @Override
    public void run(ConvGeometry g, int u, CallArgs a, Scratch s) {
        int tiles = tiles(g), chunk = chunk(g, tiles), cb = channelBlock(g, tiles), blocks = Partition.bands(channels(g), cb);
        int t0 = (u / blocks) * chunk, tc = Math.min(chunk, tiles - t0), c0 = (u % blocks) * cb, cn = Math.min(cb, channels(g) - c0);
        long size = NativeKernels.winogradTransformSize(g, tc, m);
        if (forward) {
            NativeKernels.winogradForwardTiles(g, a.x, a.u, a.bias, a.y, s.get(Scratch.WINOGRAD_INPUT, size),
                    s.get(Scratch.WINOGRAD_PRODUCT, size), s.get(Scratch.WINOGRAD_SCRATCH, NativeKernels.winogradScratchSize(g, m)),
                    t0, tc, m, c0, cn, a.raw, a.rawTop);
        } else {
            NativeKernels.winogradBackwardDataTiles(g, a.gy, a.u, a.gx, s.get(Scratch.WINOGRAD_INPUT, size),
                    s.get(Scratch.WINOGRAD_PRODUCT, size), s.get(Scratch.WINOGRAD_SCRATCH, NativeKernels.winogradScratchSize(g, m)),
                    t0, tc, m, a.accumulate, c0, cn, a.raw, a.rawTop);
        }
    }

    @Override
    public long transformSize(ConvGeometry g) {
        return NativeKernels.winogradWeightSize(g, m);
    }

    /** Ranges of the O·C kernels, so that threads share the transform. */
    @Override
    public int transformUnits(ConvGeometry g) {
        return (int) Math.max(1, Math.min(Partition.FORWARD_UNITS, (long) g.o * g.c / MIN_TRANSFORM_KERNELS));
    }

    @Override
    public void transform(ConvGeometry g, int unit, CallArgs a) {
        long oc = (long) g.o * g.c, units = transformUnits(g), j0 = oc * unit / units, j1 = oc * (unit + 1) / units;
        NativeKernels.winogradWeights(g, a.w, a.u, m, !forward, j0, j1 - j0);
    }

    /**
     * Under {@code AUTO}, keeps the untransformed weights and their largest magnitude (one vectorized
     * pass, unless a plan measured them at prepack) for the kernels' repair of non-finite tiles.
     */
    @Override
    public void prepare(ConvGeometry g, CallArgs a) {
        if (g.algorithm != ConvAlgorithm.AUTO) {
            a.raw = null;
            a.rawTop = 0;
        } else if (a.raw == null) {
            a.raw = a.w;
            a.rawTop = NativeKernels.maxBits(a.w, 0, (long) g.o * g.c * 9);
        }
    }
}
