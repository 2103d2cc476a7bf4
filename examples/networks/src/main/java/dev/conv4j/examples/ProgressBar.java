package dev.conv4j.examples;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Shows training progress: on a terminal one line redrawn in place with {@code \r} (at most ten
 * times a second), elsewhere (logs, CI) a new line at every tenth of an epoch.
 */
public final class ProgressBar implements Trainer.Listener {
    private static final int WIDTH = 24;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintStream out;
    private final boolean terminal;
    private long lastDraw;
    private int lastTenth = -1, lastLength;

    /** @param terminal true when {@code out} is an interactive terminal that understands {@code \r} */
    public ProgressBar(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    @Override
    public void batchDone(Trainer.Progress p) {
        boolean last = p.seen() == p.total();
        if (terminal) {
            long now = System.nanoTime();
            if (last || lastLength == 0 || now - lastDraw >= REDRAW_NANOS) {
                lastDraw = now;
                String line = line(p);
                // pad over the tail of a longer previous line
                out.print("\r" + line + " ".repeat(Math.max(0, lastLength - line.length())));
                out.flush();
                lastLength = line.length();
            }
        } else {
            int tenth = (int) (10L * p.seen() / p.total());
            if (tenth > lastTenth && tenth > 0) {
                lastTenth = tenth;
                out.println(line(p));
            }
        }
        if (last) {
            lastTenth = -1;
            lastLength = 0;
        }
    }

    /** Ends an epoch: finishes the progress line and prints the epoch's totals. */
    public void epochDone(Trainer.EpochResult r, int epochs) {
        if (terminal) {
            out.println();
        }
        out.println(String.format(Locale.ROOT, "epoch %d/%d: %d images in %.1f s (%.0f images/s), loss %.4f, accuracy %.4f",
                r.epoch(), epochs, r.images(), r.seconds(), r.imagesPerSecond(), r.loss(), r.accuracy()));
    }

    static String line(Trainer.Progress p) {
        int filled = (int) ((long) WIDTH * p.seen() / p.total());
        String bar = "#".repeat(filled) + "-".repeat(WIDTH - filled);
        int digits = String.valueOf(p.total()).length();
        return String.format(Locale.ROOT, "epoch %d/%d [%s] %3d%% %" + digits + "d/%d  %5.0f img/s  loss %.4f  acc %.4f",
                p.epoch(), p.epochs(), bar, 100L * p.seen() / p.total(), p.seen(), p.total(), p.imagesPerSecond(),
                p.loss(), p.accuracy());
    }
}
