package dev.conv4j.internal.engine;

import dev.conv4j.Activation;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;

/**
 * What engines ({@link AbstractConvEngine}) and plans ({@link AbstractPlan}) share: every pass accepts
 * activations in every {@link Layout}, mixed as the caller likes, and a forward pass may add a residual
 * and apply an activation; the implementation says, through two hooks, what it does itself, and this
 * class does the rest around it:
 *
 * <ul>
 *   <li>{@link #runsLayouts}: the layouts a pass reads and writes directly. For any other combination,
 *       the activations it cannot take are staged: reordered into a tensor of a layout it takes before
 *       the pass, and reordered from it into the caller's tensor after (an accumulating input gradient
 *       is copied in first, so the engine accumulates onto it exactly as in its own layout). The
 *       combination chosen needs the fewest reorders, preferring NCHW among equals.</li>
 *   <li>{@link #fusesEpilogue}: whether the forward pass adds the residual and applies the activation
 *       itself. Where it does not, the pass writes {@code acc = conv + bias} and one pass of
 *       {@link Epilogues#apply} computes {@code y = act(acc + residual)}, merged with the reorder into y
 *       when y is staged. A residual that is y itself is read before the convolution writes over it:
 *       the pass then writes into a staging tensor.</li>
 * </ul>
 *
 * <p>Reorders and epilogues are bit-exact (copies, and one float addition and clamp per element), so
 * an engine gives the same bits in every layout as in the layouts it runs.
 */
public abstract class LayoutRunner {
    private static final Layout[] LAYOUTS = Layout.values();

    LayoutRunner() {
    }

    /**
     * Whether this implementation's pass reads and writes tensors of these layouts itself: for
     * {@link Pass#FORWARD} {@code in} is x's layout and {@code out} y's, for {@link Pass#BACKWARD_DATA}
     * gy's and gx's, for {@link Pass#BACKWARD_WEIGHTS} x's and gy's (both read). Weights and biases are
     * always NCHW. NCHW for both must always be taken; the default takes only that. The answer must
     * depend on its arguments alone (it is asked on every call, and must not allocate); the geometry
     * lets an implementation whose kernels apply only to some layers say so.
     */
    protected boolean runsLayouts(ConvGeometry g, Pass pass, Layout in, Layout out) {
        return in == Layout.NCHW && out == Layout.NCHW;
    }

    /**
     * Whether this implementation's forward pass with an epilogue (the seven-argument
     * {@code forward}/{@code runForward}) applies it itself for an output in layout {@code y}, a
     * residual in layout {@code residual} (null: none) and the activation {@code act}; {@code inPlace}:
     * the residual is the output tensor itself, so each residual element must be read before its output
     * element is written. It must then give the bits of {@link Epilogues#apply} after the unfused pass:
     * {@code y = act((float) (conv + bias) + residual)}, one float rounding for the sum. The default:
     * never, so the fused form is never called.
     */
    protected boolean fusesEpilogue(ConvGeometry g, Layout y, Layout residual, boolean inPlace, Activation act) {
        return false;
    }

    /**
     * Copies {@code src} into {@code dst}, tensors of one shape in different layouts that share no
     * memory, bit-exact, NCHW16C padding of {@code dst} written as zeros: the reorders of the staging.
     * The default is the pure-Java {@link Reorder#copy}; an implementation with native code overrides
     * it with a faster copy.
     */
    protected void reorder(Tensor src, Tensor dst) {
        Reorder.copy(src, dst);
    }

    /**
     * Staging for a call that brought none (the per-call path), given back with {@link #giveStaging}
     * when the call returns. The default makes a new one; an engine overrides both to keep them in a pool.
     */
    Staging takeStaging() {
        return new Staging();
    }

    /** Gives back a staging from {@link #takeStaging}. */
    void giveStaging(Staging s) {
        s.close();
    }

    /** The pass itself, in layouts {@link #runsLayouts} took; {@code w} null: a plan's prepacked weights. */
    abstract void rawForward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor y);

    /** The pass with its epilogue, where {@link #fusesEpilogue} said so. */
    abstract void rawForward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y);

    abstract void rawBackwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate);

    abstract void rawBackwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate);

    /**
     * y = act(conv(x, w) + bias + residual), all arguments checked. {@code kept}: a plan's staging, or
     * null to stage (when needed) in a staging taken for this call.
     */
    final void runForward(ConvGeometry g, Tensor x, Tensor w, Tensor bias, Tensor residual, Activation act, Tensor y,
                          Staging kept) {
        Layout lx = x.layout(), ly = y.layout();
        int pick = choose(g, Pass.FORWARD, lx, ly);
        Layout li = LAYOUTS[pick / LAYOUTS.length], lo = LAYOUTS[pick % LAYOUTS.length];
        boolean epilogue = Epilogues.needed(residual, act);
        boolean inPlace = residual != null && residual.overlaps(y); // the checks let only y itself overlap y
        Layout lr = residual == null ? null : residual.layout();
        Staging s = kept;
        try {
            Tensor xr = x;
            if (li != lx) {
                s = s != null ? s : takeStaging();
                xr = s.tensor(Staging.X, li, g);
                reorder(x, xr);
            }
            if (lo == ly && (!epilogue || !inPlace || fusesEpilogue(g, ly, lr, true, act))) {
                if (!epilogue) {
                    rawForward(g, xr, w, bias, y);
                } else if (fusesEpilogue(g, ly, lr, inPlace, act)) {
                    rawForward(g, xr, w, bias, residual, act, y);
                } else {
                    rawForward(g, xr, w, bias, y);
                    Epilogues.apply(y, residual, act, y);
                }
            } else {
                // y's layout is staged, or y is its own residual and the pass would write over it before reading it
                s = s != null ? s : takeStaging();
                Tensor yt = s.tensor(Staging.Y, lo, g);
                if (epilogue && fusesEpilogue(g, lo, lr, false, act)) {
                    rawForward(g, xr, w, bias, residual, act, yt);
                    reorder(yt, y);
                } else if (!epilogue) {
                    rawForward(g, xr, w, bias, yt);
                    reorder(yt, y);
                } else {
                    rawForward(g, xr, w, bias, yt);
                    Epilogues.apply(yt, residual, act, y);
                }
            }
        } finally {
            if (s != null && s != kept) {
                giveStaging(s);
            }
        }
    }

    /** gx (+)= the input gradient, all arguments checked; {@code kept} as for {@link #runForward}. */
    final void runBackwardData(ConvGeometry g, Tensor gy, Tensor w, Tensor gx, boolean accumulate, Staging kept) {
        Layout lgy = gy.layout(), lgx = gx.layout();
        int pick = choose(g, Pass.BACKWARD_DATA, lgy, lgx);
        Layout li = LAYOUTS[pick / LAYOUTS.length], lo = LAYOUTS[pick % LAYOUTS.length];
        if (li == lgy && lo == lgx) {
            rawBackwardData(g, gy, w, gx, accumulate);
            return;
        }
        Staging s = kept != null ? kept : takeStaging();
        try {
            Tensor gyr = gy;
            if (li != lgy) {
                gyr = s.tensor(Staging.GY, li, g);
                reorder(gy, gyr);
            }
            if (lo == lgx) {
                rawBackwardData(g, gyr, w, gx, accumulate);
            } else {
                Tensor gxt = s.tensor(Staging.GX, lo, g);
                if (accumulate) {
                    reorder(gx, gxt);
                }
                rawBackwardData(g, gyr, w, gxt, accumulate);
                reorder(gxt, gx);
            }
        } finally {
            if (s != kept) {
                giveStaging(s);
            }
        }
    }

    /** gw, gbias (+)= the weight and bias gradients, all arguments checked; {@code kept} as for {@link #runForward}. */
    final void runBackwardWeights(ConvGeometry g, Tensor x, Tensor gy, Tensor gw, Tensor gbias, boolean accumulate,
                                  Staging kept) {
        Layout lx = x.layout(), lgy = gy.layout();
        int pick = choose(g, Pass.BACKWARD_WEIGHTS, lx, lgy);
        Layout li = LAYOUTS[pick / LAYOUTS.length], lo = LAYOUTS[pick % LAYOUTS.length];
        if (li == lx && lo == lgy) {
            rawBackwardWeights(g, x, gy, gw, gbias, accumulate);
            return;
        }
        Staging s = kept != null ? kept : takeStaging();
        try {
            Tensor xr = x, gyr = gy;
            if (li != lx) {
                xr = s.tensor(Staging.X, li, g);
                reorder(x, xr);
            }
            if (lo != lgy) {
                gyr = s.tensor(Staging.GY, lo, g);
                reorder(gy, gyr);
            }
            rawBackwardWeights(g, xr, gyr, gw, gbias, accumulate);
        } finally {
            if (s != kept) {
                giveStaging(s);
            }
        }
    }

    /**
     * The layouts to run, as {@code in.ordinal() * 3 + out.ordinal()}: the tensors' own when taken, else
     * those needing one reorder, else two, NCHW first among equals.
     */
    private int choose(ConvGeometry g, Pass pass, Layout in, Layout out) {
        for (int cost = 0; cost <= 2; cost++) {
            for (int i = -1; i < LAYOUTS.length; i++) {
                Layout li = i < 0 ? in : LAYOUTS[i];
                if (i >= 0 && li == in) {
                    continue;
                }
                for (int o = -1; o < LAYOUTS.length; o++) {
                    Layout lo = o < 0 ? out : LAYOUTS[o];
                    if (o >= 0 && lo == out) {
                        continue;
                    }
                    if ((li != in ? 1 : 0) + (lo != out ? 1 : 0) == cost && runsLayouts(g, pass, li, lo)) {
                        return li.ordinal() * LAYOUTS.length + lo.ordinal();
                    }
                }
            }
        }
        return Layout.NCHW.ordinal() * LAYOUTS.length + Layout.NCHW.ordinal();
    }
}
