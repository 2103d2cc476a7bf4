package dev.conv4j.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {
    /** An IDX file of unsigned bytes with the given dimensions and data. */
    static byte[] idx(int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.put((byte) 0).put((byte) 0).put((byte) 0x08).put((byte) dims.length);
        for (int d : dims) {
            b.putInt(d);
        }
        return b.put(data).array();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream out = new GZIPOutputStream(bytes)) {
            out.write(raw);
        }
        return bytes.toByteArray();
    }

    /** Writes a tiny MNIST-style pair of files, {@code prefix-images-idx3-ubyte} and labels, gzipped or not. */
    static void writePair(Path dir, String prefix, int count, int rows, int cols, boolean gz) throws IOException {
        byte[] pixels = new byte[count * rows * cols], labels = new byte[count];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) (i * 7);
        }
        for (int i = 0; i < count; i++) {
            labels[i] = (byte) (i % 10);
        }
        String ext = gz ? ".gz" : "";
        byte[] img = idx(new int[] {count, rows, cols}, pixels), lab = idx(new int[] {count}, labels);
        Files.write(dir.resolve(prefix + "-images-idx3-ubyte" + ext), gz ? gzip(img) : img);
        Files.write(dir.resolve(prefix + "-labels-idx1-ubyte" + ext), gz ? gzip(lab) : lab);
    }

    @Test
    void readsPlainAndGzippedFilesAlike(@TempDir Path dir) throws IOException {
        byte[] data = {0, 1, (byte) 200, (byte) 255, 9, 10};
        byte[] raw = idx(new int[] {2, 3}, data);
        Files.write(dir.resolve("plain"), raw);
        // the content decides, not the name
        Files.write(dir.resolve("zipped-without-gz-suffix"), gzip(raw));
        for (String name : new String[] {"plain", "zipped-without-gz-suffix"}) {
            Idx.Array a = Idx.read(dir.resolve(name));
            assertArrayEquals(new int[] {2, 3}, a.dims, name);
            assertArrayEquals(data, a.data, name);
            assertEquals(255, a.data[3] & 0xff, "values are unsigned");
        }
    }

    @Test
    void refusesWhatIsNotAnIdxFileOfBytes(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("text"), "hello, world");
        IOException e = assertThrows(IOException.class, () -> Idx.read(dir.resolve("text")));
        assertTrue(e.getMessage().contains("not an IDX file"), e.getMessage());

        byte[] floats = idx(new int[] {1}, new byte[4]);
        floats[2] = 0x0D;
        Files.write(dir.resolve("floats"), floats);
        e = assertThrows(IOException.class, () -> Idx.read(dir.resolve("floats")));
        assertTrue(e.getMessage().contains("0xd") && e.getMessage().contains("not supported"), e.getMessage());

        byte[] whole = idx(new int[] {4, 4}, new byte[16]);
        Files.write(dir.resolve("cut.gz"), gzip(java.util.Arrays.copyOf(whole, whole.length - 3)));
        e = assertThrows(IOException.class, () -> Idx.read(dir.resolve("cut.gz")));
        assertTrue(e.getMessage().contains("13 of 16"), e.getMessage());
    }

    @Test
    void datasetReadsEitherFileNaming(@TempDir Path dir) throws IOException {
        writePair(dir, "train", 12, 4, 5, true);
        writePair(dir, "t10k", 3, 4, 5, false);
        assertTrue(FashionMnist.isPresent(dir));
        Dataset.Split s = FashionMnist.load(dir);
        assertEquals(12, s.train().size());
        assertEquals(3, s.test().size());
        assertEquals(4, s.train().height());
        assertEquals(5, s.train().width());
        assertEquals(7, s.train().label(7));

        Path dotted = dir.resolve("dotted");
        Files.createDirectories(dotted);
        Files.move(dir.resolve("t10k-images-idx3-ubyte"), dotted.resolve("t10k-images.idx3-ubyte"));
        Files.move(dir.resolve("t10k-labels-idx1-ubyte"), dotted.resolve("t10k-labels.idx1-ubyte"));
        assertEquals(3, Dataset.readIdx(dotted, "t10k", FashionMnist.CLASSES).size());
        assertTrue(!FashionMnist.isPresent(dir), "the test files are gone from the first folder");
    }

    @Test
    void mismatchedImagesAndLabelsAreRefused(@TempDir Path dir) throws IOException {
        writePair(dir, "train", 6, 2, 2, false);
        Files.write(dir.resolve("train-labels-idx1-ubyte"), idx(new int[] {5}, new byte[5]));
        IOException e = assertThrows(IOException.class, () -> Dataset.readIdx(dir, "train", FashionMnist.CLASSES));
        assertTrue(e.getMessage().contains("expected 6 labels"), e.getMessage());

        Files.write(dir.resolve("train-labels-idx1-ubyte"), idx(new int[] {6}, new byte[] {0, 1, 2, 3, 4, 10}));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> Dataset.readIdx(dir, "train", FashionMnist.CLASSES));
        assertTrue(bad.getMessage().contains("label 10 of image 5"), bad.getMessage());
    }

    @Test
    void batchesAreNormalizedInTheOrderAsked() {
        byte[] pixels = {0, (byte) 255, 51, 102};
        Dataset d = new Dataset(pixels, new byte[] {1, 0}, 1, 2, List.of("a", "b"));
        float[] images = new float[4];
        int[] labels = new int[2];
        d.batch(new int[] {1, 0}, 0, 2, 0.5f, 0.25f, images, labels);
        assertArrayEquals(new float[] {(0.2f - 0.5f) / 0.25f, (0.4f - 0.5f) / 0.25f, -2f, 2f}, images, 1e-5f);
        assertArrayEquals(new int[] {0, 1}, labels);
        assertEquals(1, d.first(1).size());
    }
}
