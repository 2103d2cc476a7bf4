package dev.conv4j.internal.engine;

import dev.conv4j.Tensor;

/**
 * Holding tensors for the duration of a call ({@link Tensor#acquire()}), so that another thread cannot
 * close one while native code reads or writes it. Used by every engine entry and every plan call.
 */
public final class Holds {
    private Holds() {
    }

    /**
     * Acquires up to four tensors (nulls are skipped) in order; if one cannot be acquired, releases those
     * already acquired and throws, naming it. No allocation: this runs on every call.
     */
    public static void acquire(Tensor a, String an, Tensor b, String bn, Tensor c, String cn, Tensor d, String dn) {
        int held = 0;
        try {
            acquire(a, an);
            held = 1;
            acquire(b, bn);
            held = 2;
            acquire(c, cn);
            held = 3;
            acquire(d, dn);
            held = 4;
        } finally {
            if (held < 4) {
                if (held > 2) {
                    releaseOne(c);
                }
                if (held > 1) {
                    releaseOne(b);
                }
                if (held > 0) {
                    releaseOne(a);
                }
            }
        }
    }

    /**
     * As {@link #acquire(Tensor, String, Tensor, String, Tensor, String, Tensor, String)} for five tensors
     * (a fused forward pass's x, w, bias, residual and y). A tensor given twice (a residual that is y) is
     * acquired twice, which nests.
     */
    public static void acquire(Tensor a, String an, Tensor b, String bn, Tensor c, String cn, Tensor d, String dn,
                               Tensor e, String en) {
        acquire(a, an, b, bn, c, cn, d, dn);
        try {
            acquire(e, en);
        } catch (RuntimeException | Error x) {
            release(a, b, c, d);
            throw x;
        }
    }

    /** Ends {@link #acquire(Tensor, String, Tensor, String, Tensor, String, Tensor, String, Tensor, String)}. */
    public static void release(Tensor a, Tensor b, Tensor c, Tensor d, Tensor e) {
        releaseOne(e);
        release(a, b, c, d);
    }

    private static void acquire(Tensor t, String name) {
        if (t == null) {
            return;
        }
        try {
            t.acquire();
        } catch (IllegalStateException e) {
            throw new IllegalStateException(name + ": " + e.getMessage(), e);
        }
    }

    public static void release(Tensor a, Tensor b, Tensor c, Tensor d) {
        releaseOne(d);
        releaseOne(c);
        releaseOne(b);
        releaseOne(a);
    }

    private static void releaseOne(Tensor t) {
        if (t != null) {
            t.release();
        }
    }
}
