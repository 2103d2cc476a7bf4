package dev.conv4j.internal.blas;

import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.FloatPointer;

/** The memory one call works on, as the units of its algorithm read it; cleared when the call ends. */
public final class CallArgs {
    private static final AtomicLong CALLS = new AtomicLong();

    FloatPointer x, w, bias, y, gy, gx, gw, gbias;
    /** The transformed weights (Winograd's U) when the algorithm reads them: the call's own buffer, or a plan's prepacked one. */
    FloatPointer u;
    /**
     * The untransformed weights of a Winograd pass chosen by {@code AUTO}, with which the kernel
     * recomputes tiles that come out non-finite, and their largest magnitude as raw bits; null for an
     * explicitly requested Winograd pass, which keeps its raw values.
     */
    FloatPointer raw;
    int rawTop;
    boolean accumulate;
    /** Forward: the residual added before the clamp (or null), and the clamp to [lo, hi] when {@code clamp}. */
    FloatPointer residual;
    boolean clamp;
    float lo, hi;
    /** The layouts of the pass's input and output (x and y forward, gy and gx for the input gradient) and of the residual ({@link dev.conv4j.internal.nativeblas.NativeKernels#NCHW} and so on). */
    int xLayout, yLayout, rLayout;
    /** Unique to the call, so that scratch left by an earlier call is never taken for this one's. */
    long call;

    void begin() {
        call = CALLS.incrementAndGet();
    }

    /** Drops every reference to the call's memory. */
    void clear() {
        x = w = bias = y = gy = gx = gw = gbias = u = raw = residual = null;
        rawTop = 0;
        accumulate = clamp = false;
        lo = hi = 0f;
        xLayout = yLayout = rLayout = 0;
    }
}
