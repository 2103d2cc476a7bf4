package dev.conv4j.bench;

import java.util.Arrays;

/**
 * Times a repeated action: each sample runs it enough times to last about {@code sampleNanos},
 * and the caller interleaves samples of the things it compares, so that a machine whose speed
 * drifts over minutes affects all of them alike. Reports the median seconds per call.
 */
final class Stopwatch {
    private final Runnable action;
    private final double[] samples;
    private int count;
    private long callsPerSample;

    Stopwatch(Runnable action, int samples) {
        this.action = action;
        this.samples = new double[samples];
    }

    /** Runs the action for about {@code nanos} to warm it up, and sizes the samples from it. */
    void warmUp(long nanos, long sampleNanos) {
        long start = System.nanoTime(), calls = 0;
        do {
            action.run();
            calls++;
        } while (System.nanoTime() - start < nanos);
        double perCall = (System.nanoTime() - start) / (double) calls;
        callsPerSample = Math.max(1, (long) (sampleNanos / perCall));
    }

    /** Takes one more sample. */
    void sample() {
        long start = System.nanoTime();
        for (long i = 0; i < callsPerSample; i++) {
            action.run();
        }
        samples[count++] = (System.nanoTime() - start) / 1e9 / callsPerSample;
    }

    boolean done() {
        return count == samples.length;
    }

    /** The median seconds per call over the samples taken. */
    double median() {
        double[] s = Arrays.copyOf(samples, count);
        Arrays.sort(s);
        return count % 2 == 1 ? s[count / 2] : (s[count / 2 - 1] + s[count / 2]) / 2;
    }
}
