package dev.conv4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Random tensors and the location of the repository's golden vectors. */
public final class TestData {
    private TestData() {
    }

    /** Where the repository keeps its own golden vectors, from its root. */
    public static final String GOLDEN_IN_REPOSITORY = "tools/golden/src/test/resources/golden";

    /**
     * The repository's own golden vectors ({@value #GOLDEN_IN_REPOSITORY}, written by
     * {@code tools/golden/generate.py}): {@code -Dconv4j.golden.repo}, which the build sets, else found from
     * the working folder upwards (a module's folder or the repository's).
     */
    public static Path goldenRoot() {
        String set = System.getProperty("conv4j.golden.repo");
        if (set != null) {
            Path p = Path.of(set);
            if (!Files.isDirectory(p)) {
                throw new AssertionError("golden vectors not found at " + p.toAbsolutePath() + " (-Dconv4j.golden.repo)");
            }
            return p;
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path p = d.resolve(GOLDEN_IN_REPOSITORY);
            if (Files.isDirectory(p)) {
                return p;
            }
        }
        throw new AssertionError("golden vectors not found: no " + GOLDEN_IN_REPOSITORY + " above "
                + Path.of("").toAbsolutePath() + " (-Dconv4j.golden.repo=DIR)");
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

    /** A random tensor of the logical shape in {@code layout}: the same elements as {@code random(r, scale, shape)}. */
    public static Tensor random(Random r, float scale, Layout layout, int... shape) {
        try (Tensor t = random(r, scale, shape)) {
            return t.toLayout(layout);
        }
    }

    /**
     * A tensor of the logical shape in {@code layout} whose memory is NaN throughout, its NCHW16C padding
     * channels included (a wrapped buffer, as memory from elsewhere would be), so that an element left
     * unwritten or a padding channel left as it was shows.
     */
    public static Tensor garbage(Layout layout, int... shape) {
        int n = (int) layout.storageSize(shape);
        java.nio.FloatBuffer b = java.nio.ByteBuffer.allocateDirect(4 * n).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
        for (int i = 0; i < n; i++) {
            b.put(i, Float.NaN);
        }
        return Tensor.wrap(layout, b, shape);
    }

    /** A tensor's elements in logical (N, C, H, W) order, whatever its layout. */
    public static float[] logical(Tensor t) {
        if (t.layout() == Layout.NCHW) {
            return t.toArray();
        }
        try (Tensor n = t.toLayout(Layout.NCHW)) {
            return n.toArray();
        }
    }

    /** A copy of an NCHW tensor in another layout, made element by element through {@link Layout#offset} (independent of the reorders). */
    public static Tensor slowReorder(Tensor nchw, Layout layout) {
        int[] s = nchw.shape();
        float[] src = nchw.toArray();
        float[] dst = new float[(int) layout.storageSize(s)];
        for (int n = 0; n < s[0]; n++) {
            for (int c = 0; c < s[1]; c++) {
                for (int h = 0; h < s[2]; h++) {
                    for (int w = 0; w < s[3]; w++) {
                        dst[(int) layout.offset(s, n, c, h, w)] = src[(int) Layout.NCHW.offset(s, n, c, h, w)];
                    }
                }
            }
        }
        return Tensor.of(layout, dst, s);
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
