package dev.conv4j.fuzz;

import dev.conv4j.Conv1dParams;
import dev.conv4j.Conv2dParams.AutoPad;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvTranspose1dParams;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose2dPlan;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
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
 * One fuzz case of {@link ApiFuzzTest#transposedBlasMatchesNaiveOrRefuses}: a public-API call of the blas
 * engine on the operations beside the 2-D convolution, decoded from the fuzzer's bytes, and the same call
 * on the naive engine as its reference. The choices cover the operation (the 2-D transposed convolution's
 * three passes, its allocating and accumulating forms and its plan with and without prepacked weights;
 * the 1-D transposed convolution's and the 1-D convolution's passes), the layer (shapes, stride, padding,
 * output padding beyond the stride, automatic padding and requested output sizes, dilation, groups,
 * depthwise layers, wider layers that reach other kernels, and free dimensions that seldom fit), the data
 * (finite values of every magnitude, NaN, infinities, subnormals, negative zero), the layout of each 2-D
 * activation, how each tensor holds its memory (its own, a view at an offset of a larger tensor, a
 * reshape, a direct buffer or a JavaCPP pointer at a position, one memory shared by all the call's
 * tensors) and misuse (a wrong shape, a closed tensor, a null, an output over an input, a closed plan,
 * null parameters, a plan without weights).
 *
 * <p>{@link #run()} checks, as {@link ApiCase} does, that the blas call returns or throws a documented
 * exception with a message naming what is wrong; that a refused call left every tensor as it was and a
 * call that returned left its inputs as they were; that the naive engine, given the same tensors,
 * refuses or accepts the call alike; that NCHW16C outputs keep zero padding channels; and that the
 * results agree element by element within the rounding error of a float32 sum of the terms the
 * definition adds, with NaN and infinities where the naive engine has them.
 */
final class TransposedApiCase {
    record Outcome(Op op, Mode mode, int misuse, boolean computed, boolean layouts) {
    }

    enum Op {
        T2_FORWARD, T2_FORWARD_NEW, T2_DATA, T2_WEIGHTS, T2_PLAN_PREPACKED, T2_PLAN_FORWARD, T2_PLAN_DATA, T2_PLAN_WEIGHTS,
        T1_FORWARD, T1_FORWARD_NEW, T1_DATA, T1_WEIGHTS, C1_FORWARD, C1_FORWARD_NEW, C1_DATA, C1_WEIGHTS;

        boolean plan() {
            return name().startsWith("T2_PLAN");
        }

        boolean twoD() {
            return name().startsWith("T2");
        }

        boolean conv() {
            return name().startsWith("C1");
        }

        boolean forward() {
            return name().contains("FORWARD") || this == T2_PLAN_PREPACKED;
        }

        boolean data() {
            return name().endsWith("DATA");
        }

        boolean allocates() {
            return name().endsWith("_NEW");
        }
    }

    /** The kinds of layer: small ones of every sort, staged windows, derived padding, wider ones, and free dimensions. */
    enum Mode { SMALL, GROUPED, DEPTHWISE, STAGED, DERIVED, WIDE, FREE }

    enum Role { X, W, B, Y, GY, GX, GW, GB }

    enum Form { OWN, VIEW, RESHAPE, BUFFER, POINTER, SHARED }

    private static final ConvEngine NAIVE = ConvEngines.naive();
    private static final ConvEngine[] BLAS = {ConvEngines.blas(1), ConvEngines.blas(2)};
    private static final Layout[] LAYOUTS = {Layout.NCHW, Layout.NCHW, Layout.NHWC, Layout.NCHW16C};
    private static final float[] SPECIALS = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE,
        -Float.MAX_VALUE, 1e30f, -1e30f, 1e15f, Float.MIN_VALUE, Float.MIN_NORMAL, -0f, 0f, 1e-30f, 65504f, 3f, -7f};
    private static final Pattern NAMES_SOMETHING = Pattern.compile(
            "(?i)\\b(x|w|y|gy|gx|gw|gb|bias|gbias|params|shape|stride|padding|output padding|output size|dilation|groups"
                    + "|autoPad|weights?|input|output|channels|kernel|tensor|view|buffer|pointer|plan|memory|prepack\\w*)\\b");
    private static final int U_SHIFT = 24;

    private final Choices in;
    private final List<Tensor> owned = new ArrayList<>();
    private final List<FloatPointer> pointers = new ArrayList<>();
    private final Map<Role, Tensor> t = new EnumMap<>(Role.class);
    private final Map<Role, Layout> layouts = new EnumMap<>(Role.class);
    private ConvTranspose2dPlan blasPlan, naivePlan;
    private Tensor shared;
    private long sharedNext;

    private Op op;
    private Mode mode;
    private ConvEngine blas;
    private Object p;
    private int[] xs, ws, ys;
    private boolean accumulate, prepack, closePlan;
    private int misuse;

    TransposedApiCase(byte[] data) {
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
            checkDocumented(e, "a parameter builder");
            return new Outcome(op, mode, -1, false, false); // a parameter out of range: refused by the builder
        }
        ys = outputShape();
        if (op.twoD()) {
            for (Role r : List.of(Role.X, Role.Y, Role.GY, Role.GX)) {
                layouts.put(r, LAYOUTS[in.pick(LAYOUTS.length)]);
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
            return new Outcome(op, mode, misuse, false, false);
        }
        if (op.forward() && in.pick(3) == 0) {
            t.put(Role.B, null);
        } else if (!op.forward() && !op.data() && in.pick(3) == 0) {
            t.put(Role.GB, null);
        }
        prepack = op == Op.T2_PLAN_PREPACKED && !(misuse == 7 || in.pick(8) == 0);
        misuse();
        return compare();
    }

    // ---- the layer --------------------------------------------------------------------------------

    private void layer() {
        int n = in.range(1, 3), k = 1 + in.pick(4), kh = op.twoD() ? 1 + in.pick(4) : 1, g = 1, cin, cout, h, w;
        switch (mode) {
            case GROUPED:
                g = in.range(2, 4);
                cin = g * in.range(1, 3);
                cout = g * in.range(1, 3);
                h = in.range(1, 8);
                w = in.range(1, 9);
                break;
            case DEPTHWISE:
                g = cin = in.range(1, 8);
                cout = cin * in.range(1, 2);
                h = in.range(1, 8);
                w = in.range(1, 9);
                break;
            case WIDE:
                cin = in.range(8, 24);
                cout = in.range(8, 24);
                h = in.range(4, 14);
                w = in.range(8, 20);
                n = in.range(1, 2);
                break;
            case FREE:
                // every dimension on its own: most of these do not fit together
                g = in.range(0, 4);
                cin = in.range(1, 6);
                cout = in.range(1, 6);
                h = in.range(1, 8);
                w = in.range(1, 8);
                break;
            default:
                cin = in.range(1, 6);
                cout = in.range(1, 6);
                h = in.range(1, 8);
                w = in.range(1, 9);
        }
        int[] strides = {1, 1, 1, 2, 3, 4}, dilations = {1, 1, 1, 2, 3};
        int sh = strides[in.pick(strides.length)], sw = in.flag() ? sh : strides[in.pick(strides.length)];
        int dh = dilations[in.pick(dilations.length)], dw = in.flag() ? dh : dilations[in.pick(dilations.length)];
        int oph = in.pick(Math.max(sh, dh)), opw = in.pick(Math.max(sw, dw));
        if (mode == Mode.STAGED) {
            // output padding at or past the stride: the convolution runs on a staged window
            oph = sh + in.pick(3);
            opw = sw + in.pick(3);
        }
        if (mode == Mode.FREE && in.pick(4) == 0) {
            sh -= in.pick(3); // zero or negative: refused
            dw -= in.pick(3);
            opw -= in.pick(3);
        }
        int padMode = in.pick(10); // below 3: autoPad; 3 and 4: an output size; else explicit padding
        if (mode == Mode.DERIVED) {
            padMode = in.pick(5);
        }
        int[] pad = {in.pick(4), in.pick(4), in.pick(4), in.pick(4) - (mode == Mode.FREE ? in.pick(2) : 0)};
        int[] size = {Math.max(1, (h - 1) * sh + dh * (kh - 1) + 1 + oph + in.pick(7) - 3),
            Math.max(1, (w - 1) * sw + dw * (k - 1) + 1 + opw + in.pick(7) - 3)};
        boolean upper = in.flag();
        AutoPad auto = AutoPad.values()[1 + Math.min(padMode, 2)]; // SAME_UPPER, SAME_LOWER, VALID
        if (op.twoD()) {
            ConvTranspose2dParams.Builder b = ConvTranspose2dParams.builder().stride(sh, sw).dilation(dh, dw).groups(g)
                    .outputPadding(oph, opw).padding(pad[0], pad[1], pad[2], pad[3]);
            if (padMode < 3) {
                b.autoPad(auto);
            } else if (padMode < 5) {
                if (upper) {
                    b.autoPad(AutoPad.SAME_UPPER);
                }
                b.outputSize(size[0], size[1]);
            }
            p = b.build();
            xs = new int[] {n, cin, h, w};
            ws = new int[] {cin, Math.max(1, cout / Math.max(1, g)), kh, k};
        } else if (!op.conv()) {
            ConvTranspose1dParams.Builder b = ConvTranspose1dParams.builder().stride(sw).dilation(dw).groups(g).outputPadding(opw)
                    .padding(pad[2], pad[3]);
            if (padMode < 3) {
                b.autoPad(auto);
            } else if (padMode < 5) {
                if (upper) {
                    b.autoPad(AutoPad.SAME_UPPER);
                }
                b.outputSize(size[1]);
            }
            p = b.build();
            xs = new int[] {n, cin, w};
            ws = new int[] {cin, Math.max(1, cout / Math.max(1, g)), k};
        } else {
            Conv1dParams.Builder b = Conv1dParams.builder().stride(sw).dilation(dw).groups(g).padding(pad[2], pad[3]);
            if (padMode < 3) {
                b.autoPad(auto);
            }
            p = b.build();
            xs = new int[] {n, cin, w};
            ws = new int[] {cout, g >= 1 && cin % g == 0 ? cin / g : Math.max(1, cin / Math.max(1, g)), k};
        }
        if (mode == Mode.FREE && in.pick(4) == 0) {
            ws[1] = in.range(1, 4);
        }
    }

    /** y's shape for the layer, or a guess when the layer is refused (the call must then refuse too). */
    private int[] outputShape() {
        try {
            if (p instanceof ConvTranspose2dParams) {
                return ((ConvTranspose2dParams) p).outputShape(xs, ws);
            }
            return p instanceof ConvTranspose1dParams ? ((ConvTranspose1dParams) p).outputShape(xs, ws)
                    : ((Conv1dParams) p).outputShape(xs, ws);
        } catch (IllegalArgumentException e) {
            checkDocumented(e, "outputShape");
            int o = op.conv() ? ws[0] : ws[1] * Math.max(1, groups());
            return op.twoD() ? new int[] {xs[0], o, 1 + in.pick(3), 1 + in.pick(3)} : new int[] {xs[0], o, 1 + in.pick(3)};
        }
    }

    private int groups() {
        return p instanceof ConvTranspose2dParams ? ((ConvTranspose2dParams) p).groups()
                : p instanceof ConvTranspose1dParams ? ((ConvTranspose1dParams) p).groups() : ((Conv1dParams) p).groups();
    }

    private List<Role> roles() {
        if (op.forward()) {
            return op.allocates() ? List.of(Role.X, Role.W, Role.B) : List.of(Role.X, Role.W, Role.B, Role.Y);
        }
        return op.data() ? List.of(Role.GY, Role.W, Role.GX) : List.of(Role.X, Role.GY, Role.GW, Role.GB);
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
                return new int[] {ys[1]};
            default:
                return ys.clone();
        }
    }

    private static boolean isOutput(Role r) {
        return r == Role.Y || r == Role.GX || r == Role.GW || r == Role.GB;
    }

    /** An input of the call, which must come back unchanged (a prepacking plan's forward call reads its own copy of w and b). */
    private boolean isInput(Role r) {
        return !isOutput(r) && !(op == Op.T2_PLAN_PREPACKED && prepack && (r == Role.W || r == Role.B));
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
                return new int[] {count(s)};
            default:
                return s.length > 1 ? Arrays.copyOf(s, s.length - 1) : new int[] {1, s[0]};
        }
    }

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
                long at = in.pick(4) == 0 ? in.index((int) Math.max(1, shared.size() - n)) : sharedNext + pos;
                at = Math.max(0, Math.min(at, shared.size() - n));
                sharedNext = at + n;
                x = own(shared.view(at, layout, s));
                break;
            }
            default:
                x = own(Tensor.zeros(layout, s));
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
     * an input's memory, 5 a closed plan, 6 null parameters, 7 a plan without weights (made above).
     */
    private void misuse() {
        List<Role> present = new ArrayList<>();
        for (Role r : roles()) {
            if (t.get(r) != null) {
                present.add(r);
            }
        }
        switch (misuse) {
            case 2:
                t.get(present.get(in.pick(present.size()))).close();
                break;
            case 3:
                t.put(present.get(in.pick(present.size())), null);
                break;
            case 4: {
                Role out = null, inp = null;
                for (Role r : present) {
                    if (isOutput(r)) {
                        out = r;
                    } else if (inp == null || in.flag()) {
                        inp = r;
                    }
                }
                Tensor src = inp == null ? null : t.get(inp);
                if (out != null && src != null && src.storageSize() >= t.get(out).storageSize()) {
                    t.put(out, own(src.view(0, t.get(out).layout(), t.get(out).shape())));
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
                case T2_FORWARD: e.forward((ConvTranspose2dParams) p, x, w, b, y); break;
                case T2_FORWARD_NEW: keep(res, Role.Y, e.forward((ConvTranspose2dParams) p, x, w, b)); break;
                case T2_DATA: e.backwardData((ConvTranspose2dParams) p, gy, w, gx, accumulate); break;
                case T2_WEIGHTS: e.backwardWeights((ConvTranspose2dParams) p, x, gy, gw, gb, accumulate); break;
                case T1_FORWARD: e.forward((ConvTranspose1dParams) p, x, w, b, y); break;
                case T1_FORWARD_NEW: keep(res, Role.Y, e.forward((ConvTranspose1dParams) p, x, w, b)); break;
                case T1_DATA: e.backwardData((ConvTranspose1dParams) p, gy, w, gx, accumulate); break;
                case T1_WEIGHTS: e.backwardWeights((ConvTranspose1dParams) p, x, gy, gw, gb, accumulate); break;
                case C1_FORWARD: e.forward((Conv1dParams) p, x, w, b, y); break;
                case C1_FORWARD_NEW: keep(res, Role.Y, e.forward((Conv1dParams) p, x, w, b)); break;
                case C1_DATA: e.backwardData((Conv1dParams) p, gy, w, gx, accumulate); break;
                case C1_WEIGHTS: e.backwardWeights((Conv1dParams) p, x, gy, gw, gb, accumulate); break;
                default: {
                    ConvTranspose2dPlan plan = e.plan((ConvTranspose2dParams) p, xs, ws);
                    if (isBlas) {
                        blasPlan = plan;
                    } else {
                        naivePlan = plan;
                    }
                    if (closePlan) {
                        plan.close();
                    }
                    switch (op) {
                        case T2_PLAN_PREPACKED:
                            if (prepack) {
                                plan.prepackWeights(w, b);
                            }
                            plan.forward(x, y);
                            break;
                        case T2_PLAN_FORWARD:
                            plan.forward(x, w, b, y);
                            break;
                        case T2_PLAN_DATA:
                            plan.backwardData(gy, w, gx, accumulate);
                            break;
                        default:
                            plan.backwardWeights(x, gy, gw, gb, accumulate);
                    }
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
        Result ref = call(NAIVE, false);
        if ((got.refused == null) != (ref.refused == null)
                || got.refused != null && got.refused.getClass() != ref.refused.getClass()) {
            throw new AssertionError("blas " + describe(got) + " but naive " + describe(ref) + " in " + this,
                    got.refused != null ? got.refused : ref.refused);
        }
        if (got.refused != null) {
            return new Outcome(op, mode, misuse, false, otherLayouts());
        }
        Map<Role, float[]> bounds = bounds(before);
        for (Map.Entry<Role, float[]> e : ref.outputs.entrySet()) {
            compare(e.getKey(), got.outputs.get(e.getKey()), e.getValue(), bounds.get(e.getKey()));
        }
        return new Outcome(op, mode, misuse, true, otherLayouts());
    }

    private boolean otherLayouts() {
        for (Role r : roles()) {
            Tensor x = t.get(r);
            if (x != null && isUsable(x) && x.rank() == 4 && x.layout() != Layout.NCHW) {
                return true;
            }
        }
        return false;
    }

    private static boolean paddingZero(int[] s, float[] mem) {
        int blocks = (s[1] + 15) / 16, plane = s[2] * s[3];
        for (int n = 0; n < s[0]; n++) {
            for (int c = s[1]; c < blocks * 16; c++) {
                for (int q = 0; q < plane; q++) {
                    if (Float.floatToRawIntBits(mem[((n * blocks + c / 16) * plane + q) * 16 + c % 16]) != 0) {
                        return false;
                    }
                }
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
            if (x != null && isUsable(x)) {
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

    /** Puts every tensor back as it was, raw, through a buffer (tensors may share memory; see ApiCase#restore). */
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
        if (y != null) {
            return y.shape();
        }
        int[] x = actualIn(), w = actualW();
        if (p instanceof ConvTranspose2dParams) {
            return ((ConvTranspose2dParams) p).outputShape(x, w);
        }
        return p instanceof ConvTranspose1dParams ? ((ConvTranspose1dParams) p).outputShape(x, w) : ((Conv1dParams) p).outputShape(x, w);
    }

    /** An upper bound of the terms each element of an output sums (with the bias or the previous value). */
    private int terms(Role r) {
        int[] x = actualIn(), w = actualW(), y = actualOut();
        int g = Math.max(1, groups());
        int spatialK = w.length == 4 ? w[2] * w[3] : w[2];
        int xPlane = x.length == 4 ? x[2] * x[3] : x[2], yPlane = y.length == 4 ? y[2] * y[3] : y[2];
        switch (r) {
            case Y:
                return (op.conv() ? w[1] : x[1] / g) * spatialK + 1;
            case GX:
                return (op.conv() ? w[0] / g : w[1]) * spatialK + 1;
            case GW:
                return x[0] * (op.conv() ? yPlane : xPlane) + 1;
            default:
                return x[0] * yPlane + 1;
        }
    }

    /**
     * For each output, the naive engine's result on the absolute values of the finite inputs (and of the
     * output's previous values when accumulating): the sum of the magnitudes of the terms each element
     * adds, which bounds a float32 sum's rounding error.
     */
    private Map<Role, float[]> bounds(Map<Role, float[]> before) {
        Map<Role, float[]> out = new EnumMap<>(Role.class);
        try (Tensor ax = abs(before, Role.X); Tensor aw = abs(before, Role.W); Tensor ab = abs(before, Role.B);
             Tensor agy = abs(before, Role.GY)) {
            int[] xShape = actualIn(), wShape = actualW(), yShape = actualOut();
            if (op.forward()) {
                try (Tensor y = Tensor.zeros(yShape)) {
                    switch (op) {
                        case T1_FORWARD: case T1_FORWARD_NEW: NAIVE.forward((ConvTranspose1dParams) p, ax, aw, ab, y); break;
                        case C1_FORWARD: case C1_FORWARD_NEW: NAIVE.forward((Conv1dParams) p, ax, aw, ab, y); break;
                        default: NAIVE.forward((ConvTranspose2dParams) p, ax, aw, ab, y);
                    }
                    out.put(Role.Y, y.toArray());
                }
            } else if (op.data()) {
                try (Tensor gx = Tensor.zeros(xShape)) {
                    switch (op) {
                        case T1_DATA: NAIVE.backwardData((ConvTranspose1dParams) p, agy, aw, gx, false); break;
                        case C1_DATA: NAIVE.backwardData((Conv1dParams) p, agy, aw, gx, false); break;
                        default: NAIVE.backwardData((ConvTranspose2dParams) p, agy, aw, gx, false);
                    }
                    out.put(Role.GX, plusPrevious(gx.toArray(), logicalBefore(before, Role.GX)));
                }
            } else {
                try (Tensor gw = Tensor.zeros(wShape); Tensor gb = Tensor.zeros(yShape[1])) {
                    switch (op) {
                        case T1_WEIGHTS: NAIVE.backwardWeights((ConvTranspose1dParams) p, ax, agy, gw, gb, false); break;
                        case C1_WEIGHTS: NAIVE.backwardWeights((Conv1dParams) p, ax, agy, gw, gb, false); break;
                        default: NAIVE.backwardWeights((ConvTranspose2dParams) p, ax, agy, gw, gb, false);
                    }
                    out.put(Role.GW, plusPrevious(gw.toArray(), before.get(Role.GW)));
                    out.put(Role.GB, plusPrevious(gb.toArray(), before.get(Role.GB)));
                }
            }
        }
        return out;
    }

    private float[] plusPrevious(float[] sums, float[] previous) {
        if (accumulate && previous != null) {
            for (int i = 0; i < sums.length; i++) {
                sums[i] += Float.isFinite(previous[i]) ? Math.abs(previous[i]) : 0;
            }
        }
        return sums;
    }

    /** A role's magnitudes (0 for NaN and infinities) as an NCHW tensor of its shape, or null. */
    private Tensor abs(Map<Role, float[]> before, Role r) {
        float[] v = logicalBefore(before, r);
        if (v == null) {
            return null;
        }
        float[] a = new float[v.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = Float.isFinite(v[i]) ? Math.abs(v[i]) : 0;
        }
        return Tensor.of(a, t.get(r).shape());
    }

    private float[] logicalBefore(Map<Role, float[]> before, Role r) {
        float[] v = before.get(r);
        if (v == null) {
            return null;
        }
        try (Tensor x = Tensor.of(t.get(r).layout(), v, t.get(r).shape())) {
            return TestData.logical(x);
        }
    }

    private void compare(Role r, float[] got, float[] ref, float[] bound) {
        if (got == null || got.length != ref.length) {
            throw new AssertionError("blas gave no " + r + " of the reference's size in " + this);
        }
        double k = terms(r);
        for (int i = 0; i < ref.length; i++) {
            double bnd = bound[i];
            if (!(bnd < 1e37)) {
                continue; // float32 partial sums may overflow where the naive engine's double sums do not: documented
            }
            float e = ref[i], v = got[i];
            boolean ok;
            if (Float.isNaN(e)) {
                ok = Float.isNaN(v);
            } else if (Float.isInfinite(e)) {
                ok = v == e;
            } else {
                double tol = 2 * (k + 2) * Math.scalb(bnd, -U_SHIFT) + 2 * Math.ulp(e) + k * Float.MIN_NORMAL;
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
        sb.append(op).append(' ').append(mode).append(" on ").append(blas == null ? "?" : dev.conv4j.Engines.label(blas))
                .append(", ").append(p).append(", x ").append(Arrays.toString(xs)).append(", w ").append(Arrays.toString(ws))
                .append(", y ").append(Arrays.toString(ys));
        if (accumulate) {
            sb.append(", accumulate");
        }
        if (op != null && op.plan()) {
            sb.append(prepack ? ", prepacked" : "").append(closePlan ? ", plan closed" : "");
        }
        for (Map.Entry<Role, Tensor> e : t.entrySet()) {
            Tensor x = e.getValue();
            sb.append(", ").append(e.getKey()).append(x == null ? " null" : " " + Arrays.toString(x.shape())
                    + (x.isClosed() ? " closed" : " " + layoutOf(e.getKey(), x.shape())));
        }
        return sb.append(" (").append(in.consumed()).append(" bytes of input)").toString();
    }
}
