package example;

import dev.conv4j.ConvGeometry;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A one-node ONNX model of a layer's forward convolution, encoded by hand: ONNX Runtime's Java jar
 * has no ONNX protobuf classes, and this needs only a few fields of a few messages.
 *
 * <p>The graph is {@code Y = Conv(X, W, B)} with the layer's strides, pads, dilations and groups; W
 * and B are initializers (constants, not graph inputs, so that ONNX Runtime may prepack and reorder
 * them, which its NCHWc layout transformer needs). Field numbers are those of {@code onnx.proto}
 * (IR version 8, the default opset at version 17).
 */
final class OnnxModel {
    static final long IR_VERSION = 8;
    static final long OPSET = 17;

    // onnx.proto: TensorProto.DataType FLOAT, AttributeProto.AttributeType INT and INTS
    private static final int FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7;

    private OnnxModel() {
    }

    /** The serialized ModelProto of {@code Y = Conv(X, W, B)} over the layer's geometry and weights. */
    static byte[] conv(ConvGeometry g, float[] w, float[] b) {
        Proto node = new Proto()
                .string(1, "X").string(1, "W").string(1, "B") // NodeProto.input
                .string(2, "Y")                                // NodeProto.output
                .string(3, "conv")                             // NodeProto.name
                .string(4, "Conv")                             // NodeProto.op_type
                .message(5, ints("kernel_shape", g.kh, g.kw))  // NodeProto.attribute
                .message(5, ints("strides", g.strideH, g.strideW))
                .message(5, ints("pads", g.padTop, g.padLeft, g.padBottom, g.padRight)) // begins, then ends
                .message(5, ints("dilations", g.dilationH, g.dilationW))
                .message(5, integer("group", g.groups));
        Proto graph = new Proto()
                .message(1, node)                                  // GraphProto.node
                .string(2, "conv")                                 // GraphProto.name
                .message(5, tensor("W", w, g.weightShape()))       // GraphProto.initializer
                .message(5, tensor("B", b, g.o))
                .message(11, valueInfo("X", g.inputShape()))       // GraphProto.input
                .message(12, valueInfo("Y", g.outputShape()));     // GraphProto.output
        Proto opset = new Proto().string(1, "").varint(2, OPSET); // OperatorSetIdProto.domain, version
        return new Proto()
                .varint(1, IR_VERSION)   // ModelProto.ir_version
                .string(2, "conv4j-compare") // ModelProto.producer_name
                .message(7, graph)       // ModelProto.graph
                .message(8, opset)       // ModelProto.opset_import
                .bytes();
    }

    /** AttributeProto {name, type INT, i}. */
    private static Proto integer(String name, long v) {
        return new Proto().string(1, name).varint(20, ATTR_INT).varint(3, v);
    }

    /** AttributeProto {name, type INTS, ints...}. */
    private static Proto ints(String name, long... v) {
        Proto p = new Proto().string(1, name).varint(20, ATTR_INTS);
        for (long x : v) {
            p.varint(8, x); // repeated int64, unpacked (proto2's default; parsers accept either)
        }
        return p;
    }

    /** TensorProto {dims..., data_type FLOAT, name, raw_data little-endian}. */
    private static Proto tensor(String name, float[] data, int... dims) {
        Proto p = new Proto();
        for (int d : dims) {
            p.varint(1, d);
        }
        ByteBuffer raw = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(data);
        return p.varint(2, FLOAT).string(8, name).bytes(9, raw.array());
    }

    /** ValueInfoProto {name, type: TypeProto {tensor_type: {elem_type FLOAT, shape: {dim {dim_value}...}}}}. */
    private static Proto valueInfo(String name, int... dims) {
        Proto shape = new Proto();
        for (int d : dims) {
            shape.message(1, new Proto().varint(1, d)); // TensorShapeProto.dim, Dimension.dim_value
        }
        Proto tensorType = new Proto().varint(1, FLOAT).message(2, shape);
        return new Proto().string(1, name).message(2, new Proto().message(1, tensorType));
    }

    /**
     * The nodes of a serialized model's graph, as {@code op_type} or {@code domain:op_type}: what an
     * optimized model that ONNX Runtime wrote runs (NCHWc kernels are in domain
     * {@code com.microsoft.nchwc}).
     */
    static List<String> nodes(byte[] model) {
        List<String> ops = new ArrayList<>();
        for (Field graph : Field.read(model, 0, model.length)) {
            if (graph.number != 7) {
                continue;
            }
            for (Field node : Field.read(model, graph.start, graph.end)) {
                if (node.number != 1) {
                    continue;
                }
                String op = "?", domain = "";
                for (Field f : Field.read(model, node.start, node.end)) {
                    if (f.number == 4) {
                        op = f.string(model);
                    } else if (f.number == 7) {
                        domain = f.string(model);
                    }
                }
                ops.add(domain.isEmpty() ? op : domain + ":" + op);
            }
        }
        return ops;
    }

    /** A protobuf message being written: fields appended in the order of the calls. */
    static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        /** A varint field (wire type 0): int32, int64 and enum values. */
        Proto varint(int field, long v) {
            tag(field, 0);
            raw(v);
            return this;
        }

        /** A length-delimited field (wire type 2) of bytes. */
        Proto bytes(int field, byte[] b) {
            tag(field, 2);
            raw(b.length);
            out.write(b, 0, b.length);
            return this;
        }

        Proto string(int field, String s) {
            return bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Proto message(int field, Proto m) {
            return bytes(field, m.bytes());
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        private void tag(int field, int wireType) {
            raw(((long) field << 3) | wireType);
        }

        /** Base-128, least significant group first; negative values take ten bytes, as int64 does. */
        private void raw(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }
    }

    /** One field of a serialized message: its number and, for a length-delimited one, where its bytes lie. */
    private static final class Field {
        final int number;
        final int start, end;

        private Field(int number, int start, int end) {
            this.number = number;
            this.start = start;
            this.end = end;
        }

        String string(byte[] b) {
            return new String(b, start, end - start, StandardCharsets.UTF_8);
        }

        /** The fields of the message in {@code b[from, to)}; varint and fixed-width fields come back empty. */
        static List<Field> read(byte[] b, int from, int to) {
            List<Field> fields = new ArrayList<>();
            int[] pos = {from};
            while (pos[0] < to) {
                long tag = varint(b, pos);
                int number = (int) (tag >>> 3), type = (int) (tag & 7);
                switch (type) {
                    case 0:
                        varint(b, pos);
                        fields.add(new Field(number, pos[0], pos[0]));
                        break;
                    case 1:
                        pos[0] += 8;
                        break;
                    case 2:
                        int len = (int) varint(b, pos);
                        fields.add(new Field(number, pos[0], pos[0] + len));
                        pos[0] += len;
                        break;
                    case 5:
                        pos[0] += 4;
                        break;
                    default:
                        throw new IllegalArgumentException("wire type " + type + " at byte " + pos[0]);
                }
            }
            return fields;
        }

        private static long varint(byte[] b, int[] pos) {
            long v = 0;
            for (int shift = 0; ; shift += 7) {
                int x = b[pos[0]++];
                v |= (long) (x & 0x7F) << shift;
                if ((x & 0x80) == 0) {
                    return v;
                }
            }
        }
    }
}
