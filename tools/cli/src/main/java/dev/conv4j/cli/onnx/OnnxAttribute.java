package dev.conv4j.cli.onnx;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An ONNX {@code AttributeProto}. Only the field that {@link #type()} names is meaningful; the
 * others hold their defaults (0, null or empty). Graph attributes (of If, Loop...) are not decoded.
 *
 * @param name the attribute's name, such as "strides"
 * @param type the {@code AttributeProto.AttributeType}: {@link #FLOAT}, {@link #INT}, {@link #STRING},
 *     {@link #TENSOR}, {@link #FLOATS}, {@link #INTS}, {@link #STRINGS}, or another (graphs...)
 * @param f the value of a FLOAT
 * @param i the value of an INT
 * @param s the value of a STRING, decoded as UTF-8 (such as "SAME_UPPER" for auto_pad)
 * @param t the value of a TENSOR
 * @param floats the values of FLOATS
 * @param ints the values of INTS
 * @param strings the values of STRINGS
 */
public record OnnxAttribute(String name, int type, float f, long i, String s, OnnxTensor t, float[] floats,
        long[] ints, List<String> strings) {
    /** Values of {@code AttributeProto.AttributeType}. */
    public static final int FLOAT = 1, INT = 2, STRING = 3, TENSOR = 4, FLOATS = 6, INTS = 7, STRINGS = 8;

    private static final String[] TYPE_NAMES = {"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS",
        "INTS", "STRINGS", "SPARSE_TENSOR", "TYPE_PROTO", "TENSORS", "GRAPHS", "SPARSE_TENSORS", "TYPE_PROTOS"};

    static OnnxAttribute decode(ProtoReader r) throws IOException {
        String name = "";
        long type = 0, i = 0;
        float f = 0;
        String s = null;
        OnnxTensor t = null;
        ProtoReader.Floats floats = new ProtoReader.Floats();
        ProtoReader.Longs ints = new ProtoReader.Longs();
        List<String> strings = new ArrayList<>();
        while (r.next()) {
            switch (r.field()) {
                case 1 -> name = r.string();
                case 2 -> f = r.float32();
                case 3 -> i = r.int64();
                case 4 -> s = r.string();
                case 5 -> t = OnnxTensor.decode(r.message());
                case 7 -> r.floats(floats);
                case 8 -> r.int64s(ints);
                case 9 -> strings.add(new String(r.bytes(), StandardCharsets.UTF_8));
                case 20 -> type = r.int64();
                default -> r.skip();
            }
        }
        return new OnnxAttribute(name, (int) type, f, i, s, t, floats.toArray(), ints.toArray(), List.copyOf(strings));
    }

    /** The name of an attribute type, such as "INTS" for 7. */
    public static String typeName(int type) {
        return type >= 0 && type < TYPE_NAMES.length ? TYPE_NAMES[type] : "type " + type;
    }

    /** Such as {@code strides=[2, 2]} or {@code auto_pad="SAME_LOWER"}. */
    @Override
    public String toString() {
        return name + "=" + switch (type) {
            case FLOAT -> String.valueOf(f);
            case INT -> String.valueOf(i);
            case STRING -> '"' + s + '"';
            case TENSOR -> String.valueOf(t);
            case FLOATS -> Arrays.toString(floats);
            case INTS -> Arrays.toString(ints);
            case STRINGS -> strings.toString();
            default -> "(" + typeName(type) + ")";
        };
    }
}
