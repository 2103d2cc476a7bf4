package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.conv4j.Conv1dParams;
import dev.conv4j.Conv2dParams.AutoPad;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.ConvTranspose1dParams;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose2dPlan;
import dev.conv4j.Engines;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/**
 * {@link FuzzTest} for the operations beside the 2-D convolution: the 2-D transposed convolution
 * (engine calls and {@link ConvTranspose2dPlan}), the 1-D transposed convolution and the 1-D
 * convolution. Random configurations, most of them broken in one way, go to every entry point of every
 * engine: nulls, closed tensors, views of deallocated memory, ranks 0-6, wrong shapes, groups that do not
 * divide the channels, huge strides, dilations, paddings, output paddings and output sizes (near and past
 * the int range), plan shapes that are zero, negative, of another rank or overflowing, closed plans and
 * plans without weights, outputs that are the input or overlap it, activations in every layout, and views
 * of direct buffers, native memory and larger tensors.
 *
 * <p>Whether a call is valid is worked out here from the parameters' documented rules (the output size
 * of a transposed convolution, its derived padding, the channel and group rules) in exact arithmetic.
 * A valid call must match the naive engine run on copies of its inputs; an invalid one must throw an
 * IllegalArgumentException or IllegalStateException with a message naming the problem, and leave every
 * tensor as it was. Anything else (another exception, an Error, a crash of the JVM) fails.
 */
class TransposedFuzzTest {
    private static final int CONFIGS = 2_400;
    private static final long SEED = 20261203_13L;
    /** Float against double accumulation of a few dozen terms in [-1, 1]; a wrong index errs by O(1). */
    private static final double TOL = 1e-4;
    private static final int MAX = Integer.MAX_VALUE;
    /** No valid configuration may have a tensor larger than this: the generator keeps huge sizes invalid. */
    private static final long SAFE_ELEMENTS = 1 << 20;

    enum Kind { TRANSPOSED_2D, TRANSPOSED_1D, CONV_1D, PLAN }

    enum Role { P, X, W, B, Y, GY, GX, GW, GB }

    enum Entry {
        FORWARD(false, Role.P, Role.X, Role.W, Role.B, Role.Y),
        FORWARD_NEW(false, Role.P, Role.X, Role.W, Role.B),
        DATA(false, Role.P, Role.GY, Role.W, Role.GX),
        DATA_ACC(false, Role.P, Role.GY, Role.W, Role.GX),
        WEIGHTS(false, Role.P, Role.X, Role.GY, Role.GW, Role.GB),
        WEIGHTS_ACC(false, Role.P, Role.X, Role.GY, Role.GW, Role.GB),
        /** prepackWeights(w, b), then forward(x, y). */
        PLAN_PREPACKED(true, Role.P, Role.X, Role.W, Role.B, Role.Y),
        PLAN_FORWARD(true, Role.P, Role.X, Role.W, Role.B, Role.Y),
        PLAN_DATA(true, Role.P, Role.GY, Role.W, Role.GX),
        PLAN_DATA_ACC(true, Role.P, Role.GY, Role.W, Role.GX),
        PLAN_WEIGHTS(true, Role.P, Role.X, Role.GY, Role.GW, Role.GB),
        PLAN_WEIGHTS_ACC(true, Role.P, Role.X, Role.GY, Role.GW, Role.GB);

        final boolean plan;
        final Set<Role> roles;

        Entry(boolean plan, Role first, Role... rest) {
            this.plan = plan;
            roles = EnumSet.of(first, rest);
        }

        Set<Role> outputs() {
            Set<Role> s = EnumSet.noneOf(Role.class);
            for (Role r : roles) {
                if (isOutput(r)) {
                    s.add(r);
                }
            }
            return s;
        }

        boolean accumulates() {
            return name().endsWith("_ACC");
        }

        boolean forward() {
            return roles.contains(Role.X) && roles.contains(Role.W);
        }

        boolean data() {
            return roles.contains(Role.GX);
        }

        static List<Entry> of(Kind k) {
            List<Entry> l = new ArrayList<>();
            for (Entry e : values()) {
                if (e.plan == (k == Kind.PLAN)) {
                    l.add(e);
                }
            }
            return l;
        }
    }

    static boolean isOutput(Role r) {
        return r == Role.Y || r == Role.GX || r == Role.GW || r == Role.GB;
    }

    /** The one thing wrong with a configuration, what it must throw, and words its message must contain (any of). */
    enum Fault {
        NONE(null),
        NULL(IllegalArgumentException.class, "null"),
        CLOSED(IllegalStateException.class, "closed"),
        FREED(IllegalStateException.class, "deallocated"),
        RANK(IllegalArgumentException.class, "rank", "shape"),
        SHAPE(IllegalArgumentException.class, "shape", "channels", "groups", "divide", "empty", "would be", "exceed",
                "more than", "below 1", "must be"),
        ALIAS(IllegalArgumentException.class, "share"),
        PARAMS(IllegalArgumentException.class, "exceed", "more than", "would be", "groups", "divide", "fit", "empty",
                "shape"),
        /** The plan's shape arguments: null, another rank, a dimension off by one, zero, negative, or overflowing. */
        PLAN_SHAPE(IllegalArgumentException.class, "null", "rank", "shape", "channels", "groups", "divide", "would be",
                "exceed", "more than", "below 1"),
        PLAN_CLOSED(IllegalStateException.class, "closed"),
        NO_WEIGHTS(IllegalStateException.class, "prepack");

        final Class<? extends RuntimeException> type;
        final String[] words;

        Fault(Class<? extends RuntimeException> type, String... words) {
            this.type = type;
            this.words = words;
        }
    }

    private static final Role[] TENSOR_ROLES = {Role.X, Role.W, Role.B, Role.Y, Role.GY, Role.GX, Role.GW, Role.GB};
    private static final Role[] REQUIRED_ROLES = {Role.P, Role.X, Role.W, Role.Y, Role.GY, Role.GX, Role.GW};
    /** Output/input pairs of the same entry point that may be made to share memory. */
    private static final Role[][] ALIAS_PAIRS = {
        {Role.Y, Role.X}, {Role.Y, Role.W}, {Role.Y, Role.B}, {Role.GX, Role.GY}, {Role.GX, Role.W},
        {Role.GW, Role.X}, {Role.GW, Role.GY}, {Role.GW, Role.GB}, {Role.GB, Role.X}, {Role.GB, Role.GY},
    };
    private static final Layout[] LAYOUTS = {Layout.NCHW, Layout.NCHW, Layout.NHWC, Layout.NCHW16C};

    private static final String[] NOTES = {"wrap-buffer", "wrap-pointer", "view", "rank0", "rank5", "huge-shape",
        "same-tensor", "overlapping-views", "valid huge stride", "valid huge dilation", "huge output padding",
        "huge output size", "huge padding", "bad groups", "staged", "output size", "autoPad", "NHWC", "NCHW16C",
        "invalid params", "derived padding"};

    private final Map<String, Integer> counts = new LinkedHashMap<>();

    private void count(String key) {
        counts.merge(key, 1, Integer::sum);
    }

    @Test
    void everyEntryPointOfTheNewOperationsSurvivesRandomBadInput() {
        List<ConvEngine> engines = Engines.all();
        Random r = new Random(SEED);
        long start = System.nanoTime();
        int expectedCalls = 0;
        for (int i = 0; i < CONFIGS; i++) {
            long seed = r.nextLong();
            Scenario s = Scenario.make(new Random(seed), seed);
            try {
                count("configurations");
                count("kind " + s.kind);
                count("fault " + s.fault);
                for (String k : NOTES) {
                    if (s.note.contains(k)) {
                        count(k);
                    }
                }
                probeBuilders(new Random(seed ^ 0x9E3779B97F4A7C15L));
                for (ConvEngine e : engines) {
                    for (Entry entry : Entry.of(s.kind)) {
                        expectedCalls++;
                        run(e, entry, s);
                    }
                }
            } finally {
                s.close();
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        int calls = counts.getOrDefault("calls", 0);
        System.out.printf("transposed fuzz: %d configurations x %d engines = %d calls (%d computed and checked against naive,"
                        + " %d rejected) + %d builder probes in %.1f s; %s%n", CONFIGS, engines.size(), calls,
                counts.getOrDefault("valid", 0), counts.getOrDefault("rejected", 0), counts.getOrDefault("probes", 0),
                seconds, counts);
        assertEquals(expectedCalls, calls);
        assertTrue(counts.getOrDefault("valid", 0) > calls / 5, "too few valid calls: " + counts);
        assertTrue(counts.getOrDefault("rejected", 0) > calls / 5, "too few rejected calls: " + counts);
        for (Kind k : Kind.values()) {
            assertTrue(counts.getOrDefault("kind " + k, 0) > CONFIGS / 6, "kind " + k + " is rarely generated: " + counts);
            assertTrue(counts.getOrDefault("valid " + k, 0) > CONFIGS / 4, "kind " + k + " is rarely valid: " + counts);
        }
        for (Fault f : Fault.values()) {
            assertTrue(counts.getOrDefault("fault " + f, 0) > CONFIGS / 120, "fault " + f + " is rarely generated: " + counts);
        }
        for (String k : NOTES) {
            assertTrue(counts.getOrDefault(k, 0) > 10, "'" + k + "' is rarely generated: " + counts);
        }
        for (String k : new String[] {"bad builder", "good builder"}) {
            assertTrue(counts.getOrDefault(k, 0) > 100, "'" + k + "' is rarely generated: " + counts);
        }
    }

    /** One call of one entry point, checked. */
    private void run(ConvEngine e, Entry entry, Scenario s) {
        count("calls");
        String where = Engines.label(e) + " " + entry + " " + s;
        s.resetOutputs(entry);
        Map<Role, float[]> before = s.snapshot();
        Map<Role, float[]> logical = s.logicalSnapshot(entry);
        boolean valid = s.isValid(entry);
        Object result = null;
        RuntimeException thrown = null;
        try {
            result = call(e, entry, s);
        } catch (IllegalArgumentException | IllegalStateException ex) {
            thrown = ex;
        } catch (RuntimeException | Error ex) {
            throw new AssertionError("unexpected " + ex + " from " + where, ex);
        }
        try {
            if (thrown != null) {
                count("rejected");
                if (valid) {
                    throw new AssertionError("a valid call was rejected: " + thrown + " in " + where, thrown);
                }
                String m = thrown.getMessage();
                assertTrue(m != null && m.length() > 10, "no useful message: " + thrown + " in " + where);
                if (s.baseValid && s.fault != Fault.NONE) {
                    assertTrue(s.fault.type.isInstance(thrown), "expected " + s.fault.type.getSimpleName()
                            + " for " + s.fault + " but got " + thrown + " in " + where);
                    assertTrue(Arrays.stream(s.fault.words).anyMatch(m::contains), "message '" + m
                            + "' names none of " + Arrays.toString(s.fault.words) + " in " + where);
                }
                s.checkUnchanged(before, EnumSet.allOf(Role.class), where + " (rejected with " + thrown + ")");
            } else {
                count("valid");
                count("valid " + s.kind);
                if (!valid) {
                    fail("an invalid call was accepted: " + where);
                }
                Set<Role> inputs = EnumSet.copyOf(entry.roles);
                inputs.removeAll(entry.outputs());
                if (entry == Entry.PLAN_PREPACKED && s.alias != null) {
                    inputs.remove(s.alias[1]); // y over the caller's weights: the call read the plan's copy of them
                }
                s.checkUnchanged(before, inputs, where);
                checkResult(entry, s, result, logical, where);
            }
        } finally {
            if (result instanceof Tensor) {
                ((Tensor) result).close();
            }
        }
    }

    private static Object call(ConvEngine e, Entry entry, Scenario s) {
        Tensor x = s.t(Role.X), w = s.t(Role.W), b = s.t(Role.B), y = s.t(Role.Y), gy = s.t(Role.GY), gx = s.t(Role.GX),
                gw = s.t(Role.GW), gb = s.t(Role.GB);
        boolean acc = entry.accumulates();
        switch (s.kind) {
            case TRANSPOSED_2D: {
                ConvTranspose2dParams p = (ConvTranspose2dParams) s.p;
                switch (entry) {
                    case FORWARD: e.forward(p, x, w, b, y); return null;
                    case FORWARD_NEW: return e.forward(p, x, w, b);
                    case DATA: case DATA_ACC: e.backwardData(p, gy, w, gx, acc); return null;
                    default: e.backwardWeights(p, x, gy, gw, gb, acc); return null;
                }
            }
            case TRANSPOSED_1D: {
                ConvTranspose1dParams p = (ConvTranspose1dParams) s.p;
                switch (entry) {
                    case FORWARD: e.forward(p, x, w, b, y); return null;
                    case FORWARD_NEW: return e.forward(p, x, w, b);
                    case DATA: case DATA_ACC: e.backwardData(p, gy, w, gx, acc); return null;
                    default: e.backwardWeights(p, x, gy, gw, gb, acc); return null;
                }
            }
            case CONV_1D: {
                Conv1dParams p = (Conv1dParams) s.p;
                switch (entry) {
                    case FORWARD: e.forward(p, x, w, b, y); return null;
                    case FORWARD_NEW: return e.forward(p, x, w, b);
                    case DATA: case DATA_ACC: e.backwardData(p, gy, w, gx, acc); return null;
                    default: e.backwardWeights(p, x, gy, gw, gb, acc); return null;
                }
            }
            default: {
                try (ConvTranspose2dPlan plan = e.plan((ConvTranspose2dParams) s.p, s.pxs, s.pws)) {
                    if (s.fault == Fault.PLAN_CLOSED) {
                        plan.close();
                    }
                    switch (entry) {
                        case PLAN_PREPACKED:
                            if (s.fault != Fault.NO_WEIGHTS) {
                                plan.prepackWeights(w, b);
                            }
                            plan.forward(x, y);
                            break;
                        case PLAN_FORWARD:
                            plan.forward(x, w, b, y);
                            break;
                        case PLAN_DATA:
                        case PLAN_DATA_ACC:
                            plan.backwardData(gy, w, gx, acc);
                            break;
                        default:
                            plan.backwardWeights(x, gy, gw, gb, acc);
                    }
                }
                return null;
            }
        }
    }

    /** Compares a successful call with the naive engine run on NCHW copies of the inputs as they were before it. */
    private static void checkResult(Entry entry, Scenario s, Object result, Map<Role, float[]> in, String where) {
        ConvEngine naive = ConvEngines.naive();
        Tensor x = s.t(Role.X), w = s.t(Role.W), b = s.t(Role.B), gy = s.t(Role.GY), gx = s.t(Role.GX), gw = s.t(Role.GW),
                gb = s.t(Role.GB);
        boolean acc = entry.accumulates();
        if (entry.forward() && !entry.roles.contains(Role.GY)) {
            try (Tensor fx = copy(in, Role.X, x); Tensor fw = copy(in, Role.W, w); Tensor fb = copy(in, Role.B, b);
                 Tensor ref = naiveForward(naive, s, fx, fw, fb)) {
                Tensor got = entry == Entry.FORWARD_NEW ? (Tensor) result : s.t(Role.Y);
                if (entry == Entry.FORWARD_NEW) {
                    assertEquals(x.layout(), got.layout(), "the new y takes x's layout in " + where);
                }
                close("y", got, TestData.logical(ref), ref.shape(), where);
            }
        } else if (entry.data()) {
            try (Tensor fgy = copy(in, Role.GY, gy); Tensor fw = copy(in, Role.W, w); Tensor ref = Tensor.zeros(gx.shape())) {
                naiveData(naive, s, fgy, fw, ref);
                float[] expected = ref.toArray();
                if (acc) {
                    add(expected, in.get(Role.GX));
                }
                close("gx", gx, expected, gx.shape(), where);
            }
        } else {
            try (Tensor fx = copy(in, Role.X, x); Tensor fgy = copy(in, Role.GY, gy); Tensor gwRef = Tensor.zeros(gw.shape());
                 Tensor gbRef = gb == null ? null : Tensor.zeros(gb.shape())) {
                naiveWeights(naive, s, fx, fgy, gwRef, gbRef);
                float[] e = gwRef.toArray();
                if (acc) {
                    add(e, in.get(Role.GW));
                }
                close("gw", gw, e, gw.shape(), where);
                if (gb != null) {
                    float[] eb = gbRef.toArray();
                    if (acc) {
                        add(eb, in.get(Role.GB));
                    }
                    close("gb", gb, eb, gb.shape(), where);
                }
            }
        }
    }

    private static Tensor naiveForward(ConvEngine naive, Scenario s, Tensor x, Tensor w, Tensor b) {
        switch (s.kind) {
            case TRANSPOSED_1D: return naive.forward((ConvTranspose1dParams) s.p, x, w, b);
            case CONV_1D: return naive.forward((Conv1dParams) s.p, x, w, b);
            default: return naive.forward((ConvTranspose2dParams) s.p, x, w, b);
        }
    }

    private static void naiveData(ConvEngine naive, Scenario s, Tensor gy, Tensor w, Tensor gx) {
        switch (s.kind) {
            case TRANSPOSED_1D: naive.backwardData((ConvTranspose1dParams) s.p, gy, w, gx, false); break;
            case CONV_1D: naive.backwardData((Conv1dParams) s.p, gy, w, gx, false); break;
            default: naive.backwardData((ConvTranspose2dParams) s.p, gy, w, gx, false);
        }
    }

    private static void naiveWeights(ConvEngine naive, Scenario s, Tensor x, Tensor gy, Tensor gw, Tensor gb) {
        switch (s.kind) {
            case TRANSPOSED_1D: naive.backwardWeights((ConvTranspose1dParams) s.p, x, gy, gw, gb, false); break;
            case CONV_1D: naive.backwardWeights((Conv1dParams) s.p, x, gy, gw, gb, false); break;
            default: naive.backwardWeights((ConvTranspose2dParams) s.p, x, gy, gw, gb, false);
        }
    }

    /** An NCHW tensor holding a role's logical values from before the call, or null. */
    private static Tensor copy(Map<Role, float[]> in, Role r, Tensor t) {
        return t == null ? null : Tensor.of(in.get(r), t.shape());
    }

    private static void add(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            a[i] += b[i];
        }
    }

    private static void close(String name, Tensor got, float[] expected, int[] shape, String where) {
        assertArrayEquals(shape, got.shape(), name + " shape in " + where);
        float[] raw = got.toArray();
        if (got.layout() == Layout.NCHW16C) {
            assertTrue(paddingZero(shape, raw), name + ": a padding channel of the NCHW16C output is not zero in " + where);
        }
        double err = TestData.relErr(TestData.logical(got), expected);
        assertTrue(err <= TOL, name + " differs from naive by " + err + " in " + where);
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

    // ---------------------------------------------------------------- the parameter builders

    /** One random build of a parameter builder: out-of-range values must be refused naming the value, valid ones built. */
    private void probeBuilders(Random r) {
        count("probes");
        int which = r.nextInt(3), v = r.nextBoolean() ? 0 : -1 - r.nextInt(MAX);
        boolean good = r.nextInt(4) == 0;
        String word = null;
        try {
            if (good) {
                int s = 1 + r.nextInt(MAX), d = 1 + r.nextInt(MAX), p = r.nextInt(MAX), g = 1 + r.nextInt(MAX);
                Object built;
                if (which == 0) {
                    ConvTranspose2dParams q = ConvTranspose2dParams.builder().stride(s, 1 + r.nextInt(3)).dilation(d)
                            .padding(p, 0, 1, p).outputPadding(r.nextInt(MAX), 0).groups(g).build();
                    assertEquals(q, q.toBuilder().build());
                    assertEquals(q.hashCode(), q.toBuilder().build().hashCode());
                    built = q;
                } else if (which == 1) {
                    ConvTranspose1dParams q = ConvTranspose1dParams.builder().stride(s).dilation(d).padding(p, 1)
                            .outputPadding(r.nextInt(MAX)).groups(g).outputSize(1 + r.nextInt(MAX)).build();
                    assertEquals(q.stride(), q.asTranspose2d().strideW());
                    assertEquals(q.outputSize(), q.asTranspose2d().outputSize()[1]);
                    built = q;
                } else {
                    Conv1dParams q = Conv1dParams.builder().stride(s).dilation(d).padding(p).groups(g).build();
                    assertEquals(q.stride(), q.asConv2d().strideW());
                    built = q;
                }
                assertTrue(built.toString().length() > 10);
                count("good builder");
                return;
            }
            int bad = r.nextInt(which == 2 ? 4 : 6);
            word = new String[] {"stride", "dilation", "padding", "groups", "output padding", "output size"}[bad];
            int neg = v == 0 ? -1 : v;
            count("bad builder");
            if (which == 0) {
                ConvTranspose2dParams.Builder b = ConvTranspose2dParams.builder();
                switch (bad) {
                    case 0: b.stride(r.nextBoolean() ? v : 1, v); break;
                    case 1: b.dilation(v, r.nextBoolean() ? v : 1); break;
                    case 2: b.padding(0, r.nextBoolean() ? neg : 0, neg, 0); break;
                    case 3: b.groups(v); break;
                    case 4: b.outputPadding(r.nextBoolean() ? 0 : neg, neg); break;
                    default: b.outputSize(v, r.nextBoolean() ? 1 + r.nextInt(9) : v); break;
                }
                b.build();
            } else if (which == 1) {
                ConvTranspose1dParams.Builder b = ConvTranspose1dParams.builder();
                switch (bad) {
                    case 0: b.stride(v); break;
                    case 1: b.dilation(v); break;
                    case 2: b.padding(r.nextBoolean() ? 0 : neg, neg); break;
                    case 3: b.groups(v); break;
                    case 4: b.outputPadding(neg); break;
                    default: b.outputSize(v); break;
                }
                b.build();
            } else {
                Conv1dParams.Builder b = Conv1dParams.builder();
                switch (bad) {
                    case 0: b.stride(v); break;
                    case 1: b.dilation(v); break;
                    case 2: b.padding(neg, r.nextBoolean() ? 0 : neg); break;
                    default: b.groups(v); break;
                }
                b.build();
            }
        } catch (IllegalArgumentException e) {
            assertTrue(!good, "a valid builder was refused: " + e);
            assertTrue(e.getMessage() != null && e.getMessage().contains(word), "the message '" + e.getMessage()
                    + "' does not name the " + word);
            return;
        } catch (RuntimeException e) {
            throw new AssertionError("a builder threw " + e, e);
        }
        fail("a builder accepted an out-of-range " + word);
    }

    // ---------------------------------------------------------------- the oracle

    /** Per axis: {out, begin}; null when the axis has no valid output (checked in exact arithmetic). */
    static long[] axis(long in, long k, long s, long d, long op, long begin, long end, long requested, AutoPad mode) {
        long full = (in - 1) * s + d * (k - 1) + 1;
        long b, e;
        if (requested != 0 || mode == AutoPad.SAME_UPPER || mode == AutoPad.SAME_LOWER) {
            long target = requested != 0 ? requested : in * s;
            long total = full + op - target;
            long small = Math.floorDiv(total, 2);
            // ONNX: the smaller half at the beginning for SAME_UPPER, at the end otherwise
            b = mode == AutoPad.SAME_UPPER ? small : total - small;
            e = total - b;
            if (b != (int) b || e != (int) e) {
                return null;
            }
        } else if (mode == AutoPad.VALID) {
            b = e = 0;
        } else {
            b = begin;
            e = end;
        }
        long out = full + op - b - e;
        return out < 1 || out > MAX || full > MAX ? null : new long[] {out, b};
    }

    /** y's shape for the parameters and shapes, or null when a call on them must be refused. */
    static int[] yShape(Object p, int[] in, int[] wt) {
        if (p == null || in == null || wt == null || !positive(in) || !positive(wt)) {
            return null;
        }
        if (p instanceof Conv1dParams) {
            if (in.length != 3 || wt.length != 3) {
                return null;
            }
            ConvGeometry g;
            try {
                g = ConvGeometry.of(((Conv1dParams) p).asConv2d(), new int[] {in[0], in[1], 1, in[2]},
                        new int[] {wt[0], wt[1], 1, wt[2]});
            } catch (IllegalArgumentException e) {
                return null;
            }
            return fits(g.n, g.o, g.oh, g.ow) && fits(g.cg, g.kh, g.kw, g.oh, g.ow) ? new int[] {g.n, g.o, g.ow} : null;
        }
        boolean one = p instanceof ConvTranspose1dParams;
        int rank = one ? 3 : 4;
        if (in.length != rank || wt.length != rank) {
            return null;
        }
        int groups = one ? ((ConvTranspose1dParams) p).groups() : ((ConvTranspose2dParams) p).groups();
        if (wt[0] != in[1] || in[1] % groups != 0 || (long) wt[1] * groups > MAX) {
            return null;
        }
        int cout = wt[1] * groups;
        long[] oh, ow;
        if (one) {
            ConvTranspose1dParams q = (ConvTranspose1dParams) p;
            oh = new long[] {1, 0};
            ow = axis(in[2], wt[2], q.stride(), q.dilation(), q.outputPadding(), q.explicitPadding()[0],
                    q.explicitPadding()[1], q.outputSize(), q.autoPad());
        } else {
            ConvTranspose2dParams q = (ConvTranspose2dParams) p;
            int[] pad = q.explicitPadding(), size = q.outputSize() == null ? new int[2] : q.outputSize();
            oh = axis(in[2], wt[2], q.strideH(), q.dilationH(), q.outputPaddingH(), pad[0], pad[1], size[0], q.autoPad());
            ow = axis(in[3], wt[3], q.strideW(), q.dilationW(), q.outputPaddingW(), pad[2], pad[3], size[1], q.autoPad());
        }
        // the elements of x and y must fit the 32-bit sizes of every tensor
        if (oh == null || ow == null || !fits(in) || !fits(in[0], cout, (int) oh[0], (int) ow[0])) {
            return null;
        }
        return one ? new int[] {in[0], cout, (int) ow[0]} : new int[] {in[0], cout, (int) oh[0], (int) ow[0]};
    }

    /** True when some axis of a valid transposed layer needs the staged window: an output past the full one. */
    static boolean staged(Object p, int[] in, int[] wt) {
        if (!(p instanceof ConvTranspose2dParams) && !(p instanceof ConvTranspose1dParams) || yShape(p, in, wt) == null) {
            return false;
        }
        ConvTranspose2dParams q = p instanceof ConvTranspose1dParams ? ((ConvTranspose1dParams) p).asTranspose2d()
                : (ConvTranspose2dParams) p;
        int[] x = in.length == 3 ? new int[] {in[0], in[1], 1, in[2]} : in, w = wt.length == 3 ? new int[] {wt[0], wt[1], 1, wt[2]} : wt;
        int[] pad = q.padding(x[2], x[3], w[2], w[3]);
        int[] s = {q.strideH(), q.strideW()}, op = {q.outputPaddingH(), q.outputPaddingW()};
        for (int a = 0; a < 2; a++) {
            if (pad[2 * a] < 0 || op[a] - pad[2 * a + 1] >= s[a]) {
                return true;
            }
        }
        return false;
    }

    private static boolean positive(int[] s) {
        for (int d : s) {
            if (d < 1) {
                return false;
            }
        }
        return true;
    }

    private static boolean fits(int... factors) {
        BigInteger n = BigInteger.ONE;
        for (int f : factors) {
            n = n.multiply(BigInteger.valueOf(f));
        }
        return n.compareTo(BigInteger.valueOf(MAX)) <= 0;
    }

    private static long elements(int[] s) {
        long n = 1;
        for (int d : s) {
            n *= d;
        }
        return n;
    }

    // ---------------------------------------------------------------- one configuration

    /** One layer of one kind, its tensors and the plan's shape arguments, with (at most) one fault injected. */
    private static final class Scenario {
        final long seed;
        Kind kind;
        Object p;
        int[] xs, ws, ys, pxs, pws;
        final Map<Role, Tensor> tensors = new EnumMap<>(Role.class);
        final Map<Role, Layout> layouts = new EnumMap<>(Role.class);
        final Map<Role, float[]> accumulateStart = new EnumMap<>(Role.class);
        final List<AutoCloseable> owned = new ArrayList<>();
        Fault fault = Fault.NONE;
        Role faultRole;
        Role[] alias;
        boolean baseValid;
        String note = "";

        Scenario(long seed) {
            this.seed = seed;
        }

        Tensor t(Role r) {
            return tensors.get(r);
        }

        static Scenario make(Random r, long seed) {
            Scenario s = new Scenario(seed);
            s.build(r);
            return s;
        }

        private void build(Random r) {
            kind = Kind.values()[r.nextInt(Kind.values().length)];
            boolean square = r.nextInt(10) == 0;
            int g = r.nextInt(4) == 0 ? 1 + r.nextInt(3) : 1;
            int ci = 1 + r.nextInt(3), co = 1 + r.nextInt(3);
            if (r.nextInt(8) == 0) {
                g = 2 + r.nextInt(3);
                ci = 1;
                co = 1 + r.nextInt(2);
            }
            int n = 1 + r.nextInt(2), h = 1 + r.nextInt(6), w = 1 + r.nextInt(7);
            int kh = 1 + r.nextInt(3), kw = 1 + r.nextInt(3), sh = 1 + r.nextInt(3), sw = 1 + r.nextInt(3);
            int dh = 1 + r.nextInt(2), dw = 1 + r.nextInt(2);
            int big = r.nextInt(6) == 0 ? 6 : 2; // sometimes a padding that crops the whole output
            int[] pad = {r.nextInt(big + 1), r.nextInt(big + 1), r.nextInt(big + 1), r.nextInt(big + 1)};
            int oph = r.nextInt(Math.max(sh, dh) + (r.nextInt(3) == 0 ? 2 : 0));
            int opw = r.nextInt(Math.max(sw, dw) + (r.nextInt(3) == 0 ? 2 : 0));
            int padMode = r.nextInt(10); // 0-2 autoPad SAME_UPPER, SAME_LOWER, VALID; 3-4 an output size; else explicit
            if (square) {
                g = 1;
                co = ci;
                kh = kw = sh = sw = dh = dw = 1;
                pad = new int[4];
                oph = opw = 0;
                padMode = 9;
            }
            AutoPad mode = padMode < 3 ? AutoPad.values()[1 + padMode] : AutoPad.NOTSET;
            note += padMode < 3 ? " autoPad" : padMode < 5 ? " output size" : "";
            switch (kind) {
                case TRANSPOSED_2D:
                case PLAN: {
                    ConvTranspose2dParams.Builder b = ConvTranspose2dParams.builder().stride(sh, sw).dilation(dh, dw).groups(g)
                            .outputPadding(oph, opw).padding(pad[0], pad[1], pad[2], pad[3]);
                    if (padMode < 3) {
                        b.autoPad(mode);
                    } else if (padMode < 5) {
                        if (r.nextBoolean()) {
                            b.autoPad(AutoPad.SAME_UPPER);
                        }
                        b.outputSize(Math.max(1, (h - 1) * sh + dh * (kh - 1) + 1 + oph + r.nextInt(6) - 3),
                                Math.max(1, (w - 1) * sw + dw * (kw - 1) + 1 + opw + r.nextInt(6) - 3));
                    }
                    p = b.build();
                    xs = new int[] {n, g * ci, h, w};
                    ws = new int[] {g * ci, co, kh, kw};
                    break;
                }
                case TRANSPOSED_1D: {
                    ConvTranspose1dParams.Builder b = ConvTranspose1dParams.builder().stride(sw).dilation(dw).groups(g)
                            .outputPadding(opw).padding(pad[2], pad[3]);
                    if (padMode < 3) {
                        b.autoPad(mode);
                    } else if (padMode < 5) {
                        if (r.nextBoolean()) {
                            b.autoPad(AutoPad.SAME_UPPER);
                        }
                        b.outputSize(Math.max(1, (w - 1) * sw + dw * (kw - 1) + 1 + opw + r.nextInt(6) - 3));
                    }
                    p = b.build();
                    xs = new int[] {n, g * ci, w};
                    ws = new int[] {g * ci, co, kw};
                    break;
                }
                default: {
                    Conv1dParams.Builder b = Conv1dParams.builder().stride(sw).dilation(dw).groups(g).padding(pad[2], pad[3]);
                    if (padMode < 3) {
                        b.autoPad(mode);
                    }
                    p = b.build();
                    xs = new int[] {n, g * ci, w};
                    ws = new int[] {g * co, ci, kw};
                }
            }
            if (kind == Kind.TRANSPOSED_2D || kind == Kind.PLAN) {
                for (Role role : new Role[] {Role.X, Role.Y, Role.GY, Role.GX}) {
                    Layout l = LAYOUTS[r.nextInt(LAYOUTS.length)];
                    layouts.put(role, l);
                    if (l != Layout.NCHW && !note.contains(" " + l)) {
                        note += " " + l;
                    }
                }
            }
            int f = r.nextInt(100);
            if (kind == Kind.PLAN) {
                fault = f < 20 ? Fault.NONE : f < 28 ? Fault.NULL : f < 36 ? Fault.CLOSED : f < 41 ? Fault.FREED
                        : f < 49 ? Fault.RANK : f < 59 ? Fault.SHAPE : f < 68 ? Fault.ALIAS : f < 78 ? Fault.PARAMS
                        : f < 90 ? Fault.PLAN_SHAPE : f < 95 ? Fault.PLAN_CLOSED : Fault.NO_WEIGHTS;
            } else {
                fault = f < 22 ? Fault.NONE : f < 32 ? Fault.NULL : f < 42 ? Fault.CLOSED : f < 49 ? Fault.FREED
                        : f < 61 ? Fault.RANK : f < 75 ? Fault.SHAPE : f < 87 ? Fault.ALIAS : Fault.PARAMS;
            }
            baseValid = yShape(p, xs, ws) != null;
            if (fault == Fault.PARAMS) {
                mutateParams(r);
            }
            if (staged(p, xs, ws)) {
                note += " staged";
            }
            ys = yShape(p, xs, ws);
            if (ys != null && (elements(ys) > SAFE_ELEMENTS || elements(xs) > SAFE_ELEMENTS)) {
                throw new AssertionError("the generator made a valid layer too large to run: " + this);
            }
            if (ys == null) {
                ys = xs.length == 3 ? new int[] {n, ws[1] * g, 1 + r.nextInt(3)}
                        : new int[] {n, ws[1] * g, 1 + r.nextInt(3), 1 + r.nextInt(3)};
                if (kind == Kind.CONV_1D) {
                    ys[1] = ws[0];
                }
            }
            pxs = xs.clone();
            pws = ws.clone();
            if (fault == Fault.PLAN_SHAPE) {
                badPlanShape(r);
            }
            int o = ys[1];
            boolean bias = r.nextInt(3) > 0, gbias = r.nextInt(3) > 0;
            if (fault == Fault.ALIAS) {
                chooseAlias(r, square);
                bias |= contains(alias, Role.B);
                gbias |= contains(alias, Role.GB);
            }
            if (fault == Fault.NULL) {
                faultRole = REQUIRED_ROLES[r.nextInt(REQUIRED_ROLES.length)];
            } else if (fault == Fault.CLOSED || fault == Fault.FREED || fault == Fault.RANK || fault == Fault.SHAPE) {
                faultRole = TENSOR_ROLES[r.nextInt(TENSOR_ROLES.length)];
                bias |= faultRole == Role.B;
                gbias |= faultRole == Role.GB;
            }
            Map<Role, int[]> shapes = new EnumMap<>(Role.class);
            shapes.put(Role.X, xs);
            shapes.put(Role.W, ws);
            if (bias) {
                shapes.put(Role.B, new int[] {o});
            }
            shapes.put(Role.Y, ys);
            shapes.put(Role.GY, ys);
            shapes.put(Role.GX, xs);
            shapes.put(Role.GW, ws);
            if (gbias) {
                shapes.put(Role.GB, new int[] {o});
            }
            if (fault == Fault.RANK || fault == Fault.SHAPE) {
                shapes.put(faultRole, badShape(r, shapes.get(faultRole), fault == Fault.RANK));
            }
            if (fault == Fault.ALIAS) {
                makeAlias(r, shapes);
            }
            for (Map.Entry<Role, int[]> e : shapes.entrySet()) {
                if (!tensors.containsKey(e.getKey())) {
                    tensors.put(e.getKey(), make(r, e.getValue(), layoutOf(e.getKey(), e.getValue())));
                }
            }
            for (Role out : new Role[] {Role.GX, Role.GW, Role.GB}) {
                Tensor t = tensors.get(out);
                if (t != null) {
                    accumulateStart.put(out, TestData.uniform(r, (int) t.storageSize(), 1));
                }
            }
            if (fault == Fault.NULL) {
                if (faultRole == Role.P) {
                    p = null;
                } else {
                    tensors.remove(faultRole);
                }
            } else if (fault == Fault.CLOSED) {
                tensors.get(faultRole).close();
            } else if (fault == Fault.FREED) {
                Tensor old = tensors.get(faultRole);
                FloatPointer fp = new FloatPointer(old.storageSize());
                tensors.put(faultRole, Tensor.wrap(old.layout(), fp, old.shape()));
                fp.close();
            }
        }

        private Layout layoutOf(Role r, int[] shape) {
            Layout l = layouts.get(r);
            return l == null || shape.length != 4 ? Layout.NCHW : l;
        }

        /** One of the parameters out of its range in a way the shapes do not fit, or valid though huge. */
        private void mutateParams(Random r) {
            int[] in = xs.length == 4 ? new int[] {xs[2], xs[3]} : new int[] {1, xs[2]};
            int[] k = ws.length == 4 ? new int[] {ws[2], ws[3]} : new int[] {1, ws[2]};
            int axis = xs.length == 4 ? r.nextInt(2) : 1;
            int choice = r.nextInt(6);
            if (kind == Kind.CONV_1D) {
                Conv1dParams q = (Conv1dParams) p;
                Conv1dParams.Builder b = Conv1dParams.builder().stride(q.stride()).dilation(q.dilation()).groups(q.groups())
                        .padding(q.explicitPadding()[0], q.explicitPadding()[1]);
                if (q.autoPad() != AutoPad.NOTSET) {
                    b.autoPad(q.autoPad());
                }
                switch (choice) {
                    case 0: case 1: // a huge stride: one output position, valid
                        b.stride(MAX - r.nextInt(3));
                        note += " valid huge stride";
                        break;
                    case 2: // a huge dilation: an empty output unless the kernel has one tap
                        b.dilation(MAX - r.nextInt(1 << 20));
                        note += k[1] == 1 ? " valid huge dilation" : " invalid params";
                        break;
                    case 3: // padding past the int range: an output too long
                        b.stride(1).padding(MAX / 2 + 3 + r.nextInt(100), MAX / 2 + 3 + r.nextInt(100));
                        note += " huge padding invalid params";
                        break;
                    default: // groups that divide neither C nor O, or only one of them
                        b.groups(r.nextBoolean() ? xs[1] + ws[0] + 1 : 2 + r.nextInt(3));
                        note += " bad groups invalid params";
                }
                p = b.build();
                return;
            }
            boolean one = kind == Kind.TRANSPOSED_1D;
            ConvTranspose2dParams q = one ? ((ConvTranspose1dParams) p).asTranspose2d() : (ConvTranspose2dParams) p;
            int[] s = {q.strideH(), q.strideW()}, d = {q.dilationH(), q.dilationW()};
            int[] op = {q.outputPaddingH(), q.outputPaddingW()}, pad = q.explicitPadding();
            int[] size = q.outputSize();
            AutoPad mode = q.autoPad();
            int g = q.groups();
            boolean derived = size != null || mode == AutoPad.SAME_UPPER || mode == AutoPad.SAME_LOWER;
            switch (choice) {
                case 0: // a huge stride: valid on an axis of one input position, else a full output past the int range
                    s[axis] = in[axis] == 1 ? MAX - r.nextInt(1 << 20) : in[axis] == 2 ? MAX : MAX - r.nextInt(3);
                    if (size == null && derived) {
                        mode = AutoPad.NOTSET; // SAME would ask for in * stride positions: explicit (zero) padding instead
                    }
                    note += in[axis] == 1 ? " valid huge stride" : " invalid params";
                    break;
                case 1: // a huge dilation: valid for a kernel of one tap, else past the int range
                    d[axis] = k[axis] == 1 ? MAX - r.nextInt(1 << 20) : MAX;
                    note += k[axis] == 1 ? " valid huge dilation" : " invalid params";
                    break;
                case 2: // a huge padding: the output would be empty
                    pad[2 * axis] = (1 << 16) + r.nextInt(MAX - (1 << 16));
                    pad[2 * axis + 1] = r.nextBoolean() ? pad[2 * axis] : 0;
                    size = null;
                    mode = AutoPad.NOTSET;
                    note += " huge padding invalid params";
                    break;
                case 3: // a huge output padding: absorbed by a derived padding (valid), else an output too large
                    if (one) {
                        op[1] = MAX; // past the int range whatever the full output
                        if (!derived) {
                            pad[2] = pad[3] = 0;
                        }
                    } else {
                        op[0] = (1 << 16) + r.nextInt(MAX - (1 << 16));
                        op[1] = (1 << 16) + r.nextInt(MAX - (1 << 16));
                    }
                    note += " huge output padding" + (derived ? " derived padding" : " invalid params");
                    break;
                case 4: // a huge output size (ONNX's output_shape): more elements than an int counts
                    if (one && xs[0] * ws[1] * g < 2) {
                        pad[2] = (1 << 16) + r.nextInt(MAX - (1 << 16));
                        size = null;
                        mode = AutoPad.NOTSET;
                        note += " huge padding invalid params";
                    } else {
                        size = one ? new int[] {1, (1 << 30) + r.nextInt(1 << 30)}
                                : new int[] {(1 << 16) + r.nextInt(MAX - (1 << 16)), (1 << 16) + r.nextInt(MAX - (1 << 16))};
                        note += " huge output size invalid params";
                    }
                    break;
                default: // groups that do not divide C_in (or, dividing it, change C_out)
                    g = r.nextBoolean() ? xs[1] + 1 + r.nextInt(3) : 2 + r.nextInt(3);
                    note += " bad groups invalid params";
            }
            if (one) {
                ConvTranspose1dParams.Builder b = ConvTranspose1dParams.builder().stride(s[1]).dilation(d[1]).groups(g)
                        .outputPadding(op[1]).padding(pad[2], pad[3]).autoPad(mode);
                if (size != null) {
                    b.outputSize(size[1]);
                }
                p = b.build();
            } else {
                ConvTranspose2dParams.Builder b = ConvTranspose2dParams.builder().stride(s[0], s[1]).dilation(d[0], d[1])
                        .groups(g).outputPadding(op[0], op[1]).padding(pad[0], pad[1], pad[2], pad[3]).autoPad(mode);
                if (size != null) {
                    b.outputSize(size[0], size[1]);
                }
                p = b.build();
            }
        }

        /** Wrong shape arguments for the plan: null, another rank, off by one, zero or negative, or two huge dimensions. */
        private void badPlanShape(Random r) {
            boolean input = r.nextBoolean();
            int[] t = (input ? pxs : pws).clone();
            int i = r.nextInt(t.length);
            switch (r.nextInt(7)) {
                case 0:
                    t = null;
                    break;
                case 1:
                    t = otherRank(r, t.length);
                    break;
                case 2:
                    t[i] = -r.nextInt(3);
                    break;
                case 3:
                case 4:
                    if (input) {
                        // two huge dimensions: x alone has more elements than an int counts
                        int j = (i + 1 + r.nextInt(t.length - 1)) % t.length;
                        t[i] = new int[] {MAX, 1 << 30, 65536, 46341}[r.nextInt(4)];
                        t[j] = new int[] {MAX, 1 << 30, 65536, 46341}[r.nextInt(4)];
                    } else {
                        t[0] = new int[] {MAX, 1 << 30, 65536}[r.nextInt(3)]; // not x's channels
                    }
                    note += " huge-shape";
                    break;
                default:
                    t[i] = t[i] > 1 && r.nextBoolean() ? t[i] - 1 : t[i] + 1;
            }
            if (input) {
                pxs = t;
            } else {
                pws = t;
            }
            int[] y = yShape(p, pxs, pws);
            if (y != null && (elements(y) > SAFE_ELEMENTS || elements(pxs) > SAFE_ELEMENTS)) {
                throw new AssertionError("the generator made valid plan shapes too large to run: " + this);
            }
        }

        private void chooseAlias(Random r, boolean square) {
            if (square && r.nextBoolean()) {
                alias = r.nextBoolean() ? new Role[] {Role.Y, Role.X} : new Role[] {Role.GX, Role.GY};
                note += " same-tensor";
                return;
            }
            alias = ALIAS_PAIRS[r.nextInt(ALIAS_PAIRS.length)];
            note += " overlapping-views";
        }

        /** Makes the aliased output the same tensor as its input, or a view overlapping it. */
        private void makeAlias(Random r, Map<Role, int[]> shapes) {
            Role out = alias[0], in = alias[1];
            Layout lo = layoutOf(out, shapes.get(out)), li = layoutOf(in, shapes.get(in));
            if (note.contains("same-tensor") && Arrays.equals(shapes.get(out), shapes.get(in))) {
                Tensor t = make(r, shapes.get(in), li);
                tensors.put(in, t);
                tensors.put(out, t);
                return;
            }
            int inN = (int) li.storageSize(shapes.get(in)), outN = (int) lo.storageSize(shapes.get(out));
            int off = r.nextInt(inN);
            FloatBuffer buf = ByteBuffer.allocateDirect(4 * (inN + outN + off)).order(ByteOrder.nativeOrder()).asFloatBuffer();
            for (int i = 0; i < buf.capacity(); i++) {
                buf.put(i, r.nextFloat() * 2 - 1);
            }
            boolean outFirst = r.nextBoolean();
            int firstN = outFirst ? outN : inN;
            Tensor a = Tensor.wrap(outFirst ? lo : li, buf.position(0), shapes.get(outFirst ? out : in));
            Tensor b = Tensor.wrap(outFirst ? li : lo, buf.position(Math.min(off, firstN - 1)), shapes.get(outFirst ? in : out));
            tensors.put(outFirst ? out : in, a);
            tensors.put(outFirst ? in : out, b);
            owned.add(a);
            owned.add(b);
        }

        /** A tensor of the shape: owned, a view of a larger tensor, or a view of a direct buffer or of native memory. */
        private Tensor make(Random r, int[] shape, Layout layout) {
            int n = (int) layout.storageSize(shape);
            float[] data = TestData.uniform(r, n, 1);
            Tensor t;
            switch (r.nextInt(5)) {
                case 0: {
                    int pos = r.nextInt(4);
                    FloatBuffer fb = ByteBuffer.allocateDirect(4 * (pos + n + r.nextInt(3))).order(ByteOrder.nativeOrder()).asFloatBuffer();
                    fb.position(pos);
                    t = Tensor.wrap(layout, fb, shape);
                    note += " wrap-buffer";
                    break;
                }
                case 1: {
                    int pos = r.nextInt(4);
                    FloatPointer fp = new FloatPointer((long) pos + n + r.nextInt(3));
                    owned.add(fp);
                    t = Tensor.wrap(layout, fp.position(pos), shape);
                    note += " wrap-pointer";
                    break;
                }
                case 2: {
                    int pos = r.nextInt(5);
                    Tensor whole = Tensor.zeros(n + pos + r.nextInt(3));
                    owned.add(whole);
                    t = whole.view(pos, layout, shape);
                    note += " view";
                    break;
                }
                default:
                    t = Tensor.zeros(layout, shape);
            }
            t.copyFrom(data);
            owned.add(t);
            return t;
        }

        private int[] otherRank(Random r, int rank) {
            int k;
            do {
                k = r.nextInt(7);
            } while (k == rank);
            note += " rank" + k;
            int[] s = new int[k];
            for (int i = 0; i < k; i++) {
                s[i] = 1 + r.nextInt(3);
            }
            return s;
        }

        /** A tensor's wrong shape: another rank, or one dimension changed. */
        private int[] badShape(Random r, int[] s, boolean rank) {
            if (rank) {
                return otherRank(r, s.length);
            }
            int[] t = s.clone();
            int i = r.nextInt(t.length);
            int d = t[i] + (r.nextBoolean() ? 1 : -1) * (1 + r.nextInt(2));
            t[i] = d < 1 || d == s[i] ? s[i] + 1 : d;
            return t;
        }

        /** Before each call: outputs to NaN (so an element left unwritten fails) or, to accumulate, to known values. */
        void resetOutputs(Entry entry) {
            for (Role out : entry.outputs()) {
                Tensor t = tensors.get(out);
                if (t == null || t.isClosed() || (alias != null && (alias[0] == out || alias[1] == out))
                        || (fault == Fault.FREED && faultRole == out)) {
                    continue;
                }
                if (entry.accumulates()) {
                    float[] start = accumulateStart.get(out);
                    if (start != null && start.length == t.storageSize()) {
                        t.copyFrom(start);
                        continue;
                    }
                }
                t.fill(Float.NaN);
            }
        }

        private boolean usable(Role r) {
            Tensor t = tensors.get(r);
            return t != null && !t.isClosed() && !(fault == Fault.FREED && faultRole == r);
        }

        /** Every usable tensor's memory, in its layout's order. */
        Map<Role, float[]> snapshot() {
            Map<Role, float[]> m = new EnumMap<>(Role.class);
            for (Role r : tensors.keySet()) {
                if (usable(r)) {
                    m.put(r, tensors.get(r).toArray());
                }
            }
            return m;
        }

        /** The logical (N, C, H, W) values of the entry's tensors, taken before the call, for the reference. */
        Map<Role, float[]> logicalSnapshot(Entry entry) {
            Map<Role, float[]> m = new EnumMap<>(Role.class);
            for (Role r : entry.roles) {
                if (r != Role.P && usable(r)) {
                    m.put(r, TestData.logical(tensors.get(r)));
                }
            }
            return m;
        }

        void checkUnchanged(Map<Role, float[]> before, Set<Role> roles, String where) {
            for (Map.Entry<Role, float[]> e : before.entrySet()) {
                if (!roles.contains(e.getKey())) {
                    continue;
                }
                float[] now = tensors.get(e.getKey()).toArray();
                float[] was = e.getValue();
                for (int i = 0; i < was.length; i++) {
                    if (Float.floatToRawIntBits(now[i]) != Float.floatToRawIntBits(was[i])) {
                        fail(e.getKey() + "[" + i + "] changed from " + was[i] + " to " + now[i] + " in " + where);
                    }
                }
            }
        }

        /** The specification of a valid call, from the shapes, nulls, closed tensors, plans and aliasing of this configuration. */
        boolean isValid(Entry entry) {
            for (Role r : entry.roles) {
                if (r == Role.P) {
                    if (p == null) {
                        return false;
                    }
                } else if (r == Role.B || r == Role.GB) {
                    if (tensors.get(r) != null && !usable(r)) {
                        return false;
                    }
                } else if (!usable(r)) {
                    return false;
                }
            }
            if (alias != null && entry.roles.contains(alias[0]) && entry.roles.contains(alias[1])
                    && !(entry == Entry.PLAN_PREPACKED && (alias[1] == Role.W || alias[1] == Role.B))) {
                return false;
            }
            if (entry.plan) {
                if (fault == Fault.PLAN_CLOSED || entry == Entry.PLAN_PREPACKED && fault == Fault.NO_WEIGHTS) {
                    return false;
                }
                int[] y = yShape(p, pxs, pws);
                if (y == null) {
                    return false;
                }
                Map<Role, int[]> planned = new EnumMap<>(Role.class);
                planned.put(Role.X, pxs);
                planned.put(Role.GX, pxs);
                planned.put(Role.W, pws);
                planned.put(Role.GW, pws);
                planned.put(Role.Y, y);
                planned.put(Role.GY, y);
                planned.put(Role.B, new int[] {y[1]});
                planned.put(Role.GB, new int[] {y[1]});
                for (Role r : entry.roles) {
                    Tensor t = tensors.get(r);
                    if (r != Role.P && t != null && !Arrays.equals(t.shape(), planned.get(r))) {
                        return false;
                    }
                }
                return true;
            }
            int[] in = entry == Entry.DATA || entry == Entry.DATA_ACC ? tensors.get(Role.GX).shape() : tensors.get(Role.X).shape();
            int[] wt = entry == Entry.WEIGHTS || entry == Entry.WEIGHTS_ACC ? tensors.get(Role.GW).shape()
                    : tensors.get(Role.W).shape();
            int[] y = yShape(p, in, wt);
            if (y == null) {
                return false;
            }
            switch (entry) {
                case FORWARD:
                    return biasOk(Role.B, y) && Arrays.equals(tensors.get(Role.Y).shape(), y);
                case FORWARD_NEW:
                    return biasOk(Role.B, y);
                case DATA:
                case DATA_ACC:
                    return Arrays.equals(tensors.get(Role.GY).shape(), y);
                default:
                    return Arrays.equals(tensors.get(Role.GY).shape(), y) && biasOk(Role.GB, y);
            }
        }

        private boolean biasOk(Role r, int[] y) {
            Tensor t = tensors.get(r);
            return t == null || Arrays.equals(t.shape(), new int[] {y[1]});
        }

        void close() {
            for (int i = owned.size() - 1; i >= 0; i--) {
                try {
                    owned.get(i).close();
                } catch (Exception e) {
                    throw new AssertionError("closing a tensor after its calls returned failed", e);
                }
            }
            for (Tensor t : tensors.values()) {
                t.close();
            }
        }

        @Override
        public String toString() {
            return "[seed " + seed + ", " + kind + ", fault " + fault + (faultRole != null ? " on " + faultRole : "")
                    + (alias != null ? " alias " + Arrays.toString(alias) : "") + ", " + p + ", x " + Arrays.toString(xs)
                    + ", w " + Arrays.toString(ws) + (kind == Kind.PLAN ? ", planned x " + Arrays.toString(pxs) + " w "
                    + Arrays.toString(pws) : "") + ", layouts " + layouts + note + "]";
        }
    }

    private static boolean contains(Role[] a, Role r) {
        return a != null && Arrays.asList(a).contains(r);
    }
}
