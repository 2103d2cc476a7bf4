package dev.conv4j.internal.transposed;

/**
 * One spatial axis of a transposed convolution, and the convolution that runs it.
 *
 * <p>Along an axis, the full transposed output F has {@code full = (in - 1)·s + d·(k - 1) + 1}
 * positions, and the output is {@code y[o] = F[o + begin]} (zero outside F) for {@code o < out}: the
 * padding crops F and the output padding (or a negative padding) extends it. F's positions
 * {@code [lo, hi)} are those that land in y.
 *
 * <p>A convolution with stride s, dilation d, zero padding (lo, full - hi) and an input of
 * {@code hi - lo} positions has exactly {@code in} outputs, and its input gradient is
 * {@code F[lo, hi)}. When {@code [lo, hi)} is the whole output ({@code begin >= 0}) and the end
 * needs no negative padding, the convolution's input is y itself ({@link #direct}); otherwise the
 * window is staged and moved into y with a {@link #shift}.
 */
final class Axis {
    final int in, k, stride, dilation;
    /** Output positions, and where the output starts in F (negative: before F). */
    final int out, begin;
    /** The convolution's input size and its zero padding before and after. */
    final int size, padBefore, padAfter;
    /** Output position of the convolution's first input position. */
    final int shift;
    /** True when the convolution's input is the output itself. */
    final boolean direct;
    /** True when no position of F lands in the output: it is the bias alone. */
    final boolean empty;

    private Axis(int in, int k, int s, int d, int out, int begin, int size, int padBefore, int padAfter, int shift,
            boolean direct, boolean empty) {
        this.in = in;
        this.k = k;
        this.stride = s;
        this.dilation = d;
        this.out = out;
        this.begin = begin;
        this.size = size;
        this.padBefore = padBefore;
        this.padAfter = padAfter;
        this.shift = shift;
        this.direct = direct;
        this.empty = empty;
    }

    /**
     * The axis for an input of {@code in}, kernel {@code k}, stride, dilation, output padding and the
     * resolved padding (begin, end; may be negative).
     *
     * @param name for messages, e.g. "height"
     * @throws IllegalArgumentException if the output would be empty or too large
     */
    static Axis of(String name, int in, int k, int s, int d, int outputPadding, int padBegin, int padEnd) {
        long full = (long) (in - 1) * s + (long) d * (k - 1) + 1;
        long out = full + outputPadding - padBegin - padEnd;
        if (out < 1) {
            throw new IllegalArgumentException("the output " + name + " would be " + out + ": (input " + in + " - 1) * stride "
                    + s + " + dilation " + d + " * (kernel " + k + " - 1) + 1 + output padding " + outputPadding
                    + " - padding " + padBegin + " - " + padEnd);
        }
        if (out > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the output " + name + " " + out + " exceeds " + Integer.MAX_VALUE);
        }
        if (full > Integer.MAX_VALUE) {
            // the convolution it runs on spans the whole uncropped output, in int arithmetic
            throw new IllegalArgumentException("the full output " + name + " before the padding crops it, (input " + in
                    + " - 1) * stride " + s + " + dilation " + d + " * (kernel " + k + " - 1) + 1 = " + full + ", exceeds "
                    + Integer.MAX_VALUE);
        }
        long end = full - out - padBegin; // F positions past the output's end (negative: the output extends past F)
        if (padBegin >= 0 && end >= 1 - s) {
            return new Axis(in, k, s, d, (int) out, padBegin, (int) out, padBegin, (int) Math.max(end, 0), 0, true, false);
        }
        long lo = Math.max(padBegin, 0), hi = Math.min(full, padBegin + out);
        if (hi <= lo) {
            return new Axis(in, k, s, d, (int) out, padBegin, 0, 0, 0, 0, false, true);
        }
        return new Axis(in, k, s, d, (int) out, padBegin, (int) (hi - lo), (int) lo, (int) (full - hi), (int) (lo - padBegin),
                false, false);
    }
}
