package dev.conv4j.fuzz;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.ConvAlgorithm;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import dev.conv4j.internal.engine.AbstractPlan;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.FloatPointer;

/**
 * One fuzz case: a public-API call of the blas engine (through JNI) decoded from the fuzzer's bytes,
 * and the same call on the naive engine as its reference. The choices cover the operation (the three
 * passes, their allocating and accumulating forms, the bias sums, plans with and without prepacked
 * weights), the layer (shapes, stride, padding and automatic padding, dilation, groups and depthwise
 * layers, the algorithm), the data (finite values of every magnitude, NaN, infinities, subnormals,
 * negative zero), the layout of each activation (x, y, gx, gy and a residual, mixed within a call), the
 * fused forward pass (a residual of its own or y itself, and an activation), how each tensor holds its
 * memory (its own, a view at an offset of a larger tensor, a reshape, a direct buffer or a JavaCPP
 * pointer at a position, one memory shared by all the call's tensors at chosen offsets) and misuse (a
 * closed tensor or plan, a null, a wrong shape, outputs over inputs, a residual partly over y, a plan
 * without weights).
 *
 * <p>{@link #run()} checks that the blas call either returns or throws an exception the API documents
 * ({@link IllegalArgumentException}, {@link IllegalStateException}, {@link UnsupportedOperationException})
 * with a message naming what is wrong; that a refused call left every tensor as it was and a call
 * that returned left its inputs as they were; that the naive engine, given the same tensors, refuses
 * or accepts the call alike (a blas plan whose kernels read NCHW must refuse another layout in the forms
 * without an epilogue, naming it); that NCHW16C outputs come out with zero padding channels; and that
 * the results agree, element by element in logical order, within the rounding
 * error of a float32 sum of the terms the definition adds (and, where Winograd may run, within
 * {@link ConvAlgorithm#WINOGRAD_4X4_TOLERANCE} of the largest sum of such terms), with NaN and
 * infinities where the definition puts them. A crash of the JVM ends the fuzzer.
 */
final class ApiCase {
    /**
     * What a case did: its operation, the kind of layer, the misuse it made (0: none; see {@link #misuse()}),
     * and whether the engines computed it or refused it.
     */
    record Outcome(Op op, Mode mode, int misuse, boolean computed, boolean layouts, boolean fused) {
        Outcome(Op op, Mode mode, int misuse, boolean computed) {
            this(op, mode, misuse, computed, false, false);
        }
    }

    enum Op { FORWARD, FORWARD_NEW, DATA, DATA_NEW, WEIGHTS, WEIGHTS_NEW, BIAS, PLAN_PREPACKED, PLAN_FORWARD, PLAN_DATA, PLAN_WEIGHTS }

    /** The kinds of layer: small ones of every sort, and shapes that reach the native kernels' other paths. */
    enum Mode { SMALL, SMALL_GROUPED, SMALL_DEPTHWISE, WINOGRAD, DEPTHWISE_WIDE, GEMM_WIDE, FREE }

    enum Role { X, W, B, Y, GY, GX, GW, GB, R }

    /** The residual of a fused forward pass: none, a tensor of its own, or y itself. */
    enum Residual { NONE, SEPARATE, IN_PLACE }

    enum Form { OWN, VIEW, RESHAPE, BUFFER, POINTER, SHARED }

    private static final ConvEngine NAIVE = ConvEngines.naive();
    private static final Layout[] LAYOUTS = {Layout.NCHW, Layout.NCHW, Layout.NHWC, Layout.NCHW16C};
    private static final ConvEngine[] BLAS = {ConvEngines.blas(1), ConvEngines.blas(2)};
    private static final float[] SPECIALS = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE,
        -Float.MAX_VALUE, 1e30f, -1e30f, 1e15f, Float.MIN_VALUE, Float.MIN_NORMAL, -0f, 0f, 1e-30f, 65504f, 3f, -7f};
    /** A message names the argument, parameter or state that is wrong. */
    private static final Pattern NAMES_SOMETHING = Pattern.compile(
            "(?i)\\b(x|w|y|gy|gx|gw|gb|bias|gbias|params|shape|inputShape|weightShape|stride|padding|dilation|groups"
                    + "|algorithm|weights?|input|output|channels|kernel|tensor|view|buffer|pointer|plan|memory)\\b");
    private static final int U_SHIFT = 24; // float32's unit roundoff is 2^-24
    /** Elements left unchecked because of the known issue described in {@link #compare(Role, float[], float[], float[], Map)}. */

    private final Choices in;
    private final List<Tensor> owned = new ArrayList<>();
    private final List<FloatPointer> pointers = new ArrayList<>();
    private final Map<Role, Tensor> t = new EnumMap<>(Role.class);
    private Conv2dPlan blasPlan, naivePlan;
    private Tensor shared;
    private long sharedNext;

    private Op op;
    private Mode mode;
    private ConvEngine blas;
    private Conv2dParams p;
    private int[] xs, ws, ys;
    private boolean accumulate, prepack, closePlan;
    private int misuse;
    private final Map<Role, Layout> layouts = new EnumMap<>(Role.class);
    private boolean fused;
    private Residual residual = Residual.NONE;
    private Activation act = Activation.NONE;

    ApiCase(byte[] data) {
        in = new Choices(data);
    }

    /** Decodes and runs the case; an AssertionError describes a failure. */
    Outcome run() {
        try {
            return decodeAndRun();
        } finally {
            if (blasPlan != null) {
                blasPlan.close();
            }
            if (naivePlan != null) {
                naivePlan.close();
            }
            for (Tensor o : owned) {
                o.close();
            }
            for (FloatPointer f : pointers) {
                f.deallocate();
            }
        }
    }

    private Outcome decodeAndRun() {
        blas = BLAS[in.pick(BLAS.length)];
        op = Op.values()[in.pick(Op.values().length)];
        mode = Mode.values()[in.pick(Mode.values().length)];
        accumulate = in.pick(3) == 0;
        try {
            layer();
        } catch (IllegalArgumentException e) {
            checkDocumented(e, "Conv2dParams.builder()");
            return new Outcome(op, mode, -1, false); // a parameter out of range: refused by the builder
        }
        ys = outputShape();
        for (Role r : List.of(Role.X, Role.Y, Role.GY, Role.GX, Role.R)) {
            layouts.put(r, LAYOUTS[in.pick(LAYOUTS.length)]);
        }
        if ((op == Op.FORWARD || op == Op.PLAN_FORWARD || op == Op.PLAN_PREPACKED) && in.flag()) {
            fused = true;
            residual = Residual.values()[in.pick(3)];
            Activation[] acts = {Activation.NONE, Activation.RELU, Activation.RELU6, null};
            act = acts[in.pick(acts.length)];
            if (act == null) {
                float a = SPECIALS[in.pick(SPECIALS.length)], b = SPECIALS[in.pick(SPECIALS.length)];
                act = Float.isNaN(a) || Float.isNaN(b) ? Activation.clamp(-1f, 1f) : Activation.clamp(Math.min(a, b), Math.max(a, b));
            }
        }
        Map<Role, Form> forms = new EnumMap<>(Role.class);
        for (Role r : roles()) {
            forms.put(r, Form.values()[in.pick(Form.values().length)]);
        }
        long total = 0;
        for (Role r : roles()) {
            total += storage(r, shapeOf(r)) + 8;
        }
        if (forms.containsValue(Form.SHARED)) {
            shared = own(Tensor.zeros((int) Math.min(total * 2, 1 << 20)));
        }
        misuse = in.pick(24);
        misuse = misuse <= 7 ? misuse : 0;
        try {
            for (Role r : roles()) {
                int[] s = shapeOf(r);
                if (misuse == 1 && in.flag()) {
                    s = perturb(s);
                }
                t.put(r, make(forms.get(r), s, layoutOf(r, s)));
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            checkDocumented(e, "making a tensor");
            return new Outcome(op, mode, misuse, false);
        }
        if (op == Op.FORWARD || op == Op.FORWARD_NEW || op == Op.PLAN_FORWARD || op == Op.PLAN_PREPACKED) {
            if (in.pick(3) == 0) {
                t.put(Role.B, null); // no bias
            }
        } else if ((op == Op.WEIGHTS || op == Op.PLAN_WEIGHTS) && in.pick(3) == 0) {
            t.put(Role.GB, null);
        }
        prepack = op == Op.PLAN_PREPACKED && in.pick(8) != 0;
        closePlan = false;
        misuse();
        return compare();
    }

    // ---- the layer --------------------------------------------------------------------------------

    private void layer() {
        Conv2dParams.Builder b = Conv2dParams.builder();
        int n = in.range(1, 3), kh = 1 + in.pick(5), kw = 1 + in.pick(5), g = 1, c, o, h, w;
        switch (mode) {
            case WINOGRAD:
                c = in.range(16, 24);
                o = in.range(16, 24);
                kh = kw = 3;
                h = in.range(3, 12);
                w = in.range(3, 12);
                n = in.range(1, 2);
                break;
            case DEPTHWISE_WIDE:
                g = c = in.range(15, 17);
                o = c * in.range(1, 2);
                h = in.range(1, 4);
                w = in.range(14, 70);
                n = 1;
                kh = kw = in.flag() ? 3 : 5;
                break;
            case GEMM_WIDE:
                c = in.range(1, 4);
                o = in.range(16, 24);
                h = in.range(14, 20);
                w = in.range(14, 20);
                n = 1;
                kh = kw = 1 + 2 * in.pick(2);
                break;
            case SMALL_GROUPED:
                g = in.range(2, 4);
                c = g * in.range(1, 3);
                o = g * in.range(1, 4);
                h = in.range(1, 12);
                w = in.range(1, 12);
                break;
            case SMALL_DEPTHWISE:
                g = c = in.range(1, 8);
                o = c * in.range(1, 3);
                h = in.range(1, 12);
                w = in.range(1, 12);
                break;
            case FREE:
                // every dimension on its own: most of these do not fit together
                g = in.range(0, 4);
                c = in.range(1, 6);
                o = in.range(1, 6);
                h = in.range(1, 8);
                w = in.range(1, 8);
                break;
            default:
                c = in.range(1, 6);
                o = in.range(1, 6);
                h = in.range(1, 12);
                w = in.range(1, 12);
                break;
        }
        int[] strides = {1, 1, 1, 2, 3, 4}, dilations = {1, 1, 1, 2, 3};
        int sh = strides[in.pick(strides.length)], sw = in.flag() ? sh : strides[in.pick(strides.length)];
        int dh = dilations[in.pick(dilations.length)], dw = in.flag() ? dh : dilations[in.pick(dilations.length)];
        if (mode == Mode.WINOGRAD && in.pick(4) != 0) {
            sh = sw = dh = dw = 1;
        }
        if (mode == Mode.FREE && in.pick(4) == 0) {
            sh -= in.pick(3); // zero or negative: refused
            dw -= in.pick(3);
        }
        b.stride(sh, sw).dilation(dh, dw).groups(g);
        int autoPad = in.pick(10);
        if (autoPad < 3) {
            b.autoPad(Conv2dParams.AutoPad.values()[1 + autoPad]); // SAME_UPPER, SAME_LOWER, VALID
        } else if (autoPad < 6) {
            int pad = in.pick(4);
            b.padding(pad);
        } else {
            b.padding(in.pick(4), in.pick(4), in.pick(4), in.pick(4) - (mode == Mode.FREE ? in.pick(2) : 0));
        }
        int a = in.pick(8);
        b.algorithm(a < 4 ? ConvAlgorithm.AUTO : ConvAlgorithm.values()[a - 4]);
        p = b.build();
        xs = new int[] {n, c, h, w};
        ws = new int[] {o, g >= 1 && c % g == 0 ? c / g : Math.max(1, c / Math.max(1, g)), kh, kw};
        if (mode == Mode.FREE && in.pick(4) == 0) {
            ws[1] = in.range(1, 4);
        }
    }

    /** y's shape for the layer, or a guess when the layer is refused (the call must then refuse too). */
    private int[] outputShape() {
        try {
            return p.outputShape(xs, ws);
        } catch (IllegalArgumentException e) {
            checkDocumented(e, "outputShape");
            return new int[] {xs[0], ws[0], 1 + in.pick(3), 1 + in.pick(3)};
        }
    }

    private List<Role> roles() {
        switch (op) {
            case FORWARD:
            case PLAN_FORWARD:
            case PLAN_PREPACKED:
                return residual == Residual.SEPARATE ? List.of(Role.X, Role.W, Role.B, Role.Y, Role.R)
                        : List.of(Role.X, Role.W, Role.B, Role.Y);
            case FORWARD_NEW:
                return List.of(Role.X, Role.W, Role.B);
            case DATA:
            case PLAN_DATA:
                return List.of(Role.GY, Role.W, Role.GX);
            case DATA_NEW:
                return List.of(Role.GY, Role.W);
            case WEIGHTS:
            case PLAN_WEIGHTS:
                return List.of(Role.X, Role.GY, Role.GW, Role.GB);
            case WEIGHTS_NEW:
                return List.of(Role.X, Role.GY);
            default:
                return List.of(Role.GY);
        }
    }

    private int[] shapeOf(Role r) {
        switch (r) {
            case X:
            case GX:
                return xs.clone();
            case W:
            case GW:
                return ws.clone();
            case B:
            case GB:
                return new int[] {ws[0]};
            case R:
                return ys.clone();
            default:
                return ys.clone();
        }
    }

    private boolean isOutput(Role r) {
        return r == Role.Y || r == Role.GX || r == Role.GW || r == Role.GB;
    }

    /**
     * An input of the call itself, which must come back unchanged: a prepacking plan's forward call
     * reads its own copy of the weights, so its output may lie over them; and a residual that a call
     * computed over y's memory was y itself (a partial overlap is refused), added to in place.
     */
    private boolean isInput(Role r) {
        return !isOutput(r) && !(op == Op.PLAN_PREPACKED && prepack && (r == Role.W || r == Role.B))
                && !(r == Role.R && residualOverY());
    }

    private boolean residualOverY() {
        Tensor res = t.get(Role.R), y = t.get(Role.Y);
        return res != null && y != null && isUsable(res) && isUsable(y) && res.overlaps(y);
    }

    private int[] perturb(int[] s) {
        switch (in.pick(3)) {
            case 0: {
                int[] q = s.clone();
                int i = in.pick(q.length);
                q[i] = Math.max(1, q[i] + (in.flag() ? 1 : -1));
                return q;
            }
            case 1:
                return new int[] {count(s)}; // rank 1
            default:
                return s.length > 1 ? Arrays.copyOf(s, s.length - 1) : new int[] {1, s[0]};
        }
    }

    /** The layout a role's tensor gets: its choice for an activation of rank 4, else NCHW. */
    private Layout layoutOf(Role r, int[] s) {
        Layout l = layouts.get(r);
        return l == null || s.length != 4 ? Layout.NCHW : l;
    }

    private int storage(Role r, int[] s) {
        return (int) Math.min(layoutOf(r, s).storageSize(nonEmpty(s)), 1 << 24);
    }

    private static int[] nonEmpty(int[] s) {
        int[] q = s.clone();
        for (int i = 0; i < q.length; i++) {
            q[i] = Math.max(1, q[i]);
        }
        return q;
    }

    private static int count(int[] s) {
        long n = 1;
        for (int d : s) {
            n *= Math.max(0, d);
        }
        return (int) Math.min(n, 1 << 24);
    }

    // ---- tensors ----------------------------------------------------------------------------------

    private Tensor own(Tensor x) {
        owned.add(x);
        return x;
    }

    private Tensor make(Form form, int[] s, Layout layout) {
        int n = count(s), pos = in.pick(8), extra = in.pick(4);
        if (layout != Layout.NCHW) {
            n = (int) layout.storageSize(s);
        }
        float[] data = data(n);
        Tensor x;
        switch (form) {
            case VIEW:
                x = own(own(Tensor.zeros(n + pos + extra)).view(pos, layout, s));
                break;
            case RESHAPE:
                x = layout == Layout.NCHW ? own(own(Tensor.zeros(n)).reshape(s)) : own(own(Tensor.zeros(n)).view(0, layout, s));
                break;
            case BUFFER: {
                FloatBuffer f = ByteBuffer.allocateDirect(4 * (n + pos + extra)).order(ByteOrder.nativeOrder()).asFloatBuffer();
                x = own(Tensor.wrap(layout, f.position(pos), s));
                break;
            }
            case POINTER: {
                FloatPointer f = new FloatPointer(n + pos + extra);
                pointers.add(f);
                x = own(Tensor.wrap(layout, f.position(pos), s));
                break;
            }
            case SHARED: {
                // packed one after another, or at any offset (inputs may overlap; an output over an input is refused)
                long at = in.pick(4) == 0 ? in.index((int) Math.max(1, shared.size() - n)) : sharedNext + pos;
                at = Math.max(0, Math.min(at, shared.size() - n));
                sharedNext = at + n;
                x = own(shared.view(at, layout, s));
                break;
            }
            default:
                x = own(Tensor.zeros(layout, s));
                break;
        }
        x.copyFrom(data);
        return x;
    }

    /** Values for a tensor: one of four distributions, then up to three special values at chosen places. */
    private float[] data(int n) {
        float[] a = new float[n];
        int kind = in.pick(4);
        Random r = new Random(in.seed());
        for (int i = 0; i < n; i++) {
            switch (kind) {
                case 0: a[i] = r.nextFloat() * 2 - 1; break;
                case 1: a[i] = r.nextInt(7) - 3; break;
                case 2: a[i] = (float) ((r.nextBoolean() ? 1 : -1) * Math.pow(10, r.nextInt(31) - 15) * r.nextFloat()); break;
                default: a[i] = 0; break;
            }
        }
        int specials = in.pick(4);
        for (int k = 0; k < specials && n > 0; k++) {
            int at = in.index(n);
            a[at] = in.pick(4) == 0 ? in.rawFloat() : SPECIALS[in.pick(SPECIALS.length)];
        }
        return a;
    }

    // ---- misuse -----------------------------------------------------------------------------------

    /**
     * Misuse, one in three cases: 1 a wrong shape, 2 a closed tensor, 3 a null argument, 4 an output over
     * an input's memory, 5 a closed plan, 6 null parameters, 7 a residual partly over y.
     */
    private void misuse() {
        List<Role> present = new ArrayList<>();
        for (Role r : roles()) {
            if (t.get(r) != null) {
                present.add(r);
            }
        }
        switch (misuse) {
            case 2: // a closed tensor (or the tensor a view is of)
                t.get(present.get(in.pick(present.size()))).close();
                break;
            case 3: // a null argument
                t.put(present.get(in.pick(present.size())), null);
                break;
            case 4: { // an output over an input's memory
                Role out = null, inp = null;
                for (Role r : present) {
                    if (isOutput(r)) {
                        out = r;
                    } else if (inp == null || in.flag()) {
                        inp = r;
                    }
                }
                Tensor src = t.get(inp);
                if (out != null && inp != null && src.storageSize() >= t.get(out).storageSize()) {
                    t.put(out, own(src.view(0, t.get(out).layout(), t.get(out).shape())));
                }
                break;
            }
            case 7: { // a residual that shares some of y's memory without being y
                Tensor y = t.get(Role.Y);
                if (residual == Residual.SEPARATE && y != null && t.get(Role.R) != null) {
                    int[] s = t.get(Role.R).shape();
                    long need = layoutOf(Role.R, s).storageSize(s);
                    Tensor room = own(Tensor.zeros((int) (y.storageSize() + need)));
                    Tensor ys2 = own(room.view(0, y.layout(), y.shape()));
                    ys2.copyFrom(y.toArray());
                    t.put(Role.Y, ys2);
                    t.put(Role.R, own(room.view(1 + in.pick((int) Math.min(y.storageSize(), 200)), layoutOf(Role.R, s), s)));
                    t.get(Role.R).copyFrom(data((int) need));
                }
                break;
            }
            case 5:
                closePlan = true;
                break;
            case 6:
                p = null;
                break;
            default:
                break;
        }
    }

    // ---- the calls --------------------------------------------------------------------------------

    /** What one engine's call did: the exception it threw, or its outputs. */
    private static final class Result {
        RuntimeException refused;
        final Map<Role, float[]> outputs = new EnumMap<>(Role.class);
    }

    private Result call(ConvEngine e, boolean isBlas) {
        Result res = new Result();
        Tensor x = t.get(Role.X), w = t.get(Role.W), b = t.get(Role.B), y = t.get(Role.Y), gy = t.get(Role.GY);
        Tensor gx = t.get(Role.GX), gw = t.get(Role.GW), gb = t.get(Role.GB);
        try {
            switch (op) {
                case FORWARD:
                    if (fused) {
                        e.forward(p, x, w, b, residualOf(y), act, y);
                    } else {
                        e.forward(p, x, w, b, y);
                    }
                    break;
                case FORWARD_NEW:
                    keep(res, Role.Y, e.forward(p, x, w, b));
                    break;
                case DATA:
                    e.backwardData(p, gy, w, gx, accumulate);
                    break;
                case DATA_NEW:
                    keep(res, Role.GX, e.backwardData(p, gy, w, xs));
                    break;
                case WEIGHTS:
                    e.backwardWeights(p, x, gy, gw, gb, accumulate);
                    break;
                case WEIGHTS_NEW:
                    keep(res, Role.GW, e.backwardWeights(p, x, gy, ws));
                    break;
                case BIAS:
                    keep(res, Role.GB, e.backwardBias(gy));
                    break;
                default: {
                    Conv2dPlan plan = e.plan(p, xs, ws);
                    if (isBlas) {
                        blasPlan = plan;
                    } else {
                        naivePlan = plan;
                    }
                    if (closePlan) {
                        plan.close();
                    }
                    switch (op) {
                        case PLAN_PREPACKED:
                            if (prepack) {
                                plan.prepackWeights(w, b);
                            }
                            if (fused) {
                                plan.forward(x, residualOf(y), act, y);
                            } else {
                                plan.forward(x, y);
                            }
                            break;
                        case PLAN_FORWARD:
                            if (fused) {
                                plan.forward(x, w, b, residualOf(y), act, y);
                            } else {
                                plan.forward(x, w, b, y);
                            }
                            break;
                        case PLAN_DATA:
                            plan.backwardData(gy, w, gx, accumulate);
                            break;
                        default:
                            plan.backwardWeights(x, gy, gw, gb, accumulate);
                            break;
                    }
                    break;
                }
            }
        } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException refused) {
            checkDocumented(refused, e.name());
            res.refused = refused;
            return res;
        } catch (RuntimeException other) {
            throw new AssertionError(e.name() + " threw an exception the API does not document for " + this, other);
        }
        for (Role r : List.of(Role.Y, Role.GX, Role.GW, Role.GB)) {
            if (roles().contains(r) && t.get(r) != null) {
                res.outputs.put(r, TestData.logical(t.get(r)));
            }
        }
        return res;
    }

    /** The fused call's residual: none, its own tensor, or y itself. */
    private Tensor residualOf(Tensor y) {
        return residual == Residual.IN_PLACE ? y : residual == Residual.SEPARATE ? t.get(Role.R) : null;
    }

    private static void keep(Result res, Role r, Tensor made) {
        try (made) {
            res.outputs.put(r, TestData.logical(made));
        }
    }

    private void checkDocumented(RuntimeException e, String where) {
        String m = e.getMessage();
        if (m == null || m.isBlank() || !NAMES_SOMETHING.matcher(m).find()) {
            throw new AssertionError(where + " threw " + e.getClass().getSimpleName() + " without a message naming what is"
                    + " wrong: '" + m + "' in " + this, e);
        }
    }

    /** Runs both engines on the same tensors (restored in between) and compares what they did. */
    private Outcome compare() {
        Map<Role, float[]> before = snapshot();
        Result got = call(blas, true);
        Map<Role, float[]> after = snapshot();
        for (Role r : before.keySet()) {
            if ((got.refused != null || isInput(r)) && !sameBits(before.get(r), after.get(r))) {
                throw new AssertionError("blas " + (got.refused != null ? "refused (" + got.refused.getMessage() + ") but changed "
                        : "changed its input ") + r + " in " + this);
            }
        }
        if (got.refused == null) {
            for (Role r : List.of(Role.Y, Role.GX)) {
                Tensor o = t.get(r);
                if (roles().contains(r) && o != null && o.layout() == Layout.NCHW16C && !paddingZero(o.shape(), after.get(r))) {
                    throw new AssertionError("blas left a padding channel of the NCHW16C " + r + " nonzero in " + this);
                }
            }
        }
        restore(before);
        if (blasPlan != null && !(blasPlan instanceof AbstractPlan) && !fused && otherLayouts()) {
            // a plan that hands tensors to kernels reading NCHW, and does not stage, refuses other layouts
            if (got.refused == null) {
                throw new AssertionError("a blas plan computed a call in layouts it does not stage in " + this);
            }
            return new Outcome(op, mode, misuse, false, true, fused);
        }
        if (blasPlan != null && !plannedShapes()) {
            // Conv2dPlan: tensors must have exactly the planned shapes. The naive engine's plan checks
            // fewer of them (it runs the engine on any shapes the engine accepts), so the contract is
            // the reference here, not the naive plan.
            if (got.refused == null) {
                throw new AssertionError("a blas plan computed a call on tensors of other shapes than planned in " + this);
            }
            return new Outcome(op, mode, misuse, false);
        }
        Result ref = call(NAIVE, false);
        // A blas plan that predates the fused forms gets them from Conv2dPlan's defaults, which check the
        // arguments before the plan can say that it has no prepacked weights: when a call is wrong in more
        // than one way, which of them it names first is not specified.
        boolean bridged = blasPlan != null && !(blasPlan instanceof AbstractPlan) && fused;
        if ((got.refused == null) != (ref.refused == null)
                || got.refused != null && got.refused.getClass() != ref.refused.getClass() && !bridged) {
            throw new AssertionError("blas " + describe(got) + " but naive " + describe(ref) + " in " + this,
                    got.refused != null ? got.refused : ref.refused);
        }
        if (got.refused != null) {
            return new Outcome(op, mode, misuse, false, otherLayouts(), fused);
        }
        Map<Role, float[]> bounds = bounds(before);
        for (Map.Entry<Role, float[]> e : ref.outputs.entrySet()) {
            Role r = e.getKey();
            compare(r, got.outputs.get(r), e.getValue(), bounds.get(r), before);
        }
        return new Outcome(op, mode, misuse, true, otherLayouts(), fused);
    }

    /** Whether an activation the call is given (open, of rank 4) has a layout other than NCHW. */
    private boolean otherLayouts() {
        for (Role r : roles()) {
            Tensor x = t.get(r);
            if (r != Role.W && r != Role.B && r != Role.GW && r != Role.GB && x != null && isUsable(x) && x.layout() != Layout.NCHW) {
                return true;
            }
        }
        return false;
    }

    private static boolean paddingZero(int[] s, float[] mem) {
        int blocks = (s[1] + 15) / 16, p = s[2] * s[3];
        for (int n = 0; n < s[0]; n++) {
            for (int c = s[1]; c < blocks * 16; c++) {
                for (int q = 0; q < p; q++) {
                    if (Float.floatToRawIntBits(mem[((n * blocks + c / 16) * p + q) * 16 + c % 16]) != 0) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    /** Whether every tensor given to the plan's call has its planned shape (or is null, or closed: refused anyway). */
    private boolean plannedShapes() {
        for (Role r : roles()) {
            Tensor x = t.get(r);
            if (x != null && !x.isClosed() && !Arrays.equals(x.shape(), shapeOf(r))) {
                return false;
            }
        }
        return true;
    }

    private static String describe(Result r) {
        return r.refused == null ? "computed the call" : "refused it: " + r.refused;
    }

    private Map<Role, float[]> snapshot() {
        Map<Role, float[]> s = new EnumMap<>(Role.class);
        for (Role r : roles()) {
            Tensor x = t.get(r);
            if (x != null && !x.isClosed() && isUsable(x)) {
                s.put(r, x.toArray());
            }
        }
        return s;
    }

    private static boolean isUsable(Tensor x) {
        try {
            x.checkOpen();
            return true;
        } catch (IllegalStateException closedUnderneath) {
            return false;
        }
    }

    /**
     * Puts every tensor back as it was (tensors may share memory; all snapshots were taken of the same
     * memory at once, so the order does not matter). Written raw, through a buffer: copyFrom would zero an
     * NCHW16C tensor's padding channels, which may lie over another tensor's elements.
     */
    private void restore(Map<Role, float[]> s) {
        for (Map.Entry<Role, float[]> e : s.entrySet()) {
            t.get(e.getKey()).buffer().put(0, e.getValue());
        }
    }

    private static boolean sameBits(float[] a, float[] b) {
        if (a.length != b.length) {
            return false;
        }
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                return false;
            }
        }
        return true;
    }

    // ---- the comparison ---------------------------------------------------------------------------

    /** The input's shape of the call that was computed (the tensors' own, which a misuse may have changed). */
    private int[] actualIn() {
        Tensor x = t.get(Role.X) != null ? t.get(Role.X) : t.get(Role.GX);
        return x != null ? x.shape() : xs;
    }

    private int[] actualW() {
        Tensor w = t.get(Role.W) != null ? t.get(Role.W) : t.get(Role.GW);
        return w != null ? w.shape() : ws;
    }

    private int[] actualOut() {
        Tensor y = t.get(Role.Y) != null ? t.get(Role.Y) : t.get(Role.GY);
        return y != null ? y.shape() : ys;
    }

    /** Terms each output element sums. */
    private int terms(Role r) {
        if (op == Op.BIAS) {
            int[] s = actualOut();
            return s[0] * s[2] * s[3] + 1;
        }
        ConvGeometry g = ConvGeometry.of(p, actualIn(), actualW());
        switch (r) {
            case Y:
                return g.c / g.groups * g.kh * g.kw + 1;
            case GX:
                return g.o / g.groups * g.kh * g.kw + 1;
            default:
                return g.n * g.oh * g.ow + 1;
        }
    }

    /**
     * For each output, the naive engine's result on the absolute values of the finite inputs (and of
     * the output's previous values when accumulating): the sum of the magnitudes of the terms each
     * element adds, which bounds a float32 sum's rounding error.
     */
    private Map<Role, float[]> bounds(Map<Role, float[]> before) {
        Map<Role, float[]> out = new EnumMap<>(Role.class);
        try (Tensor ax = abs(before, Role.X); Tensor aw = abs(before, Role.W); Tensor ab = abs(before, Role.B);
             Tensor agy = abs(before, Role.GY); Tensor ar = fusedResidualAbs(before)) {
            Conv2dParams q = op == Op.BIAS ? null : p.toBuilder().algorithm(ConvAlgorithm.AUTO).build();
            switch (op) {
                case FORWARD:
                case FORWARD_NEW:
                case PLAN_FORWARD:
                case PLAN_PREPACKED:
                    try (Tensor y = NAIVE.forward(q, ax, aw, ab)) {
                        float[] sums = TestData.logical(y);
                        if (ar != null) {
                            float[] rr = TestData.logical(ar);
                            for (int i = 0; i < sums.length; i++) {
                                sums[i] += rr[i];
                            }
                        }
                        out.put(Role.Y, sums);
                    }
                    break;
                case DATA:
                case DATA_NEW:
                case PLAN_DATA:
                    try (Tensor gx = NAIVE.backwardData(q, agy, aw, actualIn())) {
                        out.put(Role.GX, plusPrevious(TestData.logical(gx), logicalBefore(before, Role.GX)));
                    }
                    break;
                case WEIGHTS:
                case WEIGHTS_NEW:
                case PLAN_WEIGHTS:
                    try (Tensor gw = NAIVE.backwardWeights(q, ax, agy, actualW()); Tensor gb = NAIVE.backwardBias(agy)) {
                        out.put(Role.GW, plusPrevious(gw.toArray(), before.get(Role.GW)));
                        out.put(Role.GB, plusPrevious(gb.toArray(), before.get(Role.GB)));
                    }
                    break;
                default:
                    try (Tensor gb = NAIVE.backwardBias(agy)) {
                        out.put(Role.GB, gb.toArray());
                    }
                    break;
            }
        }
        return out;
    }

    private float[] plusPrevious(float[] sums, float[] previous) {
        if (accumulate && previous != null && (op == Op.DATA || op == Op.PLAN_DATA || op == Op.WEIGHTS || op == Op.PLAN_WEIGHTS)) {
            for (int i = 0; i < sums.length; i++) {
                sums[i] += Float.isFinite(previous[i]) ? Math.abs(previous[i]) : 0;
            }
        }
        return sums;
    }

    private Tensor abs(Map<Role, float[]> before, Role r) {
        float[] v = before.get(r);
        if (v == null) {
            return null;
        }
        float[] a = new float[v.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = Float.isFinite(v[i]) ? Math.abs(v[i]) : 0;
        }
        return Tensor.of(t.get(r).layout(), a, t.get(r).shape());
    }

    /** The magnitudes of a fused call's residual (y's values before the call when it is y itself), or null. */
    private Tensor fusedResidualAbs(Map<Role, float[]> before) {
        return !fused || residual == Residual.NONE ? null : abs(before, residual == Residual.IN_PLACE ? Role.Y : Role.R);
    }

    /** A snapshot (memory order) in logical order, or null. */
    private float[] logicalBefore(Map<Role, float[]> before, Role r) {
        float[] v = before.get(r);
        if (v == null) {
            return null;
        }
        try (Tensor x = Tensor.of(t.get(r).layout(), v, t.get(r).shape())) {
            return TestData.logical(x);
        }
    }

    private static float maxAbsFinite(float[] a) {
        float m = 0;
        if (a != null) {
            for (float v : a) {
                if (Float.isFinite(v)) {
                    m = Math.max(m, Math.abs(v));
                }
            }
        }
        return m;
    }

    private static boolean allFinite(float[] a) {
        if (a != null) {
            for (float v : a) {
                if (!Float.isFinite(v)) {
                    return false;
                }
            }
        }
        return true;
    }

    private void compare(Role r, float[] got, float[] ref, float[] bound, Map<Role, float[]> before) {
        if (got == null || got.length != ref.length) {
            throw new AssertionError("blas gave no " + r + " of the reference's size in " + this);
        }
        boolean forwardLike = r == Role.Y, dataLike = r == Role.GX;
        boolean winograd = (forwardLike || dataLike) && ConvAlgorithm.winogradApplies(ConvGeometry.of(p, actualIn(), actualW()))
                && (p.algorithm() == ConvAlgorithm.AUTO || p.algorithm().isWinograd());
        float[] a = before.get(forwardLike ? Role.X : Role.GY), w = before.get(Role.W);
        if (op != Op.BIAS && p.algorithm().isWinograd() && (forwardLike || dataLike)) {
            // An explicitly requested Winograd keeps its raw values (README, Algorithms): compared only
            // for finite inputs that its transforms cannot overflow. F(4x4)'s input transform grows
            // values up to 100-fold, its weight transform (24·G) 576-fold, its output transform 324-fold,
            // so an input gradient of a 3.4e38 output gradient and zero weights comes out NaN, not 0.
            float[] b = forwardLike ? before.get(Role.B) : null;
            double ma = maxAbsFinite(a), mw = maxAbsFinite(w);
            if (!allFinite(a) || !allFinite(w) || !allFinite(b) || ma > 1e36 || mw > 1e35 || ma * mw * terms(r) * 2e7 > 1e38) {
                return;
            }
        }
        double k = terms(r);
        // Winograd: its tolerance, scale-free against the largest sum of terms, and the transforms' own
        // underflow (F(2x2) halves the weights: a subnormal weight can vanish before it meets a large input)
        double scale = winograd ? ConvAlgorithm.WINOGRAD_4X4_TOLERANCE * maxAbsFinite(a) * maxAbsFinite(w) * k
                + 1e5 * k * Float.MIN_VALUE * ((double) maxAbsFinite(a) + maxAbsFinite(w)) : 0;
        for (int i = 0; i < ref.length; i++) {
            double bnd = bound[i];
            if (!(bnd < 1e37) || scale > 1e37) {
                continue; // float32 partial sums may overflow where the naive engine's double sums do not: documented
            }
            float e = ref[i], v = got[i];
            boolean ok;
            if (Float.isNaN(e)) {
                ok = Float.isNaN(v);
            } else if (Float.isInfinite(e)) {
                ok = v == e;
            } else {
                double tol = 2 * (k + 2) * Math.scalb(bnd, -U_SHIFT) + 2 * Math.ulp(e) + scale + k * Float.MIN_NORMAL;
                ok = Math.abs((double) v - e) <= tol;
            }
            if (!ok) {
                throw new AssertionError(String.format("blas %s[%d] = %s but naive gives %s (sum of |terms| %s) in %s",
                        r, i, v, e, bnd, this));
            }
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(op).append(fused ? " fused (residual " + residual + ", " + act + ")" : "").append(' ').append(mode).append(" on ").append(blas == null ? "?" : dev.conv4j.Engines.label(blas))
                .append(", ").append(p).append(", x ").append(Arrays.toString(xs)).append(", w ").append(Arrays.toString(ws))
                .append(", y ").append(Arrays.toString(ys));
        if (accumulate) {
            sb.append(", accumulate");
        }
        for (Map.Entry<Role, Tensor> e : t.entrySet()) {
            Tensor x = e.getValue();
            sb.append(", ").append(e.getKey()).append(x == null ? " null" : " " + Arrays.toString(x.shape())
                    + (x.isClosed() ? " closed" : " " + layoutOf(e.getKey(), x.shape())));
        }
        return sb.append(" (").append(in.consumed()).append(" bytes of input)").toString();
    }
}
