package dev.conv4j.cli.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The protocol buffers wire format, read field by field from a byte array. Every length is checked
 * against the bytes left, so a truncated or garbage file ends in an {@link IOException} naming the
 * offset, never in a huge allocation or a read past the end.
 */
final class ProtoReader {
    static final int VARINT = 0, FIXED64 = 1, LEN = 2, FIXED32 = 5;

    private final byte[] buf;
    private final int end;
    private int pos;
    private int field, wireType;

    ProtoReader(byte[] buf) {
        this(buf, 0, buf.length);
    }

    private ProtoReader(byte[] buf, int pos, int end) {
        this.buf = buf;
        this.pos = pos;
        this.end = end;
    }

    /** Reads a whole file; the caller's decoder errors get its name in front. */
    static <T> T decodeFile(Path file, Decoder<T> decoder) throws IOException {
        if (Files.size(file) > Integer.MAX_VALUE - 16) {
            throw new IOException(file + ": too large for a protobuf message (" + Files.size(file) + " bytes)");
        }
        try {
            return decoder.decode(new ProtoReader(Files.readAllBytes(file)));
        } catch (IOException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Decodes one message. */
    interface Decoder<T> {
        T decode(ProtoReader r) throws IOException;
    }

    /** Moves to the next field; false at the end of the message. */
    boolean next() throws IOException {
        if (pos >= end) {
            return false;
        }
        int at = pos;
        long tag = varint();
        field = (int) Math.min(tag >>> 3, Integer.MAX_VALUE);
        wireType = (int) (tag & 7);
        if (field == 0 || tag >>> 3 > 0x1FFFFFFF) {
            throw error(at, "invalid field number " + (tag >>> 3) + " (not a protobuf message?)");
        }
        if (wireType != VARINT && wireType != FIXED64 && wireType != LEN && wireType != FIXED32) {
            // 3 and 4 are the groups of proto2, which ONNX never uses; 6 and 7 do not exist
            throw error(at, "field " + field + " has wire type " + wireType + " (not an ONNX message?)");
        }
        return true;
    }

    int field() {
        return field;
    }

    long int64() throws IOException {
        expect(VARINT);
        return varint();
    }

    float float32() throws IOException {
        expect(FIXED32);
        float f = Float.intBitsToFloat(littleEndianInt(pos));
        pos += 4;
        return f;
    }

    byte[] bytes() throws IOException {
        int n = length();
        byte[] b = Arrays.copyOfRange(buf, pos, pos + n);
        pos += n;
        return b;
    }

    String string() throws IOException {
        int n = length();
        String s = new String(buf, pos, n, StandardCharsets.UTF_8);
        pos += n;
        return s;
    }

    /** The current field's embedded message. */
    ProtoReader message() throws IOException {
        int n = length();
        ProtoReader sub = new ProtoReader(buf, pos, pos + n);
        pos += n;
        return sub;
    }

    /** A repeated int64: writers may send it packed (one length-delimited run) or one value per field. */
    void int64s(Longs out) throws IOException {
        if (wireType == VARINT) {
            out.add(varint());
            return;
        }
        ProtoReader packed = message();
        while (packed.pos < packed.end) {
            out.add(packed.varint());
        }
    }

    /** A repeated float, packed or one fixed32 per field. */
    void floats(Floats out) throws IOException {
        if (wireType == FIXED32) {
            out.add(float32());
            return;
        }
        int n = length();
        if (n % 4 != 0) {
            throw error(pos, "packed floats of field " + field + " take " + n + " bytes, not a multiple of 4");
        }
        for (int i = 0; i < n; i += 4) {
            out.add(Float.intBitsToFloat(littleEndianInt(pos + i)));
        }
        pos += n;
    }

    /** Skips the current field, whatever its type. */
    void skip() throws IOException {
        switch (wireType) {
            case VARINT -> varint();
            case FIXED64 -> pos += need(8);
            case FIXED32 -> pos += need(4);
            default -> {
                int n = length(); // not pos += length(): that adds n to pos as it was before length() moved it
                pos += n;
            }
        }
    }

    private void expect(int type) throws IOException {
        if (wireType != type) {
            throw error(pos, "field " + field + " has wire type " + wireType + ", expected " + type);
        }
    }

    /** The length of a length-delimited field, checked against what is left. */
    private int length() throws IOException {
        expect(LEN);
        int at = pos;
        long n = varint();
        if (n < 0 || n > end - pos) {
            throw error(at, "field " + field + " claims " + n + " bytes but only " + (end - pos)
                    + " remain (truncated file?)");
        }
        return (int) n;
    }

    private int need(int n) throws IOException {
        if (end - pos < n) {
            throw error(pos, "field " + field + " needs " + n + " bytes but only " + (end - pos)
                    + " remain (truncated file?)");
        }
        return n;
    }

    private long varint() throws IOException {
        int at = pos;
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) {
                throw error(at, "truncated varint");
            }
            byte b = buf[pos++];
            v |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return v;
            }
        }
        throw error(at, "varint longer than 10 bytes");
    }

    private int littleEndianInt(int at) throws IOException {
        if (end - at < 4) {
            throw error(at, "field " + field + " needs 4 bytes but only " + (end - at) + " remain (truncated file?)");
        }
        return ByteBuffer.wrap(buf, at, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    private static IOException error(int offset, String message) {
        return new IOException("offset " + offset + ": " + message);
    }

    /** A growing long[]: unpacked repeated fields arrive one value at a time. */
    static final class Longs {
        private long[] a = new long[8];
        private int n;

        void add(long v) {
            if (n == a.length) {
                a = Arrays.copyOf(a, 2 * n);
            }
            a[n++] = v;
        }

        long[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }

    /** A growing float[]. */
    static final class Floats {
        private float[] a = new float[8];
        private int n;

        void add(float v) {
            if (n == a.length) {
                a = Arrays.copyOf(a, 2 * n);
            }
            a[n++] = v;
        }

        int size() {
            return n;
        }

        float[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}
