package dev.conv4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Random tensors and the location of the golden vectors. */
public final class TestData {
    private TestData() {
    }

    /** The golden folder: {@code -Dconv4j.golden}, else {@code ../shared/golden} from the repository. */
    public static Path goldenRoot() {
        Path p = Path.of(System.getProperty("conv4j.golden", "../shared/golden"));
        if (!Files.isDirectory(p)) {
            throw new AssertionError("golden vectors not found at " + p.toAbsolutePath()
                    + " (expected ../shared/golden beside the repository, or -Dconv4j.golden=DIR)");
        }
        return p;
    }

    public static float[] uniform(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (r.nextFloat() * 2 - 1) * scale;
        }
        return a;
    }

    public static Tensor random(Random r, float scale, int... shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return Tensor.of(uniform(r, (int) n, scale), shape);
    }

    /** A tensor of the shape filled with a value that no correct result could contain by chance. */
    public static Tensor garbage(int... shape) {
        Tensor t = Tensor.zeros(shape);
        t.fill(Float.NaN);
        return t;
    }

    /** {@code max|a-b| / max|b|}, or the absolute error when b is all zeros; NaN in a gives NaN. */
    public static double relErr(float[] a, float[] b) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < a.length; i++) {
            if (Float.isNaN(a[i])) {
                return Double.NaN;
            }
            maxDiff = Math.max(maxDiff, Math.abs((double) a[i] - b[i]));
            maxRef = Math.max(maxRef, Math.abs((double) b[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }
}
