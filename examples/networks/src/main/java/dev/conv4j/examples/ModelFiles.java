package dev.conv4j.examples;

import dev.conv4j.ConvEngine;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.conv4j.Tensor;
import dev.conv4j.io.Npy;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Saves and loads a {@link LeNet} as a folder: {@code model.json} describing the network, and one
 * float32 {@code .npy} file per parameter named as in PyTorch's {@code state_dict}
 * ({@code conv1.weight.npy}, {@code fc1.bias.npy}, ...), in PyTorch's layouts, so that NumPy and
 * PyTorch read the weights directly ({@code examples/pytorch/lenet_fashion.py --evaluate DIR}).
 */
public final class ModelFiles {
    /** The description file inside a model folder. */
    public static final String DESCRIPTION = "model.json";
    private static final String FORMAT = "conv4j-lenet";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ModelFiles() {
    }

    /**
     * Writes the network into {@code dir} (created if needed).
     *
     * @param classNames the name of each class, in label order
     * @param training   free-form facts about the training run, stored as they are
     */
    public static void save(LeNet net, Path dir, List<String> classNames, Map<String, Object> training)
            throws IOException {
        Files.createDirectories(dir);
        LeNet.Architecture a = net.architecture();
        Map<String, Object> arch = new LinkedHashMap<>();
        arch.put("channels", a.channels());
        arch.put("height", a.height());
        arch.put("width", a.width());
        arch.put("conv1", a.conv1());
        arch.put("conv2", a.conv2());
        arch.put("kernel", a.kernel());
        arch.put("hidden", a.hidden());
        arch.put("classes", a.classes());

        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("format", FORMAT);
        doc.put("version", 1);
        doc.put("architecture", arch);
        Map<String, Object> normalize = new LinkedHashMap<>();
        normalize.put("mean", decimal(net.mean()));
        normalize.put("std", decimal(net.std()));
        doc.put("normalize", normalize);
        doc.put("layers", List.of(
                conv("conv1", a.kernel() / 2), Map.of("type", "relu"), pool(),
                conv("conv2", 0), Map.of("type", "relu"), pool(),
                Map.of("type", "flatten"),
                dense("fc1"), Map.of("type", "relu"),
                dense("fc2")));
        doc.put("classes", new ArrayList<>(classNames));
        doc.put("training", training);
        writeDescription(dir, doc);

        for (Parameter p : net.parameters()) {
            try (Tensor t = Tensor.of(p.value, p.shape())) {
                Npy.write(dir.resolve(p.name() + ".npy"), t);
            }
        }
    }

    /** A network read from a folder written by {@link #save}, running its convolutions on {@code engine}. */
    public static LeNet load(Path dir, ConvEngine engine) throws IOException {
        Path file = dir.resolve(DESCRIPTION);
        Map<String, Object> doc = readDescription(dir);
        if (!FORMAT.equals(doc.get("format"))) {
            throw new IOException(file + ": format is " + doc.get("format") + ", expected " + FORMAT);
        }
        Map<String, Object> arch = asMap(doc.get("architecture"), "architecture");
        Map<String, Object> norm = asMap(doc.get("normalize"), "normalize");
        LeNet.Architecture a = new LeNet.Architecture(integer(arch, "channels"), integer(arch, "height"),
                integer(arch, "width"), integer(arch, "conv1"), integer(arch, "conv2"), integer(arch, "kernel"),
                integer(arch, "hidden"), integer(arch, "classes"));
        LeNet net = LeNet.empty(a, engine, number(norm, "mean"), number(norm, "std"));
        try {
            for (Parameter p : net.parameters()) {
                Path f = dir.resolve(p.name() + ".npy");
                try (Tensor t = Npy.read(f)) {
                    if (!Arrays.equals(t.shape(), p.shape())) {
                        throw new IOException(f + ": shape " + Arrays.toString(t.shape()) + " does not match "
                                + p.name() + Arrays.toString(p.shape()) + " of the architecture in " + DESCRIPTION);
                    }
                    t.copyTo(p.value);
                }
            }
            net.parametersChanged();
            return net;
        } catch (IOException | RuntimeException e) {
            net.close();
            throw e;
        }
    }

    /** The parsed {@code model.json} of a model folder; a clear IOException when it is missing or not JSON. */
    public static Map<String, Object> readDescription(Path dir) throws IOException {
        Path file = dir.resolve(DESCRIPTION);
        if (!Files.isRegularFile(file)) {
            throw new IOException("no " + DESCRIPTION + " in " + dir + ": not a saved model (train --save DIR writes one)");
        }
        try {
            return asMap(JSON.readValue(Files.readString(file, StandardCharsets.UTF_8), Object.class), "the document");
        } catch (IllegalArgumentException | JacksonException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code doc} as the folder's {@code model.json}, indented. */
    public static void writeDescription(Path dir, Map<String, Object> doc) throws IOException {
        Files.writeString(dir.resolve(DESCRIPTION), JSON.writeValueAsString(doc) + "\n", StandardCharsets.UTF_8);
    }

    /** The class names stored with a model, or none when the file has no list. */
    public static List<String> classNames(Path dir) throws IOException {
        Object doc = JSON.readValue(Files.readString(dir.resolve(DESCRIPTION), StandardCharsets.UTF_8), Object.class);
        Object names = asMap(doc, "the document").get("classes");
        List<String> out = new ArrayList<>();
        if (names instanceof List) {
            for (Object o : (List<?>) names) {
                out.add(String.valueOf(o));
            }
        }
        return out;
    }

    private static Map<String, Object> conv(String name, int padding) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("type", "conv2d");
        m.put("weight", name + ".weight.npy");
        m.put("bias", name + ".bias.npy");
        m.put("stride", 1);
        m.put("padding", padding);
        return m;
    }

    private static Map<String, Object> pool() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "maxpool2d");
        m.put("kernel", 2);
        m.put("stride", 2);
        return m;
    }

    private static Map<String, Object> dense(String name) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("type", "dense");
        m.put("weight", name + ".weight.npy");
        m.put("bias", name + ".bias.npy");
        return m;
    }

    /** The float as the short decimal that reads back to it (0.286, not 0.28600001335144043). */
    public static double decimal(float f) {
        return Double.parseDouble(Float.toString(f));
    }

    @SuppressWarnings("unchecked")
    public static Map<String, Object> asMap(Object o, String what) throws IOException {
        if (!(o instanceof Map)) {
            throw new IOException(DESCRIPTION + ": " + what + " must be a JSON object");
        }
        return (Map<String, Object>) o;
    }

    public static int integer(Map<String, Object> m, String key) throws IOException {
        Object v = m.get(key);
        // JSON integers read as Integer, Long or BigInteger by size; fractions and booleans are refused
        if (!(v instanceof Integer || v instanceof Long) || ((Number) v).longValue() < 1 || ((Number) v).longValue() > Integer.MAX_VALUE) {
            throw new IOException(DESCRIPTION + ": architecture." + key + " must be a positive integer, got " + v);
        }
        return ((Number) v).intValue();
    }

    public static float number(Map<String, Object> m, String key) throws IOException {
        Object v = m.get(key);
        if (!(v instanceof Number)) {
            throw new IOException(DESCRIPTION + ": normalize." + key + " must be a number, got " + v);
        }
        return ((Number) v).floatValue();
    }
}
