package dev.conv4j.examples;

import java.util.Random;

/**
 * Random crops and mirror images of the training images, drawn anew every epoch so that the
 * network never sees the same picture twice: the image is padded with {@code pad} black pixels on
 * every side, a window of its own size is cut at a random place, and it is flipped left to right
 * with probability one half ({@code RandomCrop(size, padding)} then {@code RandomHorizontalFlip()}
 * in torchvision). The draws come from one seeded generator in image order, so a seed gives the
 * same images whatever else runs.
 */
public final class Augmentation {
    private final int pad;
    private final boolean flip;
    private final Random random;

    /** Shifts of up to {@code pad} pixels each way, and left-right flips when {@code flip}. */
    public Augmentation(int pad, boolean flip, long seed) {
        if (pad < 0) {
            throw new IllegalArgumentException("padding must not be negative, got " + pad);
        }
        this.pad = pad;
        this.flip = flip;
        this.random = new Random(seed);
    }

    /** The padding of the crops. */
    public int pad() {
        return pad;
    }

    /** Whether images are mirrored. */
    public boolean flips() {
        return flip;
    }

    /**
     * Writes one transformed {@code height x width} image from {@code src[from ..]} (bytes 0..255) to
     * {@code dst[to ..]} as {@code v * scale + shift}; pixels from outside the image are black (0).
     */
    void apply(byte[] src, int from, int height, int width, float scale, float shift, float[] dst, int to) {
        int dy = pad == 0 ? 0 : random.nextInt(2 * pad + 1) - pad;
        int dx = pad == 0 ? 0 : random.nextInt(2 * pad + 1) - pad;
        boolean mirror = flip && random.nextBoolean();
        for (int y = 0; y < height; y++) {
            int sy = y + dy, row = to + y * width;
            if (sy < 0 || sy >= height) {
                java.util.Arrays.fill(dst, row, row + width, shift);
                continue;
            }
            int srcRow = from + sy * width;
            for (int x = 0; x < width; x++) {
                int sx = (mirror ? width - 1 - x : x) + dx;
                dst[row + x] = sx < 0 || sx >= width ? shift : (src[srcRow + sx] & 0xff) * scale + shift;
            }
        }
    }
}
