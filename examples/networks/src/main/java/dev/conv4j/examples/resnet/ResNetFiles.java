package dev.conv4j.examples.resnet;

import dev.conv4j.ConvEngine;
import dev.conv4j.Tensor;
import dev.conv4j.examples.ModelFiles;
import dev.conv4j.io.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Saves and loads a {@link ResNet} as a folder: {@code model.json} (format {@code conv4j-resnet}:
 * the architecture, the input normalization, the class names and facts about the training run)
 * and one float32 {@code .npy} file per entry of the PyTorch state_dict ({@code conv1.weight.npy},
 * {@code layer1.0.bn1.running_var.npy}, ...), so that NumPy and PyTorch read it directly
 * ({@code examples/pytorch/resnet_fashion.py --evaluate DIR}) and PyTorch writes the same.
 */
public final class ResNetFiles {
    /** The {@code format} of a ResNet's model.json. */
    public static final String FORMAT = "conv4j-resnet";

    private ResNetFiles() {
    }

    /** Writes the network into {@code dir} (created if needed). */
    public static void save(ResNet net, Path dir, List<String> classNames, Map<String, Object> training)
            throws IOException {
        if (classNames.size() != net.classes()) {
            throw new IllegalArgumentException(classNames.size() + " class names for a network of " + net.classes()
                    + " classes");
        }
        Files.createDirectories(dir);
        ResNet.Architecture a = net.architecture();
        Map<String, Object> arch = new LinkedHashMap<>();
        arch.put("channels", a.channels());
        arch.put("height", a.height());
        arch.put("width", a.width());
        arch.put("widths", a.widths());
        arch.put("blocks", a.blocks());
        arch.put("classes", a.classes());
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("format", FORMAT);
        doc.put("version", 1);
        doc.put("architecture", arch);
        Map<String, Object> normalize = new LinkedHashMap<>();
        normalize.put("mean", ModelFiles.decimal(net.mean()));
        normalize.put("std", ModelFiles.decimal(net.std()));
        doc.put("normalize", normalize);
        doc.put("classes", new ArrayList<>(classNames));
        doc.put("training", training);
        ModelFiles.writeDescription(dir, doc);
        Map<String, int[]> shapes = net.stateShapes();
        for (Map.Entry<String, float[]> e : net.state().entrySet()) {
            try (Tensor t = Tensor.of(e.getValue(), shapes.get(e.getKey()))) {
                Npy.write(dir.resolve(e.getKey() + ".npy"), t);
            }
        }
    }

    /** True when {@code dir}'s model.json says it holds a ResNet. */
    public static boolean isResNet(Path dir) throws IOException {
        return FORMAT.equals(ModelFiles.readDescription(dir).get("format"));
    }

    /** The architecture and normalization a folder describes, checked. */
    static ResNet.Architecture architecture(Map<String, Object> doc, Path dir) throws IOException {
        Path file = dir.resolve(ModelFiles.DESCRIPTION);
        if (!FORMAT.equals(doc.get("format"))) {
            throw new IOException(file + ": format is " + doc.get("format") + ", expected " + FORMAT);
        }
        if (!Integer.valueOf(1).equals(doc.get("version"))) {
            throw new IOException(file + ": version " + doc.get("version") + " of " + FORMAT + " is not known (1 is)");
        }
        Map<String, Object> arch = ModelFiles.asMap(doc.get("architecture"), "architecture");
        Object widths = arch.get("widths");
        List<Integer> w = new ArrayList<>();
        if (widths instanceof List) {
            for (Object o : (List<?>) widths) {
                if (!(o instanceof Integer) || (Integer) o < 1) {
                    w.clear();
                    break;
                }
                w.add((Integer) o);
            }
        }
        if (w.isEmpty()) {
            throw new IOException(file + ": architecture.widths must be a list of positive integers, got " + widths);
        }
        ResNet.Architecture a = new ResNet.Architecture(ModelFiles.integer(arch, "channels"),
                ModelFiles.integer(arch, "height"), ModelFiles.integer(arch, "width"), w,
                ModelFiles.integer(arch, "blocks"), ModelFiles.integer(arch, "classes"));
        Object classes = doc.get("classes");
        if (classes != null && (!(classes instanceof List) || ((List<?>) classes).size() != a.classes())) {
            throw new IOException(file + ": classes must list " + a.classes() + " names (architecture.classes), got "
                    + classes);
        }
        return a;
    }

    /** A network read from a folder written by {@link #save} (or by the PyTorch script's --save). */
    public static ResNet load(Path dir, ConvEngine engine, int threads) throws IOException {
        Map<String, Object> doc = ModelFiles.readDescription(dir);
        ResNet.Architecture a = architecture(doc, dir);
        Map<String, Object> norm = ModelFiles.asMap(doc.get("normalize"), "normalize");
        float std = ModelFiles.number(norm, "std");
        if (!(std > 0)) {
            throw new IOException(dir.resolve(ModelFiles.DESCRIPTION) + ": normalize.std must be positive, got " + std);
        }
        ResNet net = ResNet.empty(a, engine, threads, ModelFiles.number(norm, "mean"), std);
        try {
            Map<String, int[]> shapes = net.stateShapes();
            for (Map.Entry<String, float[]> e : net.state().entrySet()) {
                Path f = dir.resolve(e.getKey() + ".npy");
                if (!Files.isRegularFile(f)) {
                    throw new IOException("the model in " + dir + " is incomplete: no " + f.getFileName()
                            + " (the architecture in " + ModelFiles.DESCRIPTION + " needs it)");
                }
                try (Tensor t = Npy.read(f)) {
                    int[] want = shapes.get(e.getKey());
                    if (!Arrays.equals(t.shape(), want)) {
                        throw new IOException(f + ": shape " + Arrays.toString(t.shape()) + " does not match "
                                + e.getKey() + Arrays.toString(want) + " of the architecture in " + ModelFiles.DESCRIPTION);
                    }
                    t.copyTo(e.getValue());
                }
            }
            net.parametersChanged();
            return net;
        } catch (IOException | RuntimeException e) {
            net.close();
            throw e;
        }
    }
}
