package dev.conv4j.fuzz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * Writes the seed corpora of {@link ApiFuzzTest}: random inputs, kept when they reach an outcome no
 * earlier one reached, until every operation has been computed on every kind of layer (but the free
 * one, whose dimensions seldom fit), computed with activations in layouts other than NCHW, computed
 * fused (the forward operations of the 2-D convolution), and refused for every misuse that applies to
 * it. Deterministic for a given library; the seeds are only starting points, so a library that decodes
 * them into other cases still runs them. Without arguments it writes both corpora; {@code blas}
 * ({@link ApiCase}, blasMatchesNaiveOrRefuses) or {@code transposed} ({@link TransposedApiCase},
 * transposedBlasMatchesNaiveOrRefuses) writes one.
 *
 * <pre>
 * mvn -B -q -f library.pom.xml test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=dev.conv4j.fuzz.ApiFuzzSeeds [-Dexec.args=transposed]
 * </pre>
 */
public final class ApiFuzzSeeds {
    static final Path DIR = Path.of("src/test/resources/dev/conv4j/fuzz/ApiFuzzTestInputs/blasMatchesNaiveOrRefuses");
    static final Path TRANSPOSED_DIR =
            Path.of("src/test/resources/dev/conv4j/fuzz/ApiFuzzTestInputs/transposedBlasMatchesNaiveOrRefuses");

    private ApiFuzzSeeds() {
    }

    public static void main(String[] args) throws IOException {
        List<String> targets = args.length == 0 ? List.of("blas", "transposed") : List.of(args);
        if (targets.contains("blas")) {
            blasSeeds();
        }
        if (targets.contains("transposed")) {
            transposedSeeds();
        }
    }

    private static void blasSeeds() throws IOException {
        Set<String> wanted = new TreeSet<>();
        for (ApiCase.Op op : ApiCase.Op.values()) {
            for (ApiCase.Mode mode : ApiCase.Mode.values()) {
                if (mode != ApiCase.Mode.FREE) {
                    wanted.add(key(op, mode, 0, true));
                }
            }
            boolean forward = op == ApiCase.Op.FORWARD || op == ApiCase.Op.PLAN_FORWARD || op == ApiCase.Op.PLAN_PREPACKED;
            for (int misuse = 1; misuse <= 7; misuse++) {
                boolean allocates = op == ApiCase.Op.BIAS || op.name().endsWith("_NEW");
                boolean applies = (misuse != 5 || op.name().startsWith("PLAN")) && (misuse != 4 || !allocates)
                        && (misuse != 6 || op != ApiCase.Op.BIAS) && (misuse != 7 || forward);
                if (applies) {
                    wanted.add(op + " refused misuse " + misuse);
                }
            }
            if (op != ApiCase.Op.PLAN_DATA && op != ApiCase.Op.PLAN_WEIGHTS) {
                // (the blas plan runs its backward passes on NCHW tensors only, and refuses others)
                wanted.add(op + " computed in layouts");
            }
            if (forward) {
                wanted.add(op + " computed fused");
            }
        }
        Files.createDirectories(DIR);
        Random r = new Random(20261202L);
        int written = 0;
        for (int attempt = 0; attempt < 200_000 && !wanted.isEmpty(); attempt++) {
            byte[] input = new byte[40 + r.nextInt(100)];
            r.nextBytes(input);
            ApiCase.Outcome o;
            try {
                o = new ApiCase(input).run();
            } catch (AssertionError e) {
                System.out.println("failing input: " + java.util.HexFormat.of().formatHex(input));
                throw e;
            }
            List<String> reached = new ArrayList<>();
            reached.add(o.computed() ? key(o.op(), o.mode(), o.misuse(), true) : o.op() + " refused misuse " + o.misuse());
            if (o.computed() && o.misuse() == 0 && o.layouts()) {
                reached.add(o.op() + " computed in layouts");
            }
            if (o.computed() && o.misuse() == 0 && o.fused()) {
                reached.add(o.op() + " computed fused");
            }
            String first = null;
            for (String k : reached) {
                if (wanted.remove(k) && first == null) {
                    first = k;
                }
            }
            if (first != null) {
                String name = first.toLowerCase(Locale.ROOT).replace(' ', '-');
                Files.write(DIR.resolve(name), input);
                written++;
            }
        }
        System.out.printf("%d seeds in %s; not reached: %s%n", written, DIR, wanted);
    }

    /** The corpus of transposedBlasMatchesNaiveOrRefuses, chosen as the 2-D convolution's. */
    private static void transposedSeeds() throws IOException {
        Set<String> wanted = new TreeSet<>();
        for (TransposedApiCase.Op op : TransposedApiCase.Op.values()) {
            for (TransposedApiCase.Mode mode : TransposedApiCase.Mode.values()) {
                if (mode != TransposedApiCase.Mode.FREE) {
                    wanted.add(op + " " + mode + " computed");
                }
            }
            for (int misuse = 1; misuse <= 7; misuse++) {
                boolean applies = (misuse != 5 || op.plan()) && (misuse != 4 || !op.allocates())
                        && (misuse != 7 || op == TransposedApiCase.Op.T2_PLAN_PREPACKED);
                if (applies) {
                    wanted.add(op + " refused misuse " + misuse);
                }
            }
            if (op.twoD()) {
                wanted.add(op + " computed in layouts");
            }
        }
        Files.createDirectories(TRANSPOSED_DIR);
        Random r = new Random(20261203L);
        int written = 0;
        for (int attempt = 0; attempt < 300_000 && !wanted.isEmpty(); attempt++) {
            byte[] input = new byte[40 + r.nextInt(100)];
            r.nextBytes(input);
            TransposedApiCase.Outcome o;
            try {
                o = new TransposedApiCase(input).run();
            } catch (AssertionError e) {
                System.out.println("failing input: " + java.util.HexFormat.of().formatHex(input));
                throw e;
            }
            List<String> reached = new ArrayList<>();
            reached.add(o.computed() ? o.op() + " " + o.mode() + " computed" + (o.misuse() != 0 ? " misuse " + o.misuse() : "")
                    : o.op() + " refused misuse " + o.misuse());
            if (o.computed() && o.misuse() == 0 && o.layouts()) {
                reached.add(o.op() + " computed in layouts");
            }
            String first = null;
            for (String k : reached) {
                if (wanted.remove(k) && first == null) {
                    first = k;
                }
            }
            if (first != null) {
                Files.write(TRANSPOSED_DIR.resolve(first.toLowerCase(Locale.ROOT).replace(' ', '-')), input);
                written++;
            }
        }
        System.out.printf("%d seeds in %s; not reached: %s%n", written, TRANSPOSED_DIR, wanted);
    }

    private static String key(ApiCase.Op op, ApiCase.Mode mode, int misuse, boolean computed) {
        return op + " " + mode + (computed ? " computed" : " refused") + (misuse != 0 ? " misuse " + misuse : "");
    }
}
