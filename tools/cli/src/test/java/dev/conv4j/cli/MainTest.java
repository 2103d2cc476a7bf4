package dev.conv4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.TestData;
import dev.conv4j.Tensor;
import dev.conv4j.io.Npy;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void noArgumentsPrintsUsage() {
        assertEquals(2, run());
        assertTrue(out().contains("usage"), out());
    }

    @Test
    void verifyRunsEveryCaseAndSavesResults(@TempDir Path dir) throws IOException {
        int n = dev.conv4j.golden.GoldenCase.list(dev.conv4j.TestData.goldenRoot()).size();
        assertEquals(0, run("verify", "--golden", dev.conv4j.TestData.goldenRoot().toString(), "--engine", "naive", "--save", dir.toString()), out());
        assertTrue(out().trim().endsWith(n + " passed, 0 failed"), out());
        try (Tensor y = Npy.read(dir.resolve("naive/combo_all/y.npy")); Tensor ref = Npy.read(dev.conv4j.TestData.goldenRoot().resolve("combo_all/y.npy"))) {
            assertTrue(TestData.relErr(y.toArray(), ref.toArray()) < 1e-6);
        }
        assertTrue(Files.exists(dir.resolve("naive/combo_all/gb.npy")));
    }

    @Test
    void verifyCountsAWrongCaseAsFailed(@TempDir Path dir) throws IOException {
        Path src = dev.conv4j.TestData.goldenRoot().resolve("combo_all"), bad = dir.resolve("golden/combo_all");
        Files.createDirectories(bad);
        for (String f : new String[] {"case.json", "x.npy", "w.npy", "b.npy", "gy.npy", "gx.npy", "gw.npy", "gb.npy"}) {
            Files.copy(src.resolve(f), bad.resolve(f));
        }
        try (Tensor y = Npy.read(src.resolve("y.npy"))) {
            float[] v = y.toArray();
            v[3] += 1;
            try (Tensor wrong = Tensor.of(v, y.shape())) {
                Npy.write(bad.resolve("y.npy"), wrong);
            }
        }
        assertEquals(1, run("verify", "--golden", dir.resolve("golden").toString(), "--engine", "naive"));
        assertTrue(out().contains("FAIL naive combo_all: y err"), out());
        assertTrue(out().trim().endsWith("0 passed, 1 failed"), out());
    }

    @Test
    void verifyFailsLoudlyOnAMissingFolder() {
        assertEquals(1, run("verify", "--golden", "no/such/folder"));
    }

    @Test
    void infoNamesTheEnginesAndOpenblas() {
        assertEquals(0, run("info"));
        assertTrue(out().contains("naive: available"), out());
        assertTrue(out().contains("blas:  available"), out());
        assertTrue(out().contains("openblas core:"), out());
    }

    @Test
    void badOptionsAreUsageErrors() {
        assertEquals(2, run("verify", "--golden", "x", "--engine", "cuda"));
        assertEquals(2, run("verify", "--bogus", "1"));
        assertEquals(2, run("frobnicate"));
    }

    @Test
    void benchWritesItsTableCsvAndChart(@TempDir Path dir) throws IOException {
        assertEquals(0, run("bench", "--only", "tiny_3x3", "--passes", "fwd", "--samples", "1", "--out", dir.toString()));
        assertTrue(out().contains("tiny_3x3"), out());
        for (String f : new String[] {"bench.txt", "bench.csv", "bench.png"}) {
            assertTrue(Files.size(dir.resolve(f)) > 0, f);
        }
        assertTrue(Files.readString(dir.resolve("bench.txt")).contains("tiny_3x3"));
    }

    /** With the blas engine, the NCHW16C forms: blocked in every pass, fused forward; in the table, CSV and geo-means. */
    @Test
    void benchMeasuresTheBlockedLayoutAndTheFusedForward(@TempDir Path dir) throws IOException {
        assertEquals(0, run("bench", "--only", "tiny_3x3,r50_res5_3x3_b1", "--engines", "blas", "--samples", "1",
                "--out", dir.toString()));
        String[] header = line(out(), "shape ").trim().split("\\s+");
        List<String> columns = List.of(header);
        for (String c : new String[] {"plan", "blocked", "fused", "blk/nchw", "fus/blk"}) {
            assertTrue(columns.contains(c), c + " in " + columns);
        }
        assertTrue(line(out(), "tiny_3x3 ").matches("tiny_3x3 +fwd .* [0-9.]+x +[0-9.]+x"), out()); // blk/nchw and fus/blk measured
        assertTrue(line(out(), "geo-mean GFLOP/s, fwd").contains("blocked "), out());
        assertTrue(line(out(), "geo-mean GFLOP/s, fwd").contains("fused "), out());
        assertTrue(line(out(), "geo-mean GFLOP/s, bwd-data").contains("blocked "), out());
        assertFalse(line(out(), "geo-mean GFLOP/s, bwd-data").contains("fused"), out());

        List<String> csv = Files.readAllLines(dir.resolve("bench.csv"));
        List<String> names = List.of(csv.get(1).split(","));
        int blocked = names.indexOf("blocked_gflops"), fused = names.indexOf("fused_gflops");
        assertTrue(blocked > 0 && fused > 0 && names.contains("blocked_over_nchw") && names.contains("fused_over_blocked"), csv.get(1));
        assertEquals(14, names.indexOf("blocked_gflops"), "new columns follow the older ones");
        for (String row : csv.subList(2, csv.size())) {
            String[] f = row.split(",", -1);
            assertEquals(names.size(), f.length, row);
            assertTrue(Double.parseDouble(f[blocked]) > 0, row);
            assertEquals(f[1].equals("fwd"), !f[fused].isEmpty(), row);
        }
    }

    @Test
    void benchWithoutBlasHasNoBlockedColumns(@TempDir Path dir) throws IOException {
        assertEquals(0, run("bench", "--only", "tiny_3x3", "--engines", "java", "--passes", "fwd", "--samples", "1",
                "--out", dir.toString()));
        assertFalse(line(out(), "shape ").contains("blocked"), out());
        String row = Files.readAllLines(dir.resolve("bench.csv")).get(2);
        assertTrue(row.endsWith(",,,,"), row);
    }

    private static String line(String text, String start) {
        return text.lines().filter(l -> l.startsWith(start)).findFirst().orElseThrow(() -> new AssertionError("no line " + start + " in\n" + text));
    }

    @Test
    void integerOptionsHaveTheirOwnLowerBound() {
        Options o = Options.parse(new String[] {"--seed", "0", "--epochs", "0"});
        assertEquals(0, o.getInt("seed", 1, 0));
        Options.UsageException e = assertThrows(Options.UsageException.class,
                () -> o.getInt("epochs", 3));
        assertTrue(e.getMessage().contains("--epochs needs a positive integer, got '0'"), e.getMessage());
    }
}
