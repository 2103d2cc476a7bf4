package dev.conv4j.internal.engine;

import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Element-wise work between tensors of any layouts: reorders ({@code out = a}) and the forward
 * epilogue ({@code out = clamp(a + r)}, see {@link Epilogues}). It sits on the hot path of every
 * engine that stages a layout it cannot run through NCHW, so it moves memory in bulk: each image is
 * seen as channels × pixels (pixels being the flattened H×W, which every layout orders alike), cut
 * into tiles of at most 64 channels and {@link #TILE} floats that stay in cache. A tile is read with
 * one bulk copy per contiguous run of the source's layout (a channel's pixels in NCHW, a pixel's
 * channels in NHWC, a 16-channel block's pixels in NCHW16C), permuted on the heap into the layout of
 * the output, combined, and written back with one bulk copy per run. Tensors of one layout without
 * padding skip the tiles: their memory is processed as one flat array.
 *
 * <p>Heap scratch comes from a pool (taking and giving back allocates nothing once warm), so a call
 * allocates nothing but for tensors beyond {@link Tensor#MAX_BUFFER_ELEMENTS} floats, which are read
 * through a pointer of their own instead of a buffer.
 */
public final class Reorder {
    /** Floats per tile: three tile arrays of 64 KiB stay in L2. */
    static final int TILE = 1 << 14;
    private static final int NCHW = 0, NHWC = 1, BLOCKED = 2;
    private static final int B = 16;
    private static final Pool<Tiles> TILES = new Pool<>(Tiles::new, null, null);
    /**
     * Tensors of more floats than this are read through a pointer instead of a buffer: those beyond a
     * buffer's reach. Tests lower it to run that path on small tensors.
     */
    static volatile long bufferReach = Tensor.MAX_BUFFER_ELEMENTS;

    private Reorder() {
    }

    /** {@code dst = src} element by element (same shape, any layouts, no shared memory; checked by the caller). */
    public static void copy(Tensor src, Tensor dst) {
        if (TensorMemory.sameMemory(src, dst)) {
            return;
        }
        combine(src, null, 0f, 0f, false, dst);
    }

    /**
     * {@code out = a + r}, then clamped to [lo, hi] when {@code clamp}, element by element over the
     * logical elements of three tensors of one shape and any layouts (r may be null). {@code out} may be
     * {@code a} or {@code r} itself; no other sharing of memory is allowed. NCHW16C padding of {@code out}
     * comes out zero whatever the inputs hold there.
     */
    static void combine(Tensor a, Tensor r, float lo, float hi, boolean clamp, Tensor out) {
        Tiles t = TILES.take();
        try {
            t.ma.bind(a);
            t.mr.bind(r);
            t.mo.bind(out);
            int fo = code(out);
            if (code(a) == fo && (r == null || code(r) == fo) && !padded(out)) {
                flat(t, r != null, lo, hi, clamp, out.storageSize());
            } else if (out.rank() == 4) {
                tiles(t, code(a), r == null ? -1 : code(r), fo, lo, hi, clamp, out.dim(0), out.dim(1), out.dim(2) * out.dim(3));
            } else {
                throw new IllegalStateException("tensors of rank " + out.rank() + " are NCHW only");
            }
        } finally {
            t.clear();
            TILES.give(t);
        }
    }

    /** Writes zeros into the padding channels of an NCHW16C tensor, leaving its elements as they are. */
    public static void zeroPadding(Tensor t) {
        if (t.layout() != Layout.NCHW16C || t.dim(1) % B == 0) {
            return;
        }
        int c = t.dim(1), rem = c % B;
        int n = t.dim(0), p = t.dim(2) * t.dim(3), blocks = (c + B - 1) / B;
        Tiles s = TILES.take();
        try {
            s.mo.bind(t);
            float[] x = s.x;
            int step = TILE / B;
            for (int i = 0; i < n; i++) {
                long base = ((long) i * blocks + blocks - 1) * p * B;
                for (int p0 = 0; p0 < p; p0 += step) {
                    int pl = Math.min(step, p - p0);
                    long at = base + (long) p0 * B;
                    s.mo.get(at, x, 0, pl * B);
                    for (int q = 0; q < pl; q++) {
                        Arrays.fill(x, q * B + rem, q * B + B, 0f);
                    }
                    s.mo.put(at, x, 0, pl * B);
                }
            }
        } finally {
            s.clear();
            TILES.give(s);
        }
    }

    /** Same layout, no padding: the storage of all three as flat arrays. */
    private static void flat(Tiles t, boolean residual, float lo, float hi, boolean clamp, long total) {
        if (!residual && !clamp && t.ma.buf != null && t.mo.buf != null) {
            t.mo.buf.put(0, t.ma.buf, 0, (int) total);
            return;
        }
        float[] x = t.x, y = t.y;
        for (long off = 0; off < total; off += TILE) {
            int len = (int) Math.min(TILE, total - off);
            t.ma.get(off, x, 0, len);
            if (residual) {
                t.mr.get(off, y, 0, len);
                add(x, y, len);
            }
            if (clamp) {
                clamp(x, len, lo, hi);
            }
            t.mo.put(off, x, 0, len);
        }
    }

    private static void tiles(Tiles t, int fa, int fr, int fo, float lo, float hi, boolean clamp, int n, int c, int p) {
        int ct = c <= 64 ? c : 64; // a multiple of 16 whenever it is not all of C, so tiles never split a block
        int ctPad = (ct + B - 1) / B * B;
        int pt = Math.min(p, Math.max(1, TILE / ctPad));
        float[] x = t.x, y = t.y, tmp = t.tmp;
        for (int i = 0; i < n; i++) {
            for (int c0 = 0; c0 < c; c0 += ct) {
                int cl = Math.min(ct, c - c0);
                for (int p0 = 0; p0 < p; p0 += pt) {
                    int pl = Math.min(pt, p - p0);
                    int len = fo == BLOCKED ? (cl + B - 1) / B * B * pl : cl * pl;
                    load(t.ma, fa, fo, c, p, i, c0, cl, p0, pl, x, tmp);
                    if (fr >= 0) {
                        load(t.mr, fr, fo, c, p, i, c0, cl, p0, pl, y, tmp);
                        add(x, y, len);
                    }
                    if (clamp) {
                        clamp(x, len, lo, hi);
                    }
                    if (fo == BLOCKED && cl % B != 0) {
                        int last = cl / B, valid = cl % B;
                        for (int q = 0; q < pl; q++) {
                            int at = (last * pl + q) * B;
                            Arrays.fill(x, at + valid, at + B, 0f);
                        }
                    }
                    store(t.mo, fo, c, p, i, c0, cl, p0, pl, x);
                }
            }
        }
    }

    /** Reads a tile of a tensor in layout {@code from} into {@code dst} in the tile order of layout {@code to}. */
    private static void load(Mem m, int from, int to, int c, int p, int n, int c0, int cl, int p0, int pl, float[] dst, float[] tmp) {
        if (from == to) {
            read(m, from, c, p, n, c0, cl, p0, pl, dst);
        } else {
            read(m, from, c, p, n, c0, cl, p0, pl, tmp);
            permute(from, to, cl, pl, tmp, dst);
        }
    }

    /**
     * A tile, channels [c0, c0+cl) by pixels [p0, p0+pl) of image n, in the tile order of its layout:
     * NCHW [cl][pl], NHWC [pl][cl], NCHW16C [ceil(cl/16)][pl][16].
     */
    private static void read(Mem m, int f, int c, int p, int n, int c0, int cl, int p0, int pl, float[] d) {
        if (f == NCHW) {
            long base = ((long) n * c + c0) * p + p0;
            if (pl == p) {
                m.get(base, d, 0, cl * pl);
            } else {
                for (int k = 0; k < cl; k++) {
                    m.get(base + (long) k * p, d, k * pl, pl);
                }
            }
        } else if (f == NHWC) {
            long base = ((long) n * p + p0) * c + c0;
            if (cl == c) {
                m.get(base, d, 0, pl * cl);
            } else {
                for (int q = 0; q < pl; q++) {
                    m.get(base + (long) q * c, d, q * cl, cl);
                }
            }
        } else {
            int blocks = (c + B - 1) / B, nb = (cl + B - 1) / B;
            long base = (((long) n * blocks + c0 / B) * p + p0) * B;
            if (pl == p) {
                m.get(base, d, 0, nb * pl * B);
            } else {
                for (int b = 0; b < nb; b++) {
                    m.get(base + (long) b * p * B, d, b * pl * B, pl * B);
                }
            }
        }
    }

    /** The inverse of {@link #read}. */
    private static void store(Mem m, int f, int c, int p, int n, int c0, int cl, int p0, int pl, float[] s) {
        if (f == NCHW) {
            long base = ((long) n * c + c0) * p + p0;
            if (pl == p) {
                m.put(base, s, 0, cl * pl);
            } else {
                for (int k = 0; k < cl; k++) {
                    m.put(base + (long) k * p, s, k * pl, pl);
                }
            }
        } else if (f == NHWC) {
            long base = ((long) n * p + p0) * c + c0;
            if (cl == c) {
                m.put(base, s, 0, pl * cl);
            } else {
                for (int q = 0; q < pl; q++) {
                    m.put(base + (long) q * c, s, q * cl, cl);
                }
            }
        } else {
            int blocks = (c + B - 1) / B, nb = (cl + B - 1) / B;
            long base = (((long) n * blocks + c0 / B) * p + p0) * B;
            if (pl == p) {
                m.put(base, s, 0, nb * pl * B);
            } else {
                for (int b = 0; b < nb; b++) {
                    m.put(base + (long) b * p * B, s, b * pl * B, pl * B);
                }
            }
        }
    }

    /**
     * Moves a cl × pl tile from the tile order of one layout to another's (see {@link #read}). Between
     * the pixel-major orders (NHWC, NCHW16C) each pixel's run of up to 16 channels moves at once; to or
     * from NCHW it is a transpose, channel by channel, which measured faster here than 16-pixel blocks.
     */
    private static void permute(int from, int to, int cl, int pl, float[] s, float[] d) {
        if (from != NCHW && to != NCHW) {
            for (int b = 0; b * B < cl; b++) {
                int lanes = Math.min(B, cl - b * B), c0 = b * B;
                for (int q = 0; q < pl; q++) {
                    if (to == NHWC) {
                        System.arraycopy(s, (b * pl + q) * B, d, q * cl + c0, lanes);
                    } else {
                        System.arraycopy(s, q * cl + c0, d, (b * pl + q) * B, lanes);
                    }
                }
            }
            return;
        }
        int sp = pixelStride(from, cl), dp = pixelStride(to, cl);
        for (int k = 0; k < cl; k++) {
            int si = start(from, k, cl, pl), di = start(to, k, cl, pl);
            for (int q = 0; q < pl; q++) {
                d[di + q * dp] = s[si + q * sp];
            }
        }
    }

    private static int pixelStride(int f, int cl) {
        return f == NCHW ? 1 : f == NHWC ? cl : B;
    }

    /** Where channel k of pixel 0 lies in a tile of layout f. */
    private static int start(int f, int k, int cl, int pl) {
        return f == NCHW ? k * pl : f == NHWC ? k : (k / B) * pl * B + k % B;
    }

    private static void add(float[] x, float[] y, int len) {
        for (int i = 0; i < len; i++) {
            x[i] += y[i];
        }
    }

    /** {@link Epilogues#clamp} over an array: NaN stays NaN, −0.0 is not below a bound of +0.0. */
    private static void clamp(float[] x, int len, float lo, float hi) {
        for (int i = 0; i < len; i++) {
            float v = x[i];
            x[i] = v < lo ? lo : v > hi ? hi : v;
        }
    }

    private static int code(Tensor t) {
        Layout l = t.layout();
        return l == Layout.NCHW ? NCHW : l == Layout.NHWC ? NHWC : BLOCKED;
    }

    private static boolean padded(Tensor t) {
        return t.layout() == Layout.NCHW16C && t.dim(1) % B != 0;
    }

    /** One call's heap scratch: three tiles and the memory of its three tensors. */
    private static final class Tiles {
        final float[] x = new float[TILE], y = new float[TILE], tmp = new float[TILE];
        final Mem ma = new Mem(), mr = new Mem(), mo = new Mem();

        void clear() {
            ma.clear();
            mr.clear();
            mo.clear();
        }
    }

    /**
     * A tensor's memory for bulk copies: its engine buffer, or for a tensor beyond a buffer's reach, a
     * pointer of this call's own (the engines' pointer is shared, and a bulk copy moves its position).
     */
    private static final class Mem {
        FloatBuffer buf;
        FloatPointer ptr;

        void bind(Tensor t) {
            if (t == null) {
                return;
            }
            if (t.storageSize() <= bufferReach) {
                buf = TensorMemory.buffer(t);
            } else {
                ptr = new FloatPointer(TensorMemory.pointer(t));
            }
        }

        void get(long at, float[] d, int off, int len) {
            if (buf != null) {
                buf.get((int) at, d, off, len);
            } else {
                ptr.position(at).get(d, off, len);
            }
        }

        void put(long at, float[] s, int off, int len) {
            if (buf != null) {
                buf.put((int) at, s, off, len);
            } else {
                ptr.position(at).put(s, off, len);
            }
        }

        void clear() {
            buf = null;
            ptr = null;
        }
    }
}
