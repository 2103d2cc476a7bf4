package dev.conv4j.cli.onnx;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An ONNX {@code NodeProto}: one operator application.
 *
 * @param name the node's name, often empty
 * @param opType the operator, such as "Conv" or "ConvTranspose"
 * @param domain the operator set domain; "" (or "ai.onnx") is the default one
 * @param inputs the names of the values read, in the operator's order; "" marks an omitted optional input
 * @param outputs the names of the values written
 * @param attributes the attributes by name, in file order
 */
public record OnnxNode(String name, String opType, String domain, List<String> inputs, List<String> outputs,
        Map<String, OnnxAttribute> attributes) {

    static OnnxNode decode(ProtoReader r) throws IOException {
        List<String> inputs = new ArrayList<>(), outputs = new ArrayList<>();
        Map<String, OnnxAttribute> attributes = new LinkedHashMap<>();
        String name = "", opType = "", domain = "";
        while (r.next()) {
            switch (r.field()) {
                case 1 -> inputs.add(r.string());
                case 2 -> outputs.add(r.string());
                case 3 -> name = r.string();
                case 4 -> opType = r.string();
                case 5 -> {
                    OnnxAttribute a = OnnxAttribute.decode(r.message());
                    attributes.put(a.name(), a);
                }
                case 7 -> domain = r.string();
                default -> r.skip();
            }
        }
        return new OnnxNode(name, opType, domain, List.copyOf(inputs), List.copyOf(outputs),
                Collections.unmodifiableMap(attributes));
    }

    /** True for a {@code Conv} or {@code ConvTranspose} of the default domain (not ConvInteger, QLinearConv...). */
    public boolean isConv() {
        return (opType.equals("Conv") || opType.equals("ConvTranspose")) && (domain.isEmpty() || domain.equals("ai.onnx"));
    }

    /** True when the node has this attribute. */
    public boolean has(String attribute) {
        return attributes.containsKey(attribute);
    }

    /**
     * An INTS attribute such as "pads", or null when absent.
     *
     * @throws IllegalArgumentException if the attribute has another type
     */
    public long[] ints(String attribute) {
        OnnxAttribute a = get(attribute, OnnxAttribute.INTS);
        return a == null ? null : a.ints().clone();
    }

    /**
     * An INT attribute such as "group", or {@code otherwise} when absent.
     *
     * @throws IllegalArgumentException if the attribute has another type
     */
    public long integer(String attribute, long otherwise) {
        OnnxAttribute a = get(attribute, OnnxAttribute.INT);
        return a == null ? otherwise : a.i();
    }

    /**
     * A STRING attribute such as "auto_pad", or null when absent.
     *
     * @throws IllegalArgumentException if the attribute has another type
     */
    public String string(String attribute) {
        OnnxAttribute a = get(attribute, OnnxAttribute.STRING);
        return a == null ? null : a.s();
    }

    private OnnxAttribute get(String attribute, int type) {
        OnnxAttribute a = attributes.get(attribute);
        if (a != null && a.type() != type) {
            throw new IllegalArgumentException(opType + " attribute " + attribute + " is "
                    + OnnxAttribute.typeName(a.type()) + ", not " + OnnxAttribute.typeName(type));
        }
        return a;
    }

    /** Such as {@code Conv(x, W) -> y {kernel_shape=[3, 3], pads=[1, 1, 1, 1]}}. */
    @Override
    public String toString() {
        return opType + "(" + String.join(", ", inputs) + ") -> " + String.join(", ", outputs) + " "
                + attributes.values();
    }
}
