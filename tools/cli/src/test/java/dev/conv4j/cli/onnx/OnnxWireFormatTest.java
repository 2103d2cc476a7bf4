package dev.conv4j.cli.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The encodings the Debian test data never use (packed ints, float_data, unknown fields) and broken
 * input, on messages written here; {@link OnnxTestDataTest} covers the real files.
 */
class OnnxWireFormatTest {

    /** A protobuf message written field by field. */
    private static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Proto varint(int field, long v) {
            tag(field, 0);
            raw(v);
            return this;
        }

        Proto fixed32(int field, float v) {
            tag(field, 5);
            int bits = Float.floatToIntBits(v);
            for (int i = 0; i < 4; i++) {
                out.write(bits >>> 8 * i);
            }
            return this;
        }

        Proto fixed64(int field, double v) {
            tag(field, 1);
            long bits = Double.doubleToLongBits(v);
            for (int i = 0; i < 8; i++) {
                out.write((int) (bits >>> 8 * i));
            }
            return this;
        }

        Proto bytes(int field, byte[] b) {
            tag(field, 2);
            raw(b.length);
            out.writeBytes(b);
            return this;
        }

        Proto string(int field, String s) {
            return bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Proto message(int field, Proto m) {
            return bytes(field, m.toBytes());
        }

        Proto packedVarints(int field, long... v) {
            Proto p = new Proto();
            for (long x : v) {
                p.raw(x);
            }
            return bytes(field, p.toBytes());
        }

        Proto packedFloats(int field, float... v) {
            Proto p = new Proto();
            for (float x : v) {
                int bits = Float.floatToIntBits(x);
                for (int i = 0; i < 4; i++) {
                    p.out.write(bits >>> 8 * i);
                }
            }
            return bytes(field, p.toBytes());
        }

        private void tag(int field, int wireType) {
            raw((long) field << 3 | wireType);
        }

        private void raw(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) (v & 0x7F) | 0x80);
                v >>>= 7;
            }
            out.write((int) v);
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }

    @Test
    void packedDimsAndPackedFloatData() throws IOException {
        OnnxTensor t = OnnxTensor.parse(new Proto().packedVarints(1, 2, 3).varint(2, 1).packedFloats(4, 1, 2, 3, 4, 5, 6)
                .string(8, "x").toBytes());
        assertEquals("x", t.name());
        assertArrayEquals(new int[] {2, 3}, t.shape());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, t.data());
        assertEquals("x: FLOAT[2, 3]", t.toString());
    }

    @Test
    void unpackedDimsAndUnpackedFloatDataBetweenUnknownFields() throws IOException {
        Proto p = new Proto().varint(1, 3).fixed64(10, 9.5).varint(2, 1).varint(1, 1).varint(99, 12345)
                .string(100, "ignored");
        for (float v : new float[] {-1.5f, 0, 2.25f}) {
            p.fixed32(4, v);
        }
        OnnxTensor t = OnnxTensor.parse(p.varint(1000, 7).toBytes());
        assertArrayEquals(new int[] {3, 1}, t.shape());
        assertArrayEquals(new float[] {-1.5f, 0, 2.25f}, t.data());
    }

    @Test
    void rawDataIsLittleEndianAndWinsOverFloatData() throws IOException {
        byte[] raw = {0, 0, (byte) 0x80, 0x3F, 0, 0, 0, (byte) 0xC0}; // 1.0f, -2.0f
        OnnxTensor t = OnnxTensor.parse(new Proto().varint(1, 2).varint(2, 1).bytes(9, raw).toBytes());
        assertArrayEquals(new float[] {1, -2}, t.data());
        assertEquals(2, t.size());
    }

    @Test
    void scalarHasEmptyShapeAndOneValue() throws IOException {
        OnnxTensor t = OnnxTensor.parse(new Proto().varint(2, 1).fixed32(4, 7).toBytes());
        assertArrayEquals(new int[0], t.shape());
        assertArrayEquals(new float[] {7}, t.data());
    }

    @Test
    void nonFloatTensorsKeepTheirTypeAndNoData() throws IOException {
        OnnxTensor t = OnnxTensor.parse(new Proto().varint(1, 2).varint(2, 7).packedVarints(7, 5, 6).string(8, "i")
                .toBytes());
        assertEquals(7, t.dataType());
        assertEquals("INT64", OnnxTensor.typeName(t.dataType()));
        assertNull(t.data());
        assertEquals("i: INT64[2]", t.toString());
        OnnxTensor d = OnnxTensor.parse(new Proto().varint(1, 1).varint(2, 11).fixed64(10, 1.5).toBytes());
        assertEquals("DOUBLE", OnnxTensor.typeName(d.dataType()));
    }

    @Test
    void valueCountMustMatchTheShape() {
        IOException e = assertThrows(IOException.class,
                () -> OnnxTensor.parse(new Proto().varint(1, 2).varint(1, 2).varint(2, 1).packedFloats(4, 1, 2, 3)
                        .toBytes()));
        assertTrue(e.getMessage().contains("needs 4 values, has 3"), e.getMessage());
        e = assertThrows(IOException.class,
                () -> OnnxTensor.parse(new Proto().varint(1, 2).varint(2, 1).bytes(9, new byte[7]).toBytes()));
        assertTrue(e.getMessage().contains("needs 8 bytes of raw_data, has 7"), e.getMessage());
        assertThrows(IOException.class, () -> OnnxTensor.parse(new Proto().varint(1, -1).varint(2, 1).toBytes()));
        assertThrows(IOException.class, () -> OnnxTensor.parse(new Proto().packedVarints(1, 1 << 20, 1 << 20)
                .varint(2, 1).toBytes()));
    }

    private static Proto convNode() {
        return new Proto().string(1, "x").string(1, "W").string(1, "").string(2, "y").string(4, "ConvTranspose")
                .message(5, new Proto().string(1, "strides").packedVarints(8, 3, 2).varint(20, OnnxAttribute.INTS))
                .message(5, new Proto().string(1, "pads").varint(8, 1).varint(8, -2).varint(8, 1).varint(8, 2)
                        .varint(20, OnnxAttribute.INTS))
                .message(5, new Proto().string(1, "group").varint(3, 2).varint(20, OnnxAttribute.INT))
                .message(5, new Proto().string(1, "auto_pad").string(4, "SAME_UPPER").varint(20, OnnxAttribute.STRING))
                .message(5, new Proto().string(1, "alpha").fixed32(2, 0.5f).varint(20, OnnxAttribute.FLOAT))
                .message(5, new Proto().string(1, "scales").packedFloats(7, 1, 2).varint(20, OnnxAttribute.FLOATS))
                .message(5, new Proto().string(1, "modes").string(9, "a").string(9, "b")
                        .varint(20, OnnxAttribute.STRINGS));
    }

    @Test
    void nodeAttributesPackedAndUnpacked() throws IOException {
        byte[] model = new Proto().varint(1, 8).message(7, new Proto().message(1, convNode()).string(2, "g")
                .message(11, new Proto().string(1, "x").message(2, new Proto().varint(1, 1)))
                .message(11, new Proto().string(1, "W")).message(12, new Proto().string(1, "y"))).toBytes();
        OnnxGraph g = OnnxGraph.parse(model);
        assertEquals("g", g.name());
        assertEquals(List.of("x", "W"), g.inputs());
        assertEquals(List.of("y"), g.outputs());
        assertTrue(g.isSingleConv());
        OnnxNode n = g.nodes().get(0);
        assertEquals(List.of("x", "W", ""), n.inputs());
        assertArrayEquals(new long[] {3, 2}, n.ints("strides"));
        assertArrayEquals(new long[] {1, -2, 1, 2}, n.ints("pads"));
        assertNull(n.ints("dilations"));
        assertEquals(2, n.integer("group", 1));
        assertEquals(1, n.integer("missing", 1));
        assertEquals("SAME_UPPER", n.string("auto_pad"));
        assertEquals(0.5f, n.attributes().get("alpha").f());
        assertArrayEquals(new float[] {1, 2}, n.attributes().get("scales").floats());
        assertEquals(List.of("a", "b"), n.attributes().get("modes").strings());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> n.integer("strides", 1));
        assertTrue(e.getMessage().contains("strides is INTS, not INT"), e.getMessage());
        assertEquals("ConvTranspose(x, W, ) -> y [strides=[3, 2], pads=[1, -2, 1, 2], group=2, auto_pad=\"SAME_UPPER\","
                + " alpha=0.5, scales=[1.0, 2.0], modes=[a, b]]", n.toString());
    }

    @Test
    void otherDomainsAndOpTypesAreNotConv() throws IOException {
        OnnxNode integer = OnnxNode.decode(new ProtoReader(new Proto().string(4, "ConvInteger").toBytes()));
        OnnxNode custom = OnnxNode.decode(new ProtoReader(new Proto().string(4, "Conv").string(7, "com.microsoft")
                .toBytes()));
        OnnxNode onnx = OnnxNode.decode(new ProtoReader(new Proto().string(4, "Conv").string(7, "ai.onnx").toBytes()));
        assertEquals(List.of(false, false, true), List.of(integer.isConv(), custom.isConv(), onnx.isConv()));
    }

    @Test
    void brokenMessagesGiveClearIOExceptions() {
        assertMessage("claims 4294967295 bytes but only 0 remain (truncated file?)",
                new byte[] {0x3A, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x0F});
        assertMessage("truncated varint", new byte[] {0x08, (byte) 0x80});
        assertMessage("varint longer than 10 bytes", new byte[] {0x08, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1});
        assertMessage("wire type 7", new byte[] {0x0F});
        assertMessage("wire type 3", new byte[] {0x0B});
        assertMessage("invalid field number 0", new byte[] {0x00});
        assertMessage("needs 4 bytes but only 2 remain", new byte[] {0x25, 0, 0});
        assertMessage("no graph in the model", new byte[] {0x08, 0x07});
        assertMessage("no graph in the model", new byte[0]);
        assertMessage("field 7 has wire type 0, expected 2", new byte[] {0x38, 0x01});
    }

    private static void assertMessage(String expected, byte[] model) {
        IOException e = assertThrows(IOException.class, () -> OnnxGraph.parse(model));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void randomBytesNeverEscapeAsAnythingButIOException() {
        byte[] valid = new Proto().varint(1, 8).message(7, new Proto().message(1, convNode())
                .message(5, new Proto().varint(1, 2).varint(2, 1).packedFloats(4, 1, 2).string(8, "b"))
                .message(11, new Proto().string(1, "x"))).toBytes();
        Random random = new Random(42);
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            for (int i = 0; i < 20_000; i++) {
                byte[] b = valid.clone();
                if (i % 2 == 0) {
                    b = Arrays.copyOf(b, random.nextInt(b.length));
                }
                for (int k = random.nextInt(4); k > 0 && b.length > 0; k--) {
                    b[random.nextInt(b.length)] = (byte) random.nextInt(256);
                }
                if (i % 5 == 0) {
                    random.nextBytes(b);
                }
                try {
                    OnnxGraph.parse(b);
                    OnnxTensor.parse(b);
                } catch (IOException expected) {
                    // the only allowed failure
                }
            }
        });
    }

    @Test
    void fileErrorsNameTheFile(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("input_0.pb");
        Files.write(f, new byte[] {0x0A, 0x05, 0x01});
        IOException e = assertThrows(IOException.class, () -> OnnxTensor.read(f));
        assertTrue(e.getMessage().startsWith(f + ": offset 1: field 1 claims 5 bytes but only 1 remain"),
                e.getMessage());
    }
}
