package dev.conv4j.cli.onnx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * One test of ONNX's conformance data (such as the Debian package {@code libonnx-testdata}): a folder
 * holding {@code model.onnx} and {@code test_data_set_0/input_N.pb, output_N.pb}.
 *
 * @param name the folder's name, such as "test_conv_with_autopad_same"
 * @param dir the folder
 * @param graph the model's graph
 * @param inputs every graph input in graph order, named as in the graph: initializers from the model,
 *     the others from {@code input_N.pb}
 * @param outputs the expected graph outputs in graph order, named as in the graph, from {@code output_N.pb}
 */
public record OnnxTestCase(String name, Path dir, OnnxGraph graph, List<OnnxTensor> inputs,
        List<OnnxTensor> outputs) {

    /**
     * Loads the test in {@code testDir} with its first data set. As in ONNX's own runner,
     * {@code input_i.pb} holds the i-th graph input that is not an initializer; the .pb files' own
     * names are ignored (those of the pytorch-converted tests are empty).
     */
    public static OnnxTestCase load(Path testDir) throws IOException {
        OnnxGraph graph = OnnxGraph.read(testDir.resolve("model.onnx"));
        Path data = firstDataSet(testDir);
        List<String> fed = graph.dataInputs();
        checkFileCount(data, "input", fed.size());
        checkFileCount(data, "output", graph.outputs().size());
        List<OnnxTensor> inputs = new ArrayList<>();
        int next = 0;
        for (String input : graph.inputs()) {
            OnnxTensor init = graph.initializer(input);
            inputs.add(init != null ? init : OnnxTensor.read(data.resolve("input_" + next++ + ".pb")).withName(input));
        }
        List<OnnxTensor> outputs = new ArrayList<>();
        for (int i = 0; i < graph.outputs().size(); i++) {
            outputs.add(OnnxTensor.read(data.resolve("output_" + i + ".pb")).withName(graph.outputs().get(i)));
        }
        return new OnnxTestCase(testDir.getFileName().toString(), testDir, graph, List.copyOf(inputs),
                List.copyOf(outputs));
    }

    /**
     * Every test folder under {@code root} (at any depth, sorted by path) whose model has a
     * {@code Conv} or {@code ConvTranspose} node. Only the models are read; {@link Found#load()}
     * reads the data.
     *
     * @throws IOException if {@code root} is not a folder, or a model cannot be read
     */
    public static List<Found> find(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            throw new IOException("ONNX test data folder " + root + " does not exist");
        }
        List<Path> models;
        try (Stream<Path> s = Files.walk(root)) {
            models = s.filter(p -> p.getFileName().toString().equals("model.onnx") && Files.isRegularFile(p))
                    .sorted().toList();
        }
        List<Found> found = new ArrayList<>();
        for (Path model : models) {
            OnnxGraph graph = OnnxGraph.read(model);
            if (graph.hasConv()) {
                found.add(new Found(model.getParent(), graph));
            }
        }
        return found;
    }

    /** The node of a single-node test, the kind conv4j runs. */
    public OnnxNode node() {
        if (graph.nodes().size() != 1) {
            throw new IllegalStateException(name + " has " + graph.nodes().size() + " nodes, not one");
        }
        return graph.nodes().get(0);
    }

    /**
     * The tensor of a graph input (initializer or fed), or the expected tensor of a graph output,
     * by value name; null for an intermediate value or an omitted optional input ("").
     */
    public OnnxTensor tensor(String valueName) {
        for (OnnxTensor t : inputs) {
            if (t.name().equals(valueName)) {
                return t;
            }
        }
        for (OnnxTensor t : outputs) {
            if (t.name().equals(valueName)) {
                return t;
            }
        }
        return graph.initializer(valueName);
    }

    /**
     * A test folder found by {@link #find(Path)}, its data not read yet.
     *
     * @param dir the test folder
     * @param graph its model's graph
     */
    public record Found(Path dir, OnnxGraph graph) {
        /** The folder's name. */
        public String name() {
            return dir.getFileName().toString();
        }

        /** True when the graph is exactly one Conv or ConvTranspose node, the kind conv4j runs. */
        public boolean isSingleConv() {
            return graph.isSingleConv();
        }

        /** The op types of the graph's nodes, in order. */
        public List<String> opTypes() {
            return graph.nodes().stream().map(OnnxNode::opType).toList();
        }

        /** Reads the test with its data. */
        public OnnxTestCase load() throws IOException {
            return OnnxTestCase.load(dir);
        }
    }

    private static Path firstDataSet(Path testDir) throws IOException {
        try (Stream<Path> s = Files.list(testDir)) {
            // numerically, so that test_data_set_10 comes after test_data_set_2
            return s.filter(p -> p.getFileName().toString().matches("test_data_set_\\d+") && Files.isDirectory(p))
                    .min(Comparator.comparing((Path p) -> p.getFileName().toString().length())
                            .thenComparing(p -> p.getFileName().toString()))
                    .orElseThrow(() -> new IOException(testDir + " holds no test_data_set_N folder"));
        }
    }

    private static void checkFileCount(Path data, String kind, int expected) throws IOException {
        int n = 0;
        while (Files.isRegularFile(data.resolve(kind + "_" + n + ".pb"))) {
            n++;
        }
        if (n != expected) {
            throw new IOException(data + " holds " + n + " " + kind + "_N.pb files but the graph has " + expected
                    + " " + kind + "s" + (kind.equals("input") ? " that are not initializers" : ""));
        }
    }
}
