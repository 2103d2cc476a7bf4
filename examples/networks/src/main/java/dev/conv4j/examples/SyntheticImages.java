package dev.conv4j.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A small made-up data set that needs no download, so that training always has something to run
 * on: 28x28 grey images in 10 classes, each class a fixed pattern of three strokes, drawn with
 * random shifts, jittered end points, varying brightness and noise. A LeNet learns it to well
 * above 90% in one epoch.
 */
public final class SyntheticImages {
    private static final int SIZE = 28, CLASSES = 10, STROKES = 3;

    private SyntheticImages() {
    }

    /** {@code trainCount} training and {@code testCount} test images, the same for the same seed. */
    public static Dataset.Split generate(int trainCount, int testCount, long seed) {
        Random r = new Random(seed);
        float[][][] patterns = new float[CLASSES][STROKES][];
        for (float[][] strokes : patterns) {
            for (int s = 0; s < STROKES; s++) {
                // end points (x0, y0, x1, y1) inside a 20x20 box in the middle, and a width
                strokes[s] = new float[] {4 + 20 * r.nextFloat(), 4 + 20 * r.nextFloat(), 4 + 20 * r.nextFloat(),
                    4 + 20 * r.nextFloat(), 0.8f + 0.8f * r.nextFloat()};
            }
        }
        List<String> names = new ArrayList<>();
        for (int c = 0; c < CLASSES; c++) {
            names.add("pattern " + c);
        }
        Dataset train = draw(patterns, trainCount, r, names);
        Dataset test = draw(patterns, testCount, r, names);
        return new Dataset.Split(train, test, "synthetic strokes (" + trainCount + " training, " + testCount
                + " test images)");
    }

    private static Dataset draw(float[][][] patterns, int count, Random r, List<String> names) {
        byte[] pixels = new byte[count * SIZE * SIZE];
        byte[] labels = new byte[count];
        float[][] segs = new float[STROKES][];
        for (int i = 0; i < count; i++) {
            int c = r.nextInt(CLASSES);
            labels[i] = (byte) c;
            float dx = 4 * r.nextFloat() - 2, dy = 4 * r.nextFloat() - 2;
            float brightness = 160 + 95 * r.nextFloat();
            for (int s = 0; s < STROKES; s++) {
                float[] p = patterns[c][s];
                segs[s] = new float[] {p[0] + dx + jitter(r), p[1] + dy + jitter(r), p[2] + dx + jitter(r),
                    p[3] + dy + jitter(r), p[4]};
            }
            int base = i * SIZE * SIZE;
            for (int y = 0; y < SIZE; y++) {
                for (int x = 0; x < SIZE; x++) {
                    float ink = 0;
                    for (float[] s : segs) {
                        ink = Math.max(ink, stroke(s, x, y));
                    }
                    float v = ink * brightness + 25 * (float) r.nextGaussian();
                    pixels[base + y * SIZE + x] = (byte) Math.max(0, Math.min(255, Math.round(v)));
                }
            }
        }
        return new Dataset(pixels, labels, SIZE, SIZE, names);
    }

    private static float jitter(Random r) {
        return 3 * r.nextFloat() - 1.5f;
    }

    /** The ink of a stroke at a pixel: a Gaussian profile of the distance to the segment. */
    private static float stroke(float[] s, float px, float py) {
        float x0 = s[0], y0 = s[1], ex = s[2] - x0, ey = s[3] - y0;
        float len2 = ex * ex + ey * ey;
        float t = len2 == 0 ? 0 : Math.max(0, Math.min(1, ((px - x0) * ex + (py - y0) * ey) / len2));
        float ddx = px - (x0 + t * ex), ddy = py - (y0 + t * ey);
        return (float) Math.exp(-(ddx * ddx + ddy * ddy) / (2 * s[4] * s[4]));
    }
}
