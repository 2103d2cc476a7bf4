package dev.conv4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;

/**
 * Coverage-guided fuzzing (Jazzer) of the public API through the blas engine, whose calls cross into
 * native code over JNI, against the naive engine: see {@link ApiCase} for what a case chooses and
 * what it checks. {@code mvn -B verify} runs it in regression mode, on the seed corpus in
 * {@code src/test/resources/dev/conv4j/fuzz/ApiFuzzTestInputs/blasMatchesNaiveOrRefuses} (and on
 * the empty input); fuzzing mode, with {@code JAZZER_FUZZ=1}, mutates inputs for
 * {@code -Djazzer.max_duration} (README, Tests). A failing input is written beside the seeds and
 * becomes a regression test.
 */
class ApiFuzzTest {
    private static final Map<String, Integer> OUTCOMES = new TreeMap<>();

    @FuzzTest(maxDuration = "2m")
    void blasMatchesNaiveOrRefuses(byte[] input) {
        ApiCase.Outcome o = new ApiCase(input).run();
        synchronized (OUTCOMES) {
            OUTCOMES.merge((o.computed() ? "computed " : "refused ") + o.op(), 1, Integer::sum);
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
