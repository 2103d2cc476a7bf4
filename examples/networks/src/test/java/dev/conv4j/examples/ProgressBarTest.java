package dev.conv4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
    private static String run(boolean terminal) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        ProgressBar bar = new ProgressBar(out, terminal);
        int total = 1000;
        for (int seen = 10; seen <= total; seen += 10) {
            bar.batchDone(new Trainer.Progress(1, 2, seen, total, 0.5f, 0.75, 0.625, seen / 500.0));
        }
        bar.epochDone(new Trainer.EpochResult(1, total, 0.75, 0.625, 2.0), 2);
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void logsGetALineEveryTenthOfAnEpoch() {
        String s = run(false);
        assertFalse(s.contains("\r"));
        String[] lines = s.split("\n");
        assertEquals(11, lines.length, s);
        assertEquals("epoch 1/2 [############------------]  50%  500/1000    500 img/s  loss 0.7500  acc 0.6250", lines[4]);
        assertEquals("epoch 1/2: 1000 images in 2.0 s (500 images/s), loss 0.7500, accuracy 0.6250", lines[10]);
    }

    @Test
    void terminalsGetOneLineRedrawnInPlace() {
        String s = run(true);
        assertTrue(s.startsWith("\repoch 1/2 ["), s);
        String[] lines = s.split("\n");
        assertEquals(2, lines.length, "one progress line and the epoch summary: " + s);
        assertTrue(lines[0].endsWith("100% 1000/1000    500 img/s  loss 0.7500  acc 0.6250"), lines[0]);
    }
}
