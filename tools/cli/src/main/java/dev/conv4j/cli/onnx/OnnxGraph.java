package dev.conv4j.cli.onnx;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code GraphProto} of an ONNX model file: its nodes, initializers and the names of its inputs
 * and outputs (their declared types and shapes are not decoded: the tensors carry their own).
 *
 * @param name the graph's name
 * @param nodes the nodes in file order (topologically sorted, as ONNX requires)
 * @param initializers the constant tensors, such as the weights of the pytorch-converted tests
 * @param inputs the names of the graph inputs, in order; may include initializers (older IR versions list them)
 * @param outputs the names of the graph outputs, in order
 */
public record OnnxGraph(String name, List<OnnxNode> nodes, List<OnnxTensor> initializers, List<String> inputs,
        List<String> outputs) {

    /** Reads the graph of a {@code model.onnx} file. */
    public static OnnxGraph read(Path modelFile) throws IOException {
        return ProtoReader.decodeFile(modelFile, OnnxGraph::decodeModel);
    }

    /** Decodes the graph of a serialized {@code ModelProto}. */
    public static OnnxGraph parse(byte[] model) throws IOException {
        return decodeModel(new ProtoReader(model));
    }

    private static OnnxGraph decodeModel(ProtoReader r) throws IOException {
        OnnxGraph graph = null;
        while (r.next()) {
            if (r.field() == 7) {
                graph = decode(r.message());
            } else {
                r.skip();
            }
        }
        if (graph == null) {
            throw new IOException("no graph in the model (not an ONNX model?)");
        }
        return graph;
    }

    private static OnnxGraph decode(ProtoReader r) throws IOException {
        List<OnnxNode> nodes = new ArrayList<>();
        List<OnnxTensor> initializers = new ArrayList<>();
        List<String> inputs = new ArrayList<>(), outputs = new ArrayList<>();
        String name = "";
        while (r.next()) {
            switch (r.field()) {
                case 1 -> nodes.add(OnnxNode.decode(r.message()));
                case 2 -> name = r.string();
                case 5 -> initializers.add(OnnxTensor.decode(r.message()));
                case 11 -> inputs.add(valueInfoName(r.message()));
                case 12 -> outputs.add(valueInfoName(r.message()));
                default -> r.skip();
            }
        }
        return new OnnxGraph(name, List.copyOf(nodes), List.copyOf(initializers), List.copyOf(inputs),
                List.copyOf(outputs));
    }

    private static String valueInfoName(ProtoReader r) throws IOException {
        String name = "";
        while (r.next()) {
            if (r.field() == 1) {
                name = r.string();
            } else {
                r.skip();
            }
        }
        return name;
    }

    /** The initializer of this name, or null. */
    public OnnxTensor initializer(String valueName) {
        for (OnnxTensor t : initializers) {
            if (t.name().equals(valueName)) {
                return t;
            }
        }
        return null;
    }

    /** The graph inputs that are not initializers: those a test data set feeds, in order. */
    public List<String> dataInputs() {
        return inputs.stream().filter(n -> initializer(n) == null).toList();
    }

    /** True when the graph is a single Conv or ConvTranspose node, the kind conv4j runs. */
    public boolean isSingleConv() {
        return nodes.size() == 1 && nodes.get(0).isConv();
    }

    /** True when some node is a Conv or ConvTranspose. */
    public boolean hasConv() {
        return nodes.stream().anyMatch(OnnxNode::isConv);
    }
}
