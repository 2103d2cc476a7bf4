package dev.conv4j.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Crops and flips of a small image whose every pixel is distinct, so each result names its source. */
class AugmentationTest {
    private static final int H = 3, W = 4;
    private static final float MEAN = 0.1f, SCALE = 1f / 255f, SHIFT = -MEAN;

    private static Dataset oneImage() {
        byte[] px = new byte[H * W];
        for (int i = 0; i < px.length; i++) {
            px[i] = (byte) (i + 1);
        }
        return new Dataset(px, new byte[] {0}, H, W, List.of("a"));
    }

    @Test
    void everyResultIsTheImageShiftedByAtMostThePaddingAndMaybeMirrored() {
        Dataset d = oneImage();
        Augmentation a = new Augmentation(1, true, 42);
        Set<String> seen = new HashSet<>();
        float[] img = new float[H * W];
        int[] label = new int[1];
        for (int trial = 0; trial < 400; trial++) {
            d.batch(new int[] {0}, 0, 1, MEAN, 1f, a, img, label);
            String match = null;
            for (int dy = -1; dy <= 1 && match == null; dy++) {
                for (int dx = -1; dx <= 1 && match == null; dx++) {
                    for (boolean flip : new boolean[] {false, true}) {
                        if (java.util.Arrays.equals(expected(dy, dx, flip), img)) {
                            match = dy + "," + dx + "," + flip;
                            break;
                        }
                    }
                }
            }
            assertTrue(match != null, "not a shifted (and mirrored) copy: " + java.util.Arrays.toString(img));
            seen.add(match);
        }
        assertEquals(18, seen.size(), "every shift and flip must come up: " + seen);
    }

    @Test
    void theSameSeedGivesTheSameImages() {
        Dataset d = oneImage();
        float[] x = new float[H * W], y = new float[H * W];
        Augmentation a = new Augmentation(2, true, 5), b = new Augmentation(2, true, 5);
        for (int i = 0; i < 20; i++) {
            d.batch(new int[] {0}, 0, 1, 0.3f, 0.2f, a, x, new int[1]);
            d.batch(new int[] {0}, 0, 1, 0.3f, 0.2f, b, y, new int[1]);
            assertArrayEquals(x, y);
        }
    }

    /** The normalized pixels of one transform, computed as Dataset.batch computes them. */
    private static float[] expected(int dy, int dx, boolean flip) {
        float[] out = new float[H * W];
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                int sy = y + dy, sx = (flip ? W - 1 - x : x) + dx;
                out[y * W + x] = sy < 0 || sy >= H || sx < 0 || sx >= W ? SHIFT : (sy * W + sx + 1) * SCALE + SHIFT;
            }
        }
        return out;
    }
}
