package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.Engines;
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
 * Random configurations, most of them broken in one way, thrown at every public entry point of
 * every engine: nulls, closed tensors, views of deallocated memory, ranks 0-6, wrong and huge shapes,
 * padding larger than the input, huge strides, dilations and paddings, groups that do not divide the
 * channels, outputs that are the input or overlap it, and views of direct buffers and native memory.
 *
 * <p>Each call must either match the naive engine (when the arguments are valid) or throw an
 * IllegalArgumentException, IllegalStateException or NullPointerException with a message naming the
 * problem, and must leave its inputs untouched (and its outputs too when it throws). Beside the engine
 * calls, each configuration also probes the tensor factories and the parameter builder with bad arguments.
 */
class FuzzTest {
    private static final int CONFIGS = 10_000;
    private static final long SEED = 20261126_5L;
    /** Float against double accumulation of up to ~200 terms in [-1, 1], with cancellation; a wrong index errs by O(1). */
    private static final double TOL = 1e-4;

    enum Role { P, X, W, B, Y, GY, GX, GW, GB, XS, WS }

    enum Entry {
        FORWARD(Role.P, Role.X, Role.W, Role.B, Role.Y),
        FORWARD_NEW(Role.P, Role.X, Role.W, Role.B),
        DATA(Role.P, Role.GY, Role.W, Role.GX),
        DATA_ACC(Role.P, Role.GY, Role.W, Role.GX),
        DATA_NEW(Role.P, Role.GY, Role.W, Role.XS),
        WEIGHTS(Role.P, Role.X, Role.GY, Role.GW, Role.GB),
        WEIGHTS_ACC(Role.P, Role.X, Role.GY, Role.GW, Role.GB),
        WEIGHTS_NEW(Role.P, Role.X, Role.GY, Role.WS),
        BIAS(Role.GY);

        final Set<Role> roles;

        Entry(Role first, Role... rest) {
            roles = EnumSet.of(first, rest);
        }

        Set<Role> outputs() {
            Set<Role> s = EnumSet.noneOf(Role.class);
            for (Role r : roles) {
                if (r == Role.Y || r == Role.GX || r == Role.GW || r == Role.GB) {
                    s.add(r);
                }
            }
            return s;
        }

        boolean accumulates() {
            return this == DATA_ACC || this == WEIGHTS_ACC;
        }
    }

    /** The one thing wrong with a configuration, what it must throw, and words its message must contain (any of). */
    enum Fault {
        NONE(null),
        NULL(IllegalArgumentException.class, "null"),
        CLOSED(IllegalStateException.class, "closed"),
        FREED(IllegalStateException.class, "deallocated"),
        RANK(IllegalArgumentException.class, "rank", "shape"),
        SHAPE(IllegalArgumentException.class, "shape", "groups", "empty", "more than", "exceeds", "below 1", "must be"),
        ALIAS(IllegalArgumentException.class, "share memory"),
        PARAMS(IllegalArgumentException.class, "groups", "empty", "more than", "exceeds");

        final Class<? extends RuntimeException> type;
        final String[] words;

        Fault(Class<? extends RuntimeException> type, String... words) {
            this.type = type;
            this.words = words;
        }
    }

    private static final Role[] TENSOR_ROLES = {Role.X, Role.W, Role.B, Role.Y, Role.GY, Role.GX, Role.GW, Role.GB};
    private static final Role[] REQUIRED_ROLES = {Role.P, Role.X, Role.W, Role.Y, Role.GY, Role.GX, Role.GW, Role.XS, Role.WS};
    /** Output/input pairs of the same entry point that may be made to share memory. */
    private static final Role[][] ALIAS_PAIRS = {
        {Role.Y, Role.X}, {Role.Y, Role.W}, {Role.Y, Role.B}, {Role.GX, Role.GY}, {Role.GX, Role.W},
        {Role.GW, Role.X}, {Role.GW, Role.GY}, {Role.GW, Role.GB}, {Role.GB, Role.X}, {Role.GB, Role.GY},
    };

    private static final String[] NOTES = {"wrap-buffer", "wrap-pointer", "rank0", "rank5", "rank6", "huge-shape",
        "same-tensor", "overlapping-views", "valid huge stride", "padding > input", "invalid params"};

    /** Counters printed at the end, also checked so that the fuzzing cannot silently degenerate. */
    private final Map<String, Integer> counts = new LinkedHashMap<>();

    private void count(String key) {
        counts.merge(key, 1, Integer::sum);
    }

    @Test
    void everyEntryPointOfEveryEngineSurvivesRandomBadInput() {
        List<ConvEngine> engines = Engines.all();
        Random r = new Random(SEED);
        long start = System.nanoTime();
        for (int i = 0; i < CONFIGS; i++) {
            long seed = r.nextLong();
            Scenario s = Scenario.make(new Random(seed), seed);
            try {
                count("configurations");
                count("fault " + s.fault);
                for (String k : NOTES) {
                    if (s.note.contains(k)) {
                        count(k);
                    }
                }
                probeFactories(new Random(seed ^ 0x9E3779B97F4A7C15L));
                for (ConvEngine e : engines) {
                    for (Entry entry : Entry.values()) {
                        run(e, entry, s);
                    }
                }
            } finally {
                s.close();
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        int calls = counts.getOrDefault("calls", 0);
        System.out.printf("fuzz: %d configurations x %d entry points x %d engines = %d calls (%d computed and checked"
                        + " against naive, %d rejected) + %d factory/builder probes in %.1f s; faults %s%n",
                CONFIGS, Entry.values().length, engines.size(), calls, counts.getOrDefault("valid", 0),
                counts.getOrDefault("rejected", 0), counts.getOrDefault("probes", 0), seconds, faults());
        assertEquals(CONFIGS * Entry.values().length * engines.size(), calls);
        assertTrue(counts.getOrDefault("valid", 0) > calls / 5, "too few valid calls: " + counts);
        assertTrue(counts.getOrDefault("rejected", 0) > calls / 5, "too few rejected calls: " + counts);
        for (Fault f : Fault.values()) {
            assertTrue(counts.getOrDefault("fault " + f, 0) > CONFIGS / 50, "fault " + f + " is rarely generated: " + counts);
        }
        for (String k : new String[] {"wrap-buffer", "wrap-pointer", "rank0", "rank5", "rank6", "huge-shape", "same-tensor",
            "overlapping-views", "valid huge stride", "padding > input", "invalid params", "bad builder",
            "bad wrap-buffer", "bad wrap-pointer", "good wrap-buffer", "good wrap-pointer"}) {
            assertTrue(counts.getOrDefault(k, 0) > 20, "'" + k + "' is rarely generated: " + counts);
        }
    }

    private String faults() {
        StringBuilder sb = new StringBuilder();
        counts.forEach((k, v) -> {
            if (k.startsWith("fault ")) {
                sb.append(k.substring(6)).append('=').append(v).append(' ');
            }
        });
        return sb.toString().trim();
    }

    /** One call of one entry point, checked. */
    private void run(ConvEngine e, Entry entry, Scenario s) {
        count("calls");
        String where = e.name() + "/" + Engines.label(e) + " " + entry + " " + s;
        s.resetOutputs(entry);
        Map<Role, float[]> before = s.snapshot();
        boolean valid = s.isValid(entry);
        Object result = null;
        RuntimeException thrown = null;
        try {
            result = call(e, entry, s);
        } catch (IllegalArgumentException | IllegalStateException | NullPointerException ex) {
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
                if (!valid) {
                    fail("an invalid call was accepted: " + where);
                }
                Set<Role> inputs = EnumSet.copyOf(entry.roles);
                inputs.removeAll(entry.outputs());
                s.checkUnchanged(before, inputs, where);
                checkResult(entry, s, result, before, where);
            }
        } finally {
            if (result instanceof Tensor) {
                ((Tensor) result).close();
            }
        }
    }

    private static Object call(ConvEngine e, Entry entry, Scenario s) {
        Conv2dParams p = s.p;
        switch (entry) {
            case FORWARD:
                e.forward(p, s.t(Role.X), s.t(Role.W), s.t(Role.B), s.t(Role.Y));
                return null;
            case FORWARD_NEW:
                return e.forward(p, s.t(Role.X), s.t(Role.W), s.t(Role.B));
            case DATA:
                e.backwardData(p, s.t(Role.GY), s.t(Role.W), s.t(Role.GX));
                return null;
            case DATA_ACC:
                e.backwardData(p, s.t(Role.GY), s.t(Role.W), s.t(Role.GX), true);
                return null;
            case DATA_NEW:
                return e.backwardData(p, s.t(Role.GY), s.t(Role.W), s.xs);
            case WEIGHTS:
                e.backwardWeights(p, s.t(Role.X), s.t(Role.GY), s.t(Role.GW), s.t(Role.GB));
                return null;
            case WEIGHTS_ACC:
                e.backwardWeights(p, s.t(Role.X), s.t(Role.GY), s.t(Role.GW), s.t(Role.GB), true);
                return null;
            case WEIGHTS_NEW:
                return e.backwardWeights(p, s.t(Role.X), s.t(Role.GY), s.ws);
            case BIAS:
                return e.backwardBias(s.t(Role.GY));
            default:
                throw new AssertionError(entry);
        }
    }

    /** Compares a successful call with the naive engine run on the same inputs. */
    private static void checkResult(Entry entry, Scenario s, Object result, Map<Role, float[]> before, String where) {
        ConvEngine naive = ConvEngines.naive();
        Conv2dParams p = s.p;
        switch (entry) {
            case FORWARD:
            case FORWARD_NEW: {
                try (Tensor ref = naive.forward(p, s.t(Role.X), s.t(Role.W), s.t(Role.B))) {
                    Tensor got = entry == Entry.FORWARD ? s.t(Role.Y) : (Tensor) result;
                    close("y", got, ref.toArray(), ref.shape(), where);
                }
                break;
            }
            case DATA:
            case DATA_ACC:
            case DATA_NEW: {
                int[] shape = entry == Entry.DATA_NEW ? s.xs : s.t(Role.GX).shape();
                try (Tensor ref = naive.backwardData(p, s.t(Role.GY), s.t(Role.W), shape)) {
                    float[] expected = ref.toArray();
                    if (entry == Entry.DATA_ACC) {
                        add(expected, before.get(Role.GX));
                    }
                    close("gx", entry == Entry.DATA_NEW ? (Tensor) result : s.t(Role.GX), expected, shape, where);
                }
                break;
            }
            case WEIGHTS:
            case WEIGHTS_ACC:
            case WEIGHTS_NEW: {
                int[] shape = entry == Entry.WEIGHTS_NEW ? s.ws : s.t(Role.GW).shape();
                Tensor gb = entry == Entry.WEIGHTS_NEW ? null : s.t(Role.GB);
                try (Tensor gwRef = Tensor.zeros(shape); Tensor gbRef = gb == null ? null : Tensor.zeros(gb.shape())) {
                    naive.backwardWeights(p, s.t(Role.X), s.t(Role.GY), gwRef, gbRef);
                    float[] gw = gwRef.toArray();
                    if (entry == Entry.WEIGHTS_ACC) {
                        add(gw, before.get(Role.GW));
                    }
                    close("gw", entry == Entry.WEIGHTS_NEW ? (Tensor) result : s.t(Role.GW), gw, shape, where);
                    if (gb != null) {
                        float[] b = gbRef.toArray();
                        if (entry == Entry.WEIGHTS_ACC) {
                            add(b, before.get(Role.GB));
                        }
                        close("gb", gb, b, gb.shape(), where);
                    }
                }
                break;
            }
            case BIAS: {
                int[] gs = s.t(Role.GY).shape();
                float[] gy = s.t(Role.GY).toArray();
                float[] expected = new float[gs[1]];
                int plane = gs[2] * gs[3];
                for (int o = 0; o < gs[1]; o++) {
                    double sum = 0;
                    for (int n = 0; n < gs[0]; n++) {
                        for (int i = 0; i < plane; i++) {
                            sum += gy[(n * gs[1] + o) * plane + i];
                        }
                    }
                    expected[o] = (float) sum;
                }
                close("gb", (Tensor) result, expected, new int[] {gs[1]}, where);
                break;
            }
            default:
                throw new AssertionError(entry);
        }
    }

    private static void add(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            a[i] += b[i];
        }
    }

    private static void close(String name, Tensor got, float[] expected, int[] shape, String where) {
        assertArrayEquals(shape, got.shape(), name + " shape in " + where);
        double err = TestData.relErr(got.toArray(), expected);
        assertTrue(err <= TOL, name + " differs from naive by " + err + " in " + where);
    }

    // ---------------------------------------------------------------- tensor factories and the builder

    /** One random call of a tensor factory (often with bad arguments), checked. */
    private void probeFactories(Random r) {
        count("probes");
        int kind = r.nextInt(5);
        int[] shape = randomShape(r);
        boolean good = shapeIsGood(shape);
        int n = good ? elements(shape) : 4;
        try {
            Tensor t;
            float[] data = TestData.uniform(r, n, 1);
            switch (kind) {
                case 0:
                    t = Tensor.zeros(shape);
                    data = new float[n];
                    break;
                case 1: {
                    int len = r.nextInt(6) == 0 ? n + 1 : n;
                    good &= len == n;
                    if (r.nextInt(20) == 0) {
                        good = false;
                        t = Tensor.of(null, shape);
                    } else {
                        float[] d = Arrays.copyOf(data, len);
                        t = Tensor.of(d, shape);
                    }
                    break;
                }
                case 2: {
                    int pos = r.nextInt(3), room = r.nextInt(4) == 0 ? n - 1 - r.nextInt(Math.max(1, n)) : n;
                    boolean shapeGood = good;
                    good &= room >= n;
                    ByteBuffer bb = ByteBuffer.allocateDirect(4 * (pos + Math.max(0, room)));
                    int variant = r.nextInt(12);
                    FloatBuffer fb;
                    if (variant == 0) {
                        fb = FloatBuffer.allocate(pos + Math.max(0, room)); // heap
                        good = false;
                    } else if (variant == 1) {
                        fb = bb.order(ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN).asFloatBuffer();
                        good = false;
                    } else if (variant == 2) {
                        fb = bb.order(ByteOrder.nativeOrder()).asFloatBuffer().asReadOnlyBuffer();
                        good = false;
                    } else if (variant == 3) {
                        fb = null;
                        good = false;
                    } else {
                        fb = bb.order(ByteOrder.nativeOrder()).asFloatBuffer();
                        if (good) {
                            fb.put(pos, data, 0, n);
                        }
                    }
                    if (fb != null) {
                        fb.position(Math.min(pos, fb.capacity()));
                    }
                    count(good ? "good wrap-buffer" : "bad wrap-buffer");
                    t = Tensor.wrap(fb, shape);
                    break;
                }
                case 3: {
                    int pos = r.nextInt(3), room = r.nextInt(4) == 0 ? n - 1 - r.nextInt(Math.max(1, n)) : n;
                    boolean shapeGood = good;
                    good &= room >= n;
                    try (FloatPointer fp = new FloatPointer((long) pos + Math.max(1, room))) {
                        int variant = r.nextInt(10);
                        FloatPointer arg = fp;
                        if (variant == 0) {
                            arg = null;
                            good = false;
                        } else if (variant == 1) {
                            fp.limit(0); // no limit: the allocation (and the capacity) still bound it
                            good = shapeGood && Math.max(1, room) >= n;
                            if (good) {
                                fp.position(pos).put(data, 0, n);
                            }
                        } else if (variant == 2) {
                            arg = new FloatPointer((long) pos + n);
                            arg.close(); // deallocated before wrapping
                            good = false;
                        } else {
                            fp.limit((long) pos + Math.max(0, room));
                            if (fp.limit() == 0) {
                                good = shapeGood && Math.max(1, room) >= n; // a limit of 0 means none: the allocation bounds it
                            }
                            if (good) {
                                fp.position(pos).put(data, 0, n);
                            }
                        }
                        if (arg != null && !arg.isNull()) {
                            arg.position(pos);
                        }
                        count(good ? "good wrap-pointer" : "bad wrap-pointer");
                        t = Tensor.wrap(arg, shape);
                        try (t) {
                            assertTrue(good, "wrap accepted a bad pointer or shape " + Arrays.toString(shape));
                            assertArrayEquals(data, t.toArray());
                        }
                        return;
                    }
                }
                default: {
                    // the parameter builder: stride, dilation, padding and groups out of range
                    Conv2dParams.Builder b = Conv2dParams.builder();
                    int bad = r.nextInt(4), v = r.nextBoolean() ? 0 : -1 - r.nextInt(Integer.MAX_VALUE);
                    String word = new String[] {"stride", "dilation", "padding", "groups"}[bad];
                    if (bad == 0) {
                        b.stride(r.nextBoolean() ? v : 1, v);
                    } else if (bad == 1) {
                        b.dilation(v, r.nextBoolean() ? v : 1);
                    } else if (bad == 2) {
                        b.padding(0, 0, v == 0 ? -1 : v, 0);
                    } else {
                        b.groups(v);
                    }
                    count("bad builder");
                    try {
                        b.build();
                        fail("the builder accepted " + word + " " + v);
                    } catch (IllegalArgumentException e) {
                        assertTrue(e.getMessage().contains(word), e.getMessage());
                    }
                    return;
                }
            }
            try (t) {
                assertTrue(good, "a factory accepted a bad shape or buffer: " + Arrays.toString(shape) + " kind " + kind);
                assertArrayEquals(shape, t.shape());
                assertEquals(n, t.size());
                assertArrayEquals(data, t.toArray());
            }
        } catch (IllegalArgumentException e) {
            assertTrue(!good, "a good factory call failed: " + e + " for shape " + Arrays.toString(shape) + " kind " + kind);
            assertTrue(e.getMessage() != null && e.getMessage().length() > 10, String.valueOf(e));
        }
    }

    /** Ranks 0-6; dimensions mostly small, sometimes zero, negative or huge (products overflowing int and long). */
    private int[] randomShape(Random r) {
        int rank = r.nextInt(7);
        count("rank" + rank);
        int[] s = new int[rank];
        int mode = r.nextInt(4);
        for (int i = 0; i < rank; i++) {
            s[i] = 1 + r.nextInt(3);
            if (mode == 0 && r.nextInt(3) == 0) {
                s[i] = new int[] {0, -1, Integer.MIN_VALUE, -r.nextInt(100)}[r.nextInt(4)];
            } else if (mode == 1 && r.nextInt(2) == 0) {
                s[i] = new int[] {Integer.MAX_VALUE, 1 << 16, 1 << 30, 46341}[r.nextInt(4)];
            }
        }
        if (!shapeIsGood(s) && Arrays.stream(s).allMatch(d -> d >= 1)) {
            count("huge-shape");
        }
        if (shapeIsGood(s) && elements(s) > 4096) {
            return new int[] {2, 3}; // a valid shape too large to allocate cheaply
        }
        return s;
    }

    private static boolean shapeIsGood(int[] s) {
        BigInteger n = BigInteger.ONE;
        for (int d : s) {
            if (d < 1) {
                return false;
            }
            n = n.multiply(BigInteger.valueOf(d));
        }
        return n.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) <= 0;
    }

    private static int elements(int[] s) {
        int n = 1;
        for (int d : s) {
            n *= d;
        }
        return n;
    }

    // ---------------------------------------------------------------- one configuration

    /** A convolution's tensors and shape arguments, with (at most) one fault injected. */
    private static final class Scenario {
        final long seed;
        Conv2dParams p;
        int[] xs, ws;
        final Map<Role, Tensor> tensors = new EnumMap<>(Role.class);
        final Map<Role, float[]> accumulateStart = new EnumMap<>(Role.class);
        final List<AutoCloseable> owned = new ArrayList<>();
        Fault fault = Fault.NONE;
        Role faultRole;
        Role[] alias;
        /** Whether the configuration before the fault is a valid convolution. */
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
            boolean square = r.nextInt(10) == 0;
            int groups = r.nextInt(4) == 0 ? 1 + r.nextInt(3) : 1;
            int cg = 1 + r.nextInt(3), og = 1 + r.nextInt(3);
            if (r.nextInt(8) == 0) {
                groups = 2 + r.nextInt(3);
                cg = 1;
                og = 1 + r.nextInt(2);
            }
            int n = 1 + r.nextInt(2), h = 1 + r.nextInt(7), w = 1 + r.nextInt(7);
            int kh = 1 + r.nextInt(3), kw = 1 + r.nextInt(3);
            Conv2dParams.Builder b = Conv2dParams.builder().groups(groups);
            if (square) {
                groups = 1;
                og = cg;
                kh = kw = 1;
                b.groups(1);
            } else {
                b.stride(1 + r.nextInt(3), 1 + r.nextInt(3)).dilation(1 + r.nextInt(2), 1 + r.nextInt(2));
                int big = r.nextInt(6) == 0 ? 12 : 3; // sometimes padding larger than the input
                b.padding(r.nextInt(big + 1), r.nextInt(big + 1), r.nextInt(big + 1), r.nextInt(big + 1));
                if (r.nextInt(8) == 0) {
                    b.autoPad(r.nextBoolean() ? Conv2dParams.AutoPad.SAME_UPPER : Conv2dParams.AutoPad.SAME_LOWER);
                }
            }
            p = b.build();
            int[] pad = p.padding(h, w, kh, kw);
            if (pad[0] + pad[1] > h || pad[2] + pad[3] > w) {
                note += " padding > input";
            }
            xs = new int[] {n, cg * groups, h, w};
            ws = new int[] {og * groups, cg, kh, kw};
            // what faults may be chosen; PARAMS changes p before the tensors are made
            int f = r.nextInt(100);
            fault = f < 22 ? Fault.NONE : f < 32 ? Fault.NULL : f < 42 ? Fault.CLOSED : f < 49 ? Fault.FREED
                    : f < 62 ? Fault.RANK : f < 78 ? Fault.SHAPE : f < 88 ? Fault.ALIAS : Fault.PARAMS;
            baseValid = geometry(p, xs, ws) != null;
            if (fault == Fault.PARAMS) {
                mutateParams(r);
            }
            ConvGeometry g = geometry(p, xs, ws);
            int[] ys = g != null ? g.outputShape() : new int[] {n, og * groups, 1 + r.nextInt(3), 1 + r.nextInt(3)};
            int o = ws[0];
            boolean bias = r.nextInt(3) > 0, gbias = r.nextInt(3) > 0;
            if (fault == Fault.ALIAS) {
                chooseAlias(r, square, bias, gbias);
                bias |= contains(alias, Role.B);
                gbias |= contains(alias, Role.GB);
            }
            if (fault == Fault.NULL) {
                faultRole = REQUIRED_ROLES[r.nextInt(REQUIRED_ROLES.length)];
            } else if (fault == Fault.CLOSED || fault == Fault.FREED || fault == Fault.RANK || fault == Fault.SHAPE) {
                Role[] pool = fault == Fault.CLOSED || fault == Fault.FREED ? TENSOR_ROLES
                        : concat(TENSOR_ROLES, Role.XS, Role.WS);
                faultRole = pool[r.nextInt(pool.length)];
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
            xs = xs.clone();
            ws = ws.clone();
            if (fault == Fault.RANK || fault == Fault.SHAPE) {
                if (faultRole == Role.XS) {
                    xs = badShape(r, xs, fault == Fault.RANK, true);
                } else if (faultRole == Role.WS) {
                    ws = badShape(r, ws, fault == Fault.RANK, true);
                } else {
                    shapes.put(faultRole, badShape(r, shapes.get(faultRole), fault == Fault.RANK, false));
                }
            }
            if (fault == Fault.ALIAS) {
                makeAlias(r, shapes);
            }
            for (Map.Entry<Role, int[]> e : shapes.entrySet()) {
                if (!tensors.containsKey(e.getKey())) {
                    tensors.put(e.getKey(), make(r, e.getValue()));
                }
            }
            for (Role out : new Role[] {Role.GX, Role.GW, Role.GB}) {
                Tensor t = tensors.get(out);
                if (t != null) {
                    accumulateStart.put(out, TestData.uniform(r, (int) t.size(), 1));
                }
            }
            if (fault == Fault.NULL) {
                if (faultRole == Role.P) {
                    p = null;
                } else if (faultRole == Role.XS) {
                    xs = null;
                } else if (faultRole == Role.WS) {
                    ws = null;
                } else {
                    tensors.remove(faultRole);
                }
            } else if (fault == Fault.CLOSED) {
                tensors.get(faultRole).close();
            } else if (fault == Fault.FREED) {
                int[] shape = tensors.get(faultRole).shape();
                FloatPointer fp = new FloatPointer((long) elements(shape));
                tensors.put(faultRole, Tensor.wrap(fp, shape));
                fp.close();
            }
        }

        private void mutateParams(Random r) {
            Conv2dParams.Builder b = p.toBuilder();
            switch (r.nextInt(5)) {
                case 0: // a huge stride: a 1-pixel output, valid
                    b.stride(Integer.MAX_VALUE - r.nextInt(3), 1 << (10 + r.nextInt(21)));
                    note += " valid huge stride";
                    break;
                case 1: // huge padding on every side: an output too large for an int
                    int big = (1 << 16) + r.nextInt(Integer.MAX_VALUE - (1 << 16));
                    b.padding(big, r.nextBoolean() ? big : 0, big, r.nextInt(3));
                    note += " invalid params";
                    break;
                case 2: // a huge dilation: an empty output unless the kernel is 1 wide
                    b.dilation(1 << (10 + r.nextInt(21)), Integer.MAX_VALUE);
                    note += " invalid params";
                    break;
                case 3: // groups that divide neither C nor O
                    b.groups(Math.max(xs[1], ws[0]) + 1 + r.nextInt(3));
                    note += " invalid params";
                    break;
                default: // groups that divide C but not O or the reverse
                    int g = 2 + r.nextInt(3);
                    b.groups(g);
                    xs[1] = g * (1 + r.nextInt(2));
                    ws[1] = xs[1] / g;
                    ws[0] = g * (1 + r.nextInt(2)) + (r.nextBoolean() ? 1 : 0);
                    note += " invalid params";
                    break;
            }
            p = b.build();
        }

        private void chooseAlias(Random r, boolean square, boolean bias, boolean gbias) {
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
            if (note.contains("same-tensor") && Arrays.equals(shapes.get(out), shapes.get(in))) {
                Tensor t = make(r, shapes.get(in));
                tensors.put(in, t);
                tensors.put(out, t);
                return;
            }
            int inN = elements(shapes.get(in)), outN = elements(shapes.get(out));
            int off = r.nextInt(inN);
            FloatBuffer buf = ByteBuffer.allocateDirect(4 * (inN + outN + off)).order(ByteOrder.nativeOrder()).asFloatBuffer();
            for (int i = 0; i < buf.capacity(); i++) {
                buf.put(i, r.nextFloat() * 2 - 1);
            }
            boolean outFirst = r.nextBoolean();
            Tensor a = Tensor.wrap(buf.position(0), shapes.get(outFirst ? out : in));
            Tensor b = Tensor.wrap(buf.position(Math.min(off, elements(shapes.get(outFirst ? out : in)) - 1)), shapes.get(outFirst ? in : out));
            tensors.put(outFirst ? out : in, a);
            tensors.put(outFirst ? in : out, b);
            owned.add(a);
            owned.add(b);
        }

        /** A tensor of the shape: owned, or a view of a direct buffer or of native memory, at an offset. */
        private Tensor make(Random r, int[] shape) {
            int n = elements(shape);
            float[] data = TestData.uniform(r, n, 1);
            Tensor t;
            switch (r.nextInt(4)) {
                case 0: {
                    int pos = r.nextInt(4);
                    FloatBuffer fb = ByteBuffer.allocateDirect(4 * (pos + n + r.nextInt(3))).order(ByteOrder.nativeOrder()).asFloatBuffer();
                    fb.put(pos, data, 0, n).position(pos);
                    t = Tensor.wrap(fb, shape);
                    note += " wrap-buffer";
                    break;
                }
                case 1: {
                    int pos = r.nextInt(4);
                    FloatPointer fp = new FloatPointer((long) pos + n + r.nextInt(3));
                    owned.add(fp);
                    fp.position(pos).put(data, 0, n);
                    t = Tensor.wrap(fp, shape);
                    note += " wrap-pointer";
                    break;
                }
                default:
                    t = Tensor.of(data, shape);
            }
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

        /** A wrong shape: another rank, a dimension changed, or (shape arguments only) zero, negative or huge. */
        private int[] badShape(Random r, int[] s, boolean rank, boolean argument) {
            if (rank) {
                return otherRank(r, s.length);
            }
            int[] t = s.clone();
            int i = r.nextInt(t.length);
            // a shape argument is never allocated unless valid, so it may be anything
            int mode = r.nextInt(argument ? 4 : 1);
            if (mode == 0) {
                int d = t[i] + (r.nextBoolean() ? 1 : -1) * (1 + r.nextInt(2));
                t[i] = d < 1 || d == s[i] ? s[i] + 1 : d;
            } else if (mode == 1) {
                t[i] = -r.nextInt(3);
            } else {
                t[i] = new int[] {Integer.MAX_VALUE, 1 << 30, 65536, 46341}[r.nextInt(4)];
                t[(i + 1) % t.length] = r.nextBoolean() ? Integer.MAX_VALUE : t[(i + 1) % t.length];
                note += " huge-shape";
            }
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
                    if (start != null && start.length == t.size()) {
                        t.copyFrom(start);
                        continue;
                    }
                }
                t.fill(Float.NaN);
            }
        }

        Map<Role, float[]> snapshot() {
            Map<Role, float[]> m = new EnumMap<>(Role.class);
            for (Map.Entry<Role, Tensor> e : tensors.entrySet()) {
                Tensor t = e.getValue();
                if (!t.isClosed() && !(fault == Fault.FREED && faultRole == e.getKey())) {
                    m.put(e.getKey(), t.toArray());
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

        /** The specification of a valid call, from the shapes, nulls, closed tensors and aliasing of this configuration. */
        boolean isValid(Entry entry) {
            for (Role r : entry.roles) {
                if (r == Role.B || r == Role.GB) {
                    Tensor t = tensors.get(r);
                    if (t != null && (t.isClosed() || (fault == Fault.FREED && faultRole == r))) {
                        return false;
                    }
                    continue;
                }
                if (r == Role.P ? p == null : r == Role.XS ? xs == null : r == Role.WS ? ws == null : tensors.get(r) == null) {
                    return false;
                }
                if (r != Role.P && r != Role.XS && r != Role.WS
                        && (tensors.get(r).isClosed() || (fault == Fault.FREED && faultRole == r))) {
                    return false;
                }
            }
            if (alias != null && entry.roles.contains(alias[0]) && entry.roles.contains(alias[1])) {
                return false;
            }
            if (entry == Entry.BIAS) {
                return tensors.get(Role.GY).rank() == 4;
            }
            int[] in, wt;
            switch (entry) {
                case FORWARD: case FORWARD_NEW: case WEIGHTS: case WEIGHTS_ACC: case WEIGHTS_NEW:
                    in = tensors.get(Role.X).shape();
                    break;
                case DATA: case DATA_ACC:
                    in = tensors.get(Role.GX).shape();
                    break;
                default:
                    in = xs;
            }
            switch (entry) {
                case WEIGHTS: case WEIGHTS_ACC:
                    wt = tensors.get(Role.GW).shape();
                    break;
                case WEIGHTS_NEW:
                    wt = ws;
                    break;
                default:
                    wt = tensors.get(Role.W).shape();
            }
            ConvGeometry g = geometry(p, in, wt);
            if (g == null) {
                return false;
            }
            int[] bs = {g.o};
            switch (entry) {
                case FORWARD:
                    return biasOk(Role.B, bs) && Arrays.equals(tensors.get(Role.Y).shape(), g.outputShape());
                case FORWARD_NEW:
                    return biasOk(Role.B, bs);
                case DATA: case DATA_ACC:
                    return Arrays.equals(tensors.get(Role.GY).shape(), g.outputShape());
                case DATA_NEW:
                    return Arrays.equals(tensors.get(Role.GY).shape(), g.outputShape()) && shapeIsGood(xs);
                case WEIGHTS: case WEIGHTS_ACC:
                    return Arrays.equals(tensors.get(Role.GY).shape(), g.outputShape()) && biasOk(Role.GB, bs);
                case WEIGHTS_NEW:
                    return Arrays.equals(tensors.get(Role.GY).shape(), g.outputShape()) && shapeIsGood(ws);
                default:
                    throw new AssertionError(entry);
            }
        }

        private boolean biasOk(Role r, int[] expected) {
            Tensor t = tensors.get(r);
            return t == null || Arrays.equals(t.shape(), expected);
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
            return "[seed " + seed + ", fault " + fault + (faultRole != null ? " on " + faultRole : "")
                    + (alias != null ? " alias " + Arrays.toString(alias) : "") + ", " + p + ", x "
                    + Arrays.toString(xs) + ", w " + Arrays.toString(ws) + note + "]";
        }
    }

    /**
     * The geometry when the shapes are valid, else null. Beyond {@link ConvGeometry#of}, the sizes the
     * engines rely on (output, column matrix) must really fit an int, computed without overflow.
     */
    private static ConvGeometry geometry(Conv2dParams p, int[] in, int[] wt) {
        if (p == null || in == null || wt == null || in.length != 4 || wt.length != 4) {
            return null;
        }
        ConvGeometry g;
        try {
            g = ConvGeometry.of(p, in, wt);
        } catch (IllegalArgumentException e) {
            return null;
        }
        return fits(g.n, g.o, g.oh, g.ow) && fits(g.cg, g.kh, g.kw, g.oh, g.ow) ? g : null;
    }

    private static boolean fits(int... factors) {
        BigInteger n = BigInteger.ONE;
        for (int f : factors) {
            n = n.multiply(BigInteger.valueOf(f));
        }
        return n.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) <= 0;
    }

    private static boolean contains(Role[] a, Role r) {
        return a != null && Arrays.asList(a).contains(r);
    }

    private static Role[] concat(Role[] a, Role... b) {
        Role[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
