package dev.conv4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Comparator;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.MethodOrdererContext;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Coverage-guided fuzzing (Jazzer) of the public API through the blas engine, whose calls cross into
 * native code over JNI, against the naive engine: see {@link ApiCase} for what a case of the 2-D
 * convolution chooses and what it checks, and {@link TransposedApiCase} for the transposed (2-D and 1-D)
 * and 1-D convolutions. {@code mvn -B verify} runs both in regression mode, on the seed corpora in
 * {@code src/test/resources/dev/conv4j/fuzz/ApiFuzzTestInputs/<method name>} (and on the empty input);
 * fuzzing mode, with {@code JAZZER_FUZZ=1}, mutates inputs for {@code -Djazzer.max_duration} (README,
 * Tests). Jazzer fuzzes one test per JVM, the first to run: {@link #blasMatchesNaiveOrRefuses}, or the
 * one {@code -Dconv4j.fuzz.target} names ({@code transposedBlasMatchesNaiveOrRefuses}). A failing input
 * is written beside the seeds and becomes a regression test.
 */
@TestMethodOrder(ApiFuzzTest.TargetFirst.class)
class ApiFuzzTest {
    private static final Map<String, Integer> OUTCOMES = new TreeMap<>();

    @FuzzTest(maxDuration = "2m")
    void blasMatchesNaiveOrRefuses(byte[] input) {
        ApiCase.Outcome o = new ApiCase(input).run();
        synchronized (OUTCOMES) {
            OUTCOMES.merge((o.computed() ? "computed " : "refused ") + o.op(), 1, Integer::sum);
        }
    }

    @FuzzTest(maxDuration = "2m")
    void transposedBlasMatchesNaiveOrRefuses(byte[] input) {
        TransposedApiCase.Outcome o = new TransposedApiCase(input).run();
        synchronized (OUTCOMES) {
            OUTCOMES.merge((o.computed() ? "computed " : "refused ") + o.op(), 1, Integer::sum);
        }
    }

    /** The fuzz test {@code -Dconv4j.fuzz.target} names first (by default blasMatchesNaiveOrRefuses): the one Jazzer fuzzes. */
    static final class TargetFirst implements MethodOrderer {
        @Override
        public void orderMethods(MethodOrdererContext context) {
            String first = System.getProperty("conv4j.fuzz.target", "blasMatchesNaiveOrRefuses");
            context.getMethodDescriptors().sort(Comparator.comparing((org.junit.jupiter.api.MethodDescriptor d) ->
                    d.getMethod().getName().equals(first) ? 0 : 1).thenComparing(d -> d.getMethod().getName()));
        }
    }

    @AfterAll
    static void report() {
        synchronized (OUTCOMES) {
            int computed = OUTCOMES.entrySet().stream().filter(e -> e.getKey().startsWith("computed"))
                    .mapToInt(Map.Entry::getValue).sum();
            int all = OUTCOMES.values().stream().mapToInt(Integer::intValue).sum();
            System.out.printf("ApiFuzzTest: %d cases, %d computed and matched naive, %d refused: %s%n", all, computed,
                    all - computed, OUTCOMES);
        }
    }
}
