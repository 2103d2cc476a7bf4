package dev.conv4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Layout;
import dev.conv4j.Tensor;
import dev.conv4j.TestData;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class NpyTest {
    @Test
    void readsFilesWrittenByNumpy() throws IOException {
        Path x = TestData.goldenRoot().resolve("combo_all/x.npy");
        try (Tensor t = Npy.read(x)) {
            assertArrayEquals(new int[] {2, 6, 11, 9}, t.shape());
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Npy.write(out, t);
            assertArrayEquals(Files.readAllBytes(x), out.toByteArray(), "a float32 array must round-trip byte for byte");
        }
    }

    @Test
    void writesOtherLayoutsInLogicalOrder() throws IOException {
        Path x = TestData.goldenRoot().resolve("combo_all/x.npy");
        try (Tensor t = Npy.read(x)) {
            for (Layout l : Layout.values()) {
                try (Tensor tl = t.toLayout(l)) {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    Npy.write(out, tl);
                    assertArrayEquals(Files.readAllBytes(x), out.toByteArray(), l + " must be written as its logical NCHW array");
                }
            }
        }
    }

    @Test
    void readsFloat64AndBigEndian() throws IOException {
        assertArrayEquals(new float[] {1.5f, -2f}, read(header("<f8", "(2,)"), 8, ByteOrder.LITTLE_ENDIAN, 1.5, -2).toArray());
        assertArrayEquals(new float[] {1.5f, -2f}, read(header(">f4", "(2,)"), 4, ByteOrder.BIG_ENDIAN, 1.5, -2).toArray());
    }

    @Test
    void refusesWhatItCannotRead() {
        IOException e = assertThrows(IOException.class, () -> read(header("<i4", "(2,)"), 4, ByteOrder.LITTLE_ENDIAN, 1, 2));
        assertTrue(e.getMessage().contains("<i4"), e.getMessage());
        e = assertThrows(IOException.class, () -> Npy.read(new ByteArrayInputStream("hello world".getBytes()), "h"));
        assertTrue(e.getMessage().contains("not a .npy"), e.getMessage());
        String fortran = "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }";
        e = assertThrows(IOException.class, () -> read(fortran, 4, ByteOrder.LITTLE_ENDIAN, 1, 2));
        assertTrue(e.getMessage().contains("Fortran"), e.getMessage());
    }

    private static String header(String descr, String shape) {
        return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    }

    private static Tensor read(String header, int item, ByteOrder order, double... values) throws IOException {
        byte[] h = (header + "\n").getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(10 + h.length + item * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) h.length).put(h);
        b.order(order);
        for (double v : values) {
            if (item == 4) {
                b.putFloat((float) v);
            } else {
                b.putDouble(v);
            }
        }
        return Npy.read(new ByteArrayInputStream(b.array()), "test");
    }
}
