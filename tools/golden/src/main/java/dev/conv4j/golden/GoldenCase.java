package dev.conv4j.golden;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Tensor;
import dev.conv4j.io.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * One golden test case: a folder holding {@code case.json} and the .npy arrays x, w, b, y, gy, gx,
 * gw, gb (b and gb absent without bias), as described in the golden folder's README. The tensors
 * are loaded on creation and released by {@link #close()}.
 */
public final class GoldenCase implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    public final String name;
    public final String family;
    /** The operation and its parameters ({@code "op"} in case.json; {@code conv2d} when absent). */
    public final LayerOp op;
    /** The 2-D convolution's parameters, for a {@code conv2d} case; null for the other operations. */
    public final Conv2dParams params;
    /** The upstream gradient and the gradients: null in a forward-only case (no {@code gy.npy}). */
    public final Tensor x, w, b, y, gy, gx, gw, gb;

    private GoldenCase(Path dir) throws IOException {
        Map<?, ?> json = (Map<?, ?>) JSON.readValue(Files.readString(dir.resolve("case.json")), Object.class);
        name = String.valueOf(json.get("name"));
        family = String.valueOf(json.get("family"));
        int[] stride = ints(json.get("stride")), pad = ints(json.get("padding")), dil = ints(json.get("dilation"));
        int[] outputPadding = json.containsKey("output_padding") ? ints(json.get("output_padding")) : null;
        Object opName = json.get("op");
        op = LayerOp.of(opName == null ? "conv2d" : String.valueOf(opName), stride, pad, dil, outputPadding,
                ((Number) json.get("groups")).intValue());
        params = op.params() instanceof Conv2dParams ? (Conv2dParams) op.params() : null;
        boolean bias = Boolean.TRUE.equals(json.get("bias"));
        boolean backward = Files.isRegularFile(dir.resolve("gy.npy"));
        List<Tensor> loaded = new ArrayList<>();
        try {
            x = load(dir, "x", loaded);
            w = load(dir, "w", loaded);
            b = bias ? load(dir, "b", loaded) : null;
            y = load(dir, "y", loaded);
            gy = backward ? load(dir, "gy", loaded) : null;
            gx = backward ? load(dir, "gx", loaded) : null;
            gw = backward ? load(dir, "gw", loaded) : null;
            gb = backward && bias ? load(dir, "gb", loaded) : null;
        } catch (IOException | RuntimeException e) {
            loaded.forEach(Tensor::close);
            throw e;
        }
    }

    /** Loads the case in {@code dir}. */
    public static GoldenCase load(Path dir) throws IOException {
        return new GoldenCase(dir);
    }

    /**
     * The case folders under {@code root} (those holding a case.json), sorted by name.
     *
     * @throws IOException if {@code root} is not a folder or holds no case
     */
    public static List<Path> list(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            throw new IOException("golden folder " + root.toAbsolutePath() + " does not exist");
        }
        List<Path> dirs = new ArrayList<>();
        try (Stream<Path> s = Files.list(root)) {
            s.filter(p -> Files.isRegularFile(p.resolve("case.json"))).sorted().forEach(dirs::add);
        }
        if (dirs.isEmpty()) {
            throw new IOException("golden folder " + root.toAbsolutePath() + " holds no case (no */case.json)");
        }
        return dirs;
    }

    /** True when the case holds gradients to check, not only the forward output. */
    public boolean hasBackward() {
        return gy != null;
    }

    /** True for cases whose data are small integers, so that every result is exact in float32. */
    public boolean isExact() {
        return "exact_int".equals(family);
    }

    private static Tensor load(Path dir, String name, List<Tensor> loaded) throws IOException {
        Path f = dir.resolve(name + ".npy");
        if (!Files.isRegularFile(f)) {
            throw new IOException("golden case " + dir.getFileName() + " lacks " + name + ".npy");
        }
        Tensor t = Npy.read(f);
        loaded.add(t);
        return t;
    }

    private static int[] ints(Object o) {
        List<?> l = (List<?>) o;
        int[] a = new int[l.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = ((Number) l.get(i)).intValue();
        }
        return a;
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {x, w, b, y, gy, gx, gw, gb}) {
            if (t != null) {
                t.close();
            }
        }
    }
}
