package dev.conv4j.examples;

/** A learning rate for every optimizer step, counted from 0. */
@FunctionalInterface
public interface Schedule {
    /** The learning rate of step {@code step}. */
    double rate(long step);

    /** The same rate throughout. */
    static Schedule constant(double lr) {
        return step -> lr;
    }

    /**
     * A half cosine from {@code lr} down to zero over {@code steps} steps: large steps while far from
     * a minimum, small ones to settle into it.
     */
    static Schedule cosine(double lr, long steps) {
        return step -> lr * 0.5 * (1 + Math.cos(Math.PI * Math.min(step, steps) / steps));
    }

    /**
     * The one-cycle policy as PyTorch's {@code OneCycleLR(max_lr, total_steps, pct_start,
     * anneal_strategy="cos", div_factor, final_div_factor)} computes it: a cosine rise from
     * {@code max / div} to {@code max} over the first {@code warmup} of the steps, then a cosine fall
     * to {@code max / div / finalDiv}. The high middle lets SGD cross the early, rough part of the
     * loss surface fast; the long fall settles it.
     */
    static Schedule oneCycle(double max, long steps, double warmup, double div, double finalDiv) {
        double initial = max / div, last = initial / finalDiv;
        double peak = warmup * steps - 1, end = steps - 1;
        return step -> step <= peak
                ? anneal(initial, max, step / peak)
                : anneal(max, last, (step - peak) / (end - peak));
    }

    private static double anneal(double from, double to, double fraction) {
        return to + (from - to) / 2 * (Math.cos(Math.PI * Math.min(1, fraction)) + 1);
    }
}
