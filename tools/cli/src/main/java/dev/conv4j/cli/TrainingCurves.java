package dev.conv4j.cli;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Training curves from the per-epoch CSV logs that {@code train --log} and
 * {@code examples/pytorch/resnet_fashion.py --log} write (header
 * {@code epoch,seconds,train_loss,train_accuracy,test_accuracy,lr}): a PNG with the training loss
 * on the left and the test accuracy on the right, one line per run.
 */
final class TrainingCurves {
    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
        new Color(0x9467bd)};

    /** One run's log. */
    record Run(String label, double[] loss, double[] accuracy, double secondsPerEpoch) {
    }

    private TrainingCurves() {
    }

    /** Reads a log; {@code label} names the run in the legend. */
    static Run read(String label, Path csv) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        if (lines.isEmpty()) {
            throw new IOException(csv + ": empty");
        }
        List<String> head = Arrays.asList(lines.get(0).trim().split(","));
        int loss = head.indexOf("train_loss"), acc = head.indexOf("test_accuracy"), sec = head.indexOf("seconds");
        if (loss < 0 || acc < 0 || sec < 0) {
            throw new IOException(csv + ": the header must name seconds, train_loss and test_accuracy, got " + lines.get(0));
        }
        List<double[]> rows = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            String[] f = lines.get(i).split(",", -1);
            try {
                rows.add(new double[] {Double.parseDouble(f[loss]), f[acc].isEmpty() ? Double.NaN : Double.parseDouble(f[acc]),
                    Double.parseDouble(f[sec])});
            } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
                throw new IOException(csv + ":" + (i + 1) + ": not a row of numbers: " + lines.get(i));
            }
        }
        if (rows.isEmpty()) {
            throw new IOException(csv + ": no epochs");
        }
        double[] l = new double[rows.size()], a = new double[rows.size()];
        double seconds = 0;
        for (int i = 0; i < rows.size(); i++) {
            l[i] = rows.get(i)[0];
            a[i] = rows.get(i)[1];
            seconds += rows.get(i)[2];
        }
        return new Run(label, l, a, seconds / rows.size());
    }

    /** Draws the runs into {@code file}. */
    static void write(List<Run> runs, String title, Path file) throws IOException {
        int panelW = 420, panelH = 300, left = 60, gap = 70, top = 70, bottom = 50;
        int width = left + 2 * panelW + gap + 30, height = top + panelH + bottom + 16 * runs.size();
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, 10, 22);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        int epochs = runs.stream().mapToInt(r -> r.loss().length).max().orElse(1);
        double maxLoss = runs.stream().flatMapToDouble(r -> Arrays.stream(r.loss())).max().orElse(1);
        double minAcc = runs.stream().flatMapToDouble(r -> Arrays.stream(r.accuracy())).filter(v -> !Double.isNaN(v))
                .min().orElse(0);
        double accLo = Math.max(0, Math.floor(minAcc * 20) / 20), accHi = 1.0;
        panel(g, runs, true, left, top, panelW, panelH, epochs, 0, Math.ceil(maxLoss * 10) / 10, "training loss", "%.1f");
        panel(g, runs, false, left + panelW + gap, top, panelW, panelH, epochs, accLo, accHi, "test accuracy", "%.2f");
        int y = top + panelH + 44;
        for (int i = 0; i < runs.size(); i++) {
            Run r = runs.get(i);
            g.setColor(COLORS[i % COLORS.length]);
            g.setStroke(new BasicStroke(2.5f));
            g.drawLine(left, y - 4, left + 24, y - 4);
            g.setColor(Color.BLACK);
            double last = r.accuracy()[r.accuracy().length - 1];
            g.drawString(String.format(Locale.ROOT, "%s: %d epochs, %.0f s per epoch, final test accuracy %.4f", r.label(),
                    r.loss().length, r.secondsPerEpoch(), last), left + 32, y);
            y += 16;
        }
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    private static void panel(Graphics2D g, List<Run> runs, boolean loss, int x0, int y0, int w, int h, int epochs,
                              double lo, double hi, String name, String format) {
        g.setColor(Color.BLACK);
        g.drawString(name, x0, y0 - 10);
        for (int t = 0; t <= 5; t++) {
            double v = lo + (hi - lo) * t / 5;
            int y = y0 + h - (int) (h * t / 5.0);
            g.setColor(new Color(0xdddddd));
            g.setStroke(new BasicStroke(1));
            g.drawLine(x0, y, x0 + w, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format(Locale.ROOT, format, v), x0 - 34, y + 4);
        }
        for (int e = 1; e <= epochs; e++) {
            int x = x0 + xOf(e, epochs, w);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.valueOf(e), x - 3, y0 + h + 16);
        }
        g.drawString("epoch", x0 + w / 2 - 14, y0 + h + 32);
        g.setColor(Color.GRAY);
        g.drawRect(x0, y0, w, h);
        for (int i = 0; i < runs.size(); i++) {
            double[] v = loss ? runs.get(i).loss() : runs.get(i).accuracy();
            g.setColor(COLORS[i % COLORS.length]);
            g.setStroke(new BasicStroke(2.5f));
            int px = -1, py = -1;
            for (int e = 0; e < v.length; e++) {
                if (Double.isNaN(v[e])) {
                    continue;
                }
                int x = x0 + xOf(e + 1, epochs, w);
                int y = y0 + h - (int) Math.round(h * Math.max(0, Math.min(1, (v[e] - lo) / (hi - lo))));
                g.fillOval(x - 3, y - 3, 7, 7);
                if (px >= 0) {
                    g.drawLine(px, py, x, y);
                }
                px = x;
                py = y;
            }
        }
    }

    private static int xOf(int epoch, int epochs, int w) {
        return epochs == 1 ? w / 2 : (int) ((epoch - 1) * (w - 20.0) / (epochs - 1)) + 10;
    }
}
