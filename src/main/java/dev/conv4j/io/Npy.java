package dev.conv4j.io;

import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes NumPy {@code .npy} files: float32 and float64 (read as float32), either byte
 * order, C order, format versions 1.0, 2.0 and 3.0. Writes float32, little-endian, version 1.0
 * (2.0 when the header needs it). Anything else is refused with a message saying what the file holds.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npy() {
    }

    /** Reads a file into a new tensor, which the caller owns. */
    public static Tensor read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, file.toString());
        }
    }

    /** Reads one array from a stream into a new tensor; {@code name} appears in error messages. */
    public static Tensor read(InputStream in, String name) throws IOException {
        byte[] magic = in.readNBytes(8);
        if (magic.length < 8) {
            throw new IOException(name + ": not a .npy file (shorter than its 8-byte preamble)");
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (magic[i] != MAGIC[i]) {
                throw new IOException(name + ": not a .npy file (no \\x93NUMPY magic)");
            }
        }
        int major = magic[6] & 0xff;
        int headerLen;
        if (major == 1) {
            byte[] b = in.readNBytes(2);
            headerLen = (b[0] & 0xff) | (b[1] & 0xff) << 8;
        } else if (major == 2 || major == 3) {
            byte[] b = in.readNBytes(4);
            headerLen = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt();
        } else {
            throw new IOException(name + ": .npy format version " + major + "." + (magic[7] & 0xff) + " is not supported (1.0, 2.0, 3.0 are)");
        }
        if (headerLen < 0 || headerLen > 1 << 20) {
            throw new IOException(name + ": implausible .npy header length " + headerLen);
        }
        String header = new String(in.readNBytes(headerLen), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        String descr = group(DESCR, header, "descr", name);
        if ("True".equals(group(FORTRAN, header, "fortran_order", name))) {
            throw new IOException(name + ": Fortran-order arrays are not supported; save with np.ascontiguousarray");
        }
        int[] shape = parseShape(group(SHAPE, header, "shape", name), name);
        int itemSize;
        ByteOrder order;
        if (descr.length() != 3 || descr.charAt(1) != 'f' || (descr.charAt(2) != '4' && descr.charAt(2) != '8')) {
            throw new IOException(name + ": dtype '" + descr + "' is not supported (float32 '<f4' and float64 '<f8' are)");
        }
        itemSize = descr.charAt(2) - '0';
        char bo = descr.charAt(0);
        if (bo == '<' || bo == '|' || (bo == '=' && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN)) {
            order = ByteOrder.LITTLE_ENDIAN;
        } else if (bo == '>' || bo == '=') {
            order = ByteOrder.BIG_ENDIAN;
        } else {
            throw new IOException(name + ": unknown byte order in dtype '" + descr + "'");
        }
        long count = 1;
        for (int d : shape) {
            count *= d;
        }
        if (count * itemSize > Integer.MAX_VALUE) {
            throw new IOException(name + ": array of " + count + " elements is too large");
        }
        byte[] data = in.readNBytes((int) (count * itemSize));
        if (data.length != count * itemSize) {
            throw new IOException(name + ": file ends after " + data.length + " of " + count * itemSize + " data bytes");
        }
        ByteBuffer bb = ByteBuffer.wrap(data).order(order);
        float[] values = new float[(int) count];
        for (int i = 0; i < values.length; i++) {
            values[i] = itemSize == 4 ? bb.getFloat() : (float) bb.getDouble();
        }
        return Tensor.of(values, shape);
    }

    /** Writes a tensor as a float32 little-endian C-order .npy file (see {@link #write(OutputStream, Tensor)}). */
    public static void write(Path file, Tensor t) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (OutputStream out = Files.newOutputStream(file)) {
            write(out, t);
        }
    }

    /**
     * Writes a tensor to a stream as a float32 little-endian C-order .npy array of its logical shape: a
     * tensor in another layout than NCHW is written in (N, C, H, W) order, as NumPy and PyTorch read it.
     */
    public static void write(OutputStream out, Tensor t) throws IOException {
        int[] shape = t.shape();
        StringBuilder s = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            s.append(shape[i]).append(shape.length == 1 ? "," : i + 1 < shape.length ? ", " : "");
        }
        s.append(")");
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + s + ", }";
        int preamble = 10;
        int total = preamble + dict.length() + 1;
        int padded = (total + 63) / 64 * 64;
        boolean v2 = padded - preamble > 0xffff;
        if (v2) {
            preamble = 12;
            padded = (preamble + dict.length() + 1 + 63) / 64 * 64;
        }
        int headerLen = padded - preamble;
        StringBuilder header = new StringBuilder(dict);
        while (header.length() < headerLen - 1) {
            header.append(' ');
        }
        header.append('\n');
        ByteBuffer pre = ByteBuffer.allocate(preamble).order(ByteOrder.LITTLE_ENDIAN);
        pre.put(MAGIC).put((byte) (v2 ? 2 : 1)).put((byte) 0);
        if (v2) {
            pre.putInt(headerLen);
        } else {
            pre.putShort((short) headerLen);
        }
        out.write(pre.array());
        out.write(header.toString().getBytes(StandardCharsets.ISO_8859_1));
        float[] values;
        if (t.layout() == Layout.NCHW) {
            values = t.toArray();
        } else {
            try (Tensor logical = t.toLayout(Layout.NCHW)) {
                values = logical.toArray();
            }
        }
        ByteBuffer data = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        data.asFloatBuffer().put(values);
        out.write(data.array());
    }

    private static String group(Pattern p, String header, String key, String name) throws IOException {
        Matcher m = p.matcher(header);
        if (!m.find()) {
            throw new IOException(name + ": .npy header has no '" + key + "': " + header.trim());
        }
        return m.group(1);
    }

    private static int[] parseShape(String s, String name) throws IOException {
        List<Integer> dims = new ArrayList<>();
        for (String part : s.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            try {
                dims.add(Integer.parseInt(p.endsWith("L") ? p.substring(0, p.length() - 1) : p));
            } catch (NumberFormatException e) {
                throw new IOException(name + ": bad shape (" + s + ")");
            }
        }
        int[] shape = new int[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = dims.get(i);
            if (shape[i] < 1) {
                throw new IOException(name + ": shape (" + s + ") has an empty dimension, which conv4j tensors cannot hold");
            }
        }
        return shape;
    }
}
