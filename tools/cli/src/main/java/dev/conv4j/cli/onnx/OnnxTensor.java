package dev.conv4j.cli.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * An ONNX {@code TensorProto}: a graph initializer or one {@code input_N.pb} / {@code output_N.pb}
 * of a test data set. Only float tensors carry their values; any other is kept with its
 * {@link #dataType()} (and null {@link #data()}) so that callers can report it as unsupported.
 *
 * @param name the tensor's own name, or the graph value it was matched to (see {@link OnnxTestCase})
 * @param dataType the {@code TensorProto.DataType}: {@link #FLOAT} is 1, see {@link #typeName(int)}
 * @param shape the dimensions, outermost first; empty for a scalar
 * @param data the values in row-major order for a float tensor, else null
 */
public record OnnxTensor(String name, int dataType, int[] shape, float[] data) {
    /** {@code TensorProto.DataType.FLOAT}. */
    public static final int FLOAT = 1;

    private static final String[] TYPE_NAMES = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32",
        "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};

    /** Reads a serialized {@code TensorProto}, such as {@code input_0.pb}. */
    public static OnnxTensor read(Path file) throws IOException {
        return ProtoReader.decodeFile(file, OnnxTensor::decode);
    }

    /** Decodes a serialized {@code TensorProto}. */
    public static OnnxTensor parse(byte[] bytes) throws IOException {
        return decode(new ProtoReader(bytes));
    }

    static OnnxTensor decode(ProtoReader r) throws IOException {
        ProtoReader.Longs dims = new ProtoReader.Longs();
        ProtoReader.Floats floatData = new ProtoReader.Floats();
        byte[] raw = null;
        String name = "";
        long dataType = 0;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> r.int64s(dims);
                case 2 -> dataType = r.int64();
                case 4 -> r.floats(floatData);
                case 8 -> name = r.string();
                case 9 -> raw = r.bytes();
                // int64_data (7), double_data (10), segments, external data...: tensors conv4j cannot use
                default -> r.skip();
            }
        }
        String label = name.isEmpty() ? "tensor" : "tensor '" + name + "'";
        long[] d = dims.toArray();
        int[] shape = new int[d.length];
        long count = 1;
        for (int i = 0; i < d.length; i++) {
            if (d[i] < 0 || d[i] > Integer.MAX_VALUE) {
                throw new IOException(label + " has dimension " + d[i] + " in " + Arrays.toString(d));
            }
            shape[i] = (int) d[i];
            count *= shape[i];
            if (count > Integer.MAX_VALUE) {
                throw new IOException(label + " is too large: " + Arrays.toString(d));
            }
        }
        if (dataType < 0 || dataType > Integer.MAX_VALUE) {
            throw new IOException(label + " has data type " + dataType);
        }
        if (dataType != FLOAT) {
            return new OnnxTensor(name, (int) dataType, shape, null);
        }
        float[] data;
        if (raw != null) {
            if (raw.length != 4 * count) {
                throw new IOException(label + " of shape " + Arrays.toString(shape) + " needs " + 4 * count
                        + " bytes of raw_data, has " + raw.length);
            }
            data = new float[(int) count];
            ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
        } else {
            if (floatData.size() != count) {
                throw new IOException(label + " of shape " + Arrays.toString(shape) + " needs " + count
                        + " values, has " + floatData.size() + " in float_data and no raw_data");
            }
            data = floatData.toArray();
        }
        return new OnnxTensor(name, FLOAT, shape, data);
    }

    /** The name of an ONNX data type, such as "INT64" for 7. */
    public static String typeName(int dataType) {
        return dataType >= 0 && dataType < TYPE_NAMES.length ? TYPE_NAMES[dataType] : "type " + dataType;
    }

    /** True when {@link #data()} holds the values. */
    public boolean isFloat() {
        return dataType == FLOAT;
    }

    /** The number of values: the product of the shape. */
    public int size() {
        int n = 1;
        for (int s : shape) {
            n *= s;
        }
        return n;
    }

    /** This tensor under another name. */
    public OnnxTensor withName(String newName) {
        return new OnnxTensor(newName, dataType, shape, data);
    }

    /** Such as {@code x: FLOAT[1, 1, 7, 5]}. */
    @Override
    public String toString() {
        return name + ": " + typeName(dataType) + Arrays.toString(shape);
    }
}
