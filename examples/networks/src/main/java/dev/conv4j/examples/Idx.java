package dev.conv4j.examples;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * Reads IDX files, the format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a
 * type byte, the number of dimensions, then each dimension as an int32) followed by the data.
 * Only unsigned bytes (type 0x08), the type of every MNIST-style image and label file, are
 * supported. Gzip-compressed files are recognized by their content, whatever their name.
 */
public final class Idx {
    private static final int UNSIGNED_BYTE = 0x08;

    /** An IDX array: its dimensions and its bytes in row-major order. */
    public static final class Array {
        /** The dimensions, outermost first (images: count, rows, columns; labels: count). */
        public final int[] dims;
        /** The values, each an unsigned byte ({@code data[i] & 0xff}). */
        public final byte[] data;

        Array(int[] dims, byte[] data) {
            this.dims = dims;
            this.data = data;
        }
    }

    private Idx() {
    }

    /** Reads an IDX file of unsigned bytes, gzip-compressed or not. */
    public static Array read(Path file) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            raw.mark(2);
            int b0 = raw.read(), b1 = raw.read();
            raw.reset();
            // 0x1f 0x8b starts every gzip stream; an IDX file starts with two zero bytes
            InputStream in = b0 == 0x1f && b1 == 0x8b ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16)) : raw;
            return read(in, file.toString());
        }
    }

    /** Reads an uncompressed IDX array from a stream; {@code name} appears in error messages. */
    public static Array read(InputStream stream, String name) throws IOException {
        DataInputStream in = new DataInputStream(stream);
        byte[] magic = in.readNBytes(4);
        if (magic.length < 4 || magic[0] != 0 || magic[1] != 0) {
            throw new IOException(name + ": not an IDX file (it must start with two zero bytes)");
        }
        int type = magic[2] & 0xff, rank = magic[3] & 0xff;
        if (type != UNSIGNED_BYTE) {
            throw new IOException(name + ": IDX element type 0x" + Integer.toHexString(type)
                    + " is not supported (only unsigned bytes, 0x08, as in MNIST and Fashion-MNIST)");
        }
        if (rank < 1) {
            throw new IOException(name + ": IDX file has no dimensions");
        }
        int[] dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++) {
            dims[i] = in.readInt();
            if (dims[i] < 1) {
                throw new IOException(name + ": IDX dimension " + i + " is " + dims[i]);
            }
            count *= dims[i];
            if (count > Integer.MAX_VALUE - 8) {
                throw new IOException(name + ": IDX array of dimensions " + Arrays.toString(dims) + " is too large");
            }
        }
        byte[] data = in.readNBytes((int) count);
        if (data.length != count) {
            throw new IOException(name + ": file ends after " + data.length + " of " + count + " data bytes (dimensions "
                    + Arrays.toString(dims) + ")");
        }
        return new Array(dims, data);
    }
}
