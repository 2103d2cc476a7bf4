package dev.conv4j.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/** The terminal table, the CSV and the PNG chart of a benchmark run. */
public final class BenchReport {
    /**
     * "blocked" and "fused" are the blas plan's forward pass (the engine's, backward) with activations
     * in NCHW16C, "fused" with a residual and ReLU too; "blas1" is the blas engine with one thread,
     * measured beside the others in runs with more threads.
     */
    private static final String[] CONTENDERS = {"naive", "java", "blas", "plan", "blocked", "fused", "sgemm", "blas1"};
    private static final Color[] COLORS = {new Color(0x9e9e9e), new Color(0xf4a261), new Color(0x2a9d8f),
        new Color(0x8ab17d), new Color(0x7b5ea7), new Color(0xc77dba), new Color(0x264653), new Color(0xb5e2dc)};

    private BenchReport() {
    }

    public static void table(List<BenchResult> results, PrintStream out) {
        boolean scaling = results.stream().anyMatch(r -> r.get("blas1") != null);
        boolean layouts = results.stream().anyMatch(r -> r.get("blocked") != null);
        out.printf(Locale.ROOT, "%-22s %-11s %7s | %7s %7s %7s %7s %s%7s | %9s %8s %8s %8s%s%s%n", "shape", "pass", "GFLOP",
                "naive", "java", "blas", "plan", layouts ? String.format(Locale.ROOT, "%7s %7s ", "blocked", "fused") : "",
                "sgemm", "blas/naiv", "blas/jav", "blas/sgm", "plan/sgm",
                layouts ? String.format(Locale.ROOT, " %8s %8s", "blk/nchw", "fus/blk") : "",
                scaling ? " | blas 1 thr  blas/1thr" : "");
        for (BenchResult r : results) {
            out.printf(Locale.ROOT, "%-22s %-11s %7.3f | %7s %7s %7s %7s %s%7s | %9s %8s %8s %8s%s%s%n", r.shape.name, r.pass.label,
                    r.gflop, num(r.get("naive")), num(r.get("java")), num(r.get("blas")), num(r.get("plan")),
                    layouts ? String.format(Locale.ROOT, "%7s %7s ", num(r.get("blocked")), num(r.get("fused"))) : "",
                    num(r.get("sgemm")), ratio(r.ratio("blas", "naive")), ratio(r.ratio("blas", "java")),
                    ratio(r.ratio("blas", "sgemm")), ratio(r.ratio("plan", "sgemm")),
                    layouts ? String.format(Locale.ROOT, " %8s %8s", ratio(r.blockedOverNchw()), ratio(r.ratio("fused", "blocked"))) : "",
                    scaling ? String.format(Locale.ROOT, " | %10s %10s", num(r.get("blas1")), ratio(r.ratio("blas", "blas1"))) : "");
        }
        if (layouts) {
            out.println("blocked: x and y (gx, gy) in NCHW16C, forward the blas plan, backward the blas engine; fused: the plan "
                    + "in NCHW16C with a residual and ReLU; blk/nchw: blocked over plan (forward), over blas (backward)");
        }
        for (Pass p : Pass.values()) {
            StringBuilder line = new StringBuilder();
            int layers = 0;
            for (String c : CONTENDERS) {
                List<Double> v = new ArrayList<>();
                for (BenchResult r : results) {
                    if (r.pass == p && r.shape.name.startsWith("r50_") && r.shape.name.endsWith("_b1") && r.get(c) != null) {
                        v.add(r.get(c));
                    }
                }
                if (!v.isEmpty()) {
                    layers = Math.max(layers, v.size());
                    line.append(line.length() == 0 ? "" : ", ").append(c).append(' ')
                            .append(String.format(Locale.ROOT, "%.1f", geoMean(v))).append(v.size() < layers ? " (" + v.size() + " layers)" : "");
                }
            }
            if (layers > 0) {
                out.printf(Locale.ROOT, "geo-mean GFLOP/s, %s, over the %d ResNet-50 batch-1 layers: %s%n", p.label, layers, line);
            }
        }
    }

    static double geoMean(List<Double> v) {
        double s = 0;
        for (double d : v) {
            s += Math.log(d);
        }
        return Math.exp(s / v.size());
    }

    private static String num(Double v) {
        return v == null ? "-" : String.format(Locale.ROOT, v < 10 ? "%.2f" : "%.1f", v);
    }

    private static String ratio(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, v < 10 ? "%.2fx" : "%.0fx", v);
    }

    public static void csv(List<BenchResult> results, Path file, String header) throws IOException {
        StringBuilder sb = new StringBuilder("# ").append(header).append('\n');
        // new columns go last, so that readers of older files find the others where they were
        sb.append("shape,pass,gflop,naive_gflops,java_gflops,blas_gflops,plan_gflops,sgemm_gflops,blas_over_naive,"
                + "blas_over_java,blas_over_sgemm,plan_over_sgemm,blas1_gflops,blas_over_blas1,"
                + "blocked_gflops,fused_gflops,blocked_over_nchw,fused_over_blocked\n");
        for (BenchResult r : results) {
            sb.append(String.format(Locale.ROOT, "%s,%s,%.6f,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s%n", r.shape.name, r.pass.label,
                    r.gflop, csvNum(r.get("naive")), csvNum(r.get("java")), csvNum(r.get("blas")), csvNum(r.get("plan")),
                    csvNum(r.get("sgemm")), csvNum(r.ratio("blas", "naive")), csvNum(r.ratio("blas", "java")),
                    csvNum(r.ratio("blas", "sgemm")), csvNum(r.ratio("plan", "sgemm")), csvNum(r.get("blas1")),
                    csvNum(r.ratio("blas", "blas1")), csvNum(r.get("blocked")), csvNum(r.get("fused")),
                    csvNum(r.blockedOverNchw()), csvNum(r.ratio("fused", "blocked"))));
        }
        Files.writeString(file, sb.toString());
    }

    private static String csvNum(Double v) {
        return v == null || v.isNaN() ? "" : String.format(Locale.ROOT, "%.3f", v);
    }

    /** Horizontal bars per shape and pass, GFLOP/s on a log axis (naive and blas differ by 100x and more). */
    public static void chart(List<BenchResult> results, Path file, String title, String subtitle) throws IOException {
        List<Integer> shown = new ArrayList<>();  // the contenders this run measured
        for (int c = 0; c < CONTENDERS.length; c++) {
            String name = CONTENDERS[c];
            if (results.stream().anyMatch(r -> r.get(name) != null)) {
                shown.add(c);
            }
        }
        int rowH = 12 * shown.size() + 10, left = 230, right = 40, plotW = 680;
        int width = left + plotW + right, legendRows = 1;
        for (int k = 0, x = 10; k < shown.size(); k++) {   // the legend's lines, as drawn below
            int w = legendWidth(CONTENDERS[shown.get(k)]);
            if (x + w > width - 10) {
                legendRows++;
                x = 10;
            }
            x += w;
        }
        int top = 62 + 14 * legendRows, height = top + results.size() * rowH + 50;
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, 10, 20);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawString(subtitle, 10, 36);
        double lo = -1, hi = 3; // 0.1 .. 1000 GFLOP/s
        for (int e = (int) lo; e <= hi; e++) {
            int x = left + (int) ((e - lo) / (hi - lo) * plotW);
            g.setColor(new Color(0xdddddd));
            g.drawLine(x, top - 5, x, height - 40);
            g.setColor(Color.DARK_GRAY);
            g.drawString(e < 0 ? "0.1" : String.valueOf((int) Math.pow(10, e)), x - 8, height - 26);
        }
        g.drawString("GFLOP/s (log scale)", left + plotW / 2 - 50, height - 10);
        for (int k = 0, x = 10, ly = 48; k < shown.size(); k++) {
            int c = shown.get(k), w = legendWidth(CONTENDERS[c]);
            if (x + w > width - 10) {
                x = 10;
                ly += 14;
            }
            g.setColor(COLORS[c]);
            g.fillRect(x, ly, 12, 10);
            g.setColor(Color.BLACK);
            g.drawString(label(CONTENDERS[c]), x + 16, ly + 9);
            x += w;
        }
        int y = top;
        for (BenchResult r : results) {
            g.setColor(Color.BLACK);
            g.drawString(r.shape.name + " " + r.pass.label, 8, y + rowH / 2 + 4);
            for (int k = 0; k < shown.size(); k++) {
                int c = shown.get(k);
                Double v = r.get(CONTENDERS[c]);
                if (v != null && v > 0) {
                    double t = Math.max(0, Math.min(1, (Math.log10(v) - lo) / (hi - lo)));
                    g.setColor(COLORS[c]);
                    g.fillRect(left, y + 4 + 12 * k, (int) (t * plotW), 10);
                    g.setColor(Color.DARK_GRAY);
                    g.drawString(String.format(Locale.ROOT, v < 10 ? "%.2f" : "%.0f", v), left + (int) (t * plotW) + 3, y + 13 + 12 * k);
                }
            }
            g.setColor(new Color(0xeeeeee));
            g.setStroke(new BasicStroke(1));
            g.drawLine(8, y + rowH, width - 8, y + rowH);
            y += rowH;
        }
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    private static String label(String contender) {
        switch (contender) {
            case "sgemm": return "sgemm ceiling";
            case "plan": return "blas plan";
            case "blocked": return "NCHW16C (blocked)";
            case "fused": return "fused: + residual, ReLU";
            case "blas1": return "blas, 1 thread";
            default: return contender;
        }
    }

    /** Room for one legend entry: 120 px, or more for a long label. */
    private static int legendWidth(String contender) {
        return Math.max(120, 16 + 6 * label(contender).length() + 14);
    }
}
