package dev.conv4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conv4j.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Round trips of files written by NumPy ({@code src/test/resources/npy}, made by its
 * {@code make_files.py}): every format version, float32 and float64, either byte order.
 */
class NpyNumpyFilesTest {

    /** The values make_files.py writes: i / 4 - 2 in C order. */
    private static float[] expected(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i / 4f - 2;
        }
        return v;
    }

    private static Path resource(String name) {
        try {
            return Path.of(NpyNumpyFilesTest.class.getResource("/npy/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new AssertionError("test resource npy/" + name + " is missing", e);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "f4_v1.npy, 2x3x4",
        "f4_v2.npy, 2x3x4",
        "f4_v3.npy, 3x2",
        "f8_v1.npy, 2x3x4",
        "f8_v2.npy, 1x2x3x4",
        "f4_big_endian.npy, 2x5",
        "f4_vector.npy, 5",
    })
    void readsWhatNumpyWrote(String file, String shape) throws IOException {
        int[] dims = java.util.Arrays.stream(shape.split("x")).mapToInt(Integer::parseInt).toArray();
        try (Tensor t = Npy.read(resource(file))) {
            assertArrayEquals(dims, t.shape(), file);
            assertArrayEquals(expected((int) t.size()), t.toArray(), file);
        }
    }

    @Test
    void float64IsRoundedToTheNearestFloat32() throws IOException {
        try (Tensor t = Npy.read(resource("f8_rounding.npy"))) {
            float[] v = t.toArray();
            assertArrayEquals(new float[] {(float) 0.1, (float) (1.0 / 3), (float) 1e-40, Float.POSITIVE_INFINITY, -0f}, v);
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(v[4]), "the sign of -0.0 survives");
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"f4_v1.npy", "f4_vector.npy", "f4_scalar.npy"})
    void float32FilesRoundTripByteForByte(String file) throws IOException {
        Path p = resource(file);
        try (Tensor t = Npy.read(p)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Npy.write(out, t);
            assertArrayEquals(Files.readAllBytes(p), out.toByteArray(), "Npy.write must write what NumPy writes");
        }
    }

    @Test
    void newerFormatsAndFloat64ComeBackAsFloat32Version1(@TempDir Path dir) throws IOException {
        for (String file : new String[] {"f4_v2.npy", "f8_v2.npy", "f4_v3.npy", "f4_big_endian.npy"}) {
            try (Tensor t = Npy.read(resource(file))) {
                Path copy = dir.resolve(file);
                Npy.write(copy, t);
                byte[] bytes = Files.readAllBytes(copy);
                assertEquals(1, bytes[6], file + ": small headers are written as version 1.0");
                assertTrue(new String(bytes, StandardCharsets.ISO_8859_1).contains("'descr': '<f4'"), file);
                try (Tensor back = Npy.read(copy)) {
                    assertArrayEquals(t.shape(), back.shape(), file);
                    assertArrayEquals(t.toArray(), back.toArray(), file);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "i4.npy, '<i4'",
        "f2.npy, '<f2'",
        "c8.npy, '<c8'",
        "object.npy, '|O'",
        "fortran.npy, Fortran",
        "empty.npy, empty dimension",
    })
    void refusesWhatItDoesNotSupportWithAClearMessage(String file, String mentions) {
        IOException e = assertThrows(IOException.class, () -> Npy.read(resource(file)).close());
        assertTrue(e.getMessage().contains(mentions), e.getMessage());
        assertTrue(e.getMessage().contains(file), "the message names the file: " + e.getMessage());
    }

    @Test
    void aTruncatedFileSaysHowMuchIsMissing(@TempDir Path dir) throws IOException {
        byte[] full = Files.readAllBytes(resource("f4_v1.npy"));
        Path cut = dir.resolve("cut.npy");
        Files.write(cut, java.util.Arrays.copyOf(full, full.length - 5));
        IOException e = assertThrows(IOException.class, () -> Npy.read(cut).close());
        assertTrue(e.getMessage().contains("data bytes"), e.getMessage());
    }

    /** NumPy reads what Npy writes; runs only where a python3 with numpy is on the PATH. */
    @Test
    void numpyReadsWhatNpyWrites(@TempDir Path dir) throws Exception {
        assumeTrue(run(dir, "python3", "-c", "import numpy") == 0, "python3 with numpy is not available");
        float[] v = {1.5f, -2.25f, 3e-8f, Float.MAX_VALUE, -0f, 7f};
        try (Tensor t = Tensor.of(v, 1, 2, 3)) {
            Npy.write(dir.resolve("t.npy"), t);
        }
        String check = "import numpy as np; a = np.load('t.npy');"
                + " assert a.dtype == np.float32 and a.shape == (1, 2, 3), (a.dtype, a.shape);"
                + " assert a.ravel().tolist() == np.array([1.5, -2.25, 3e-8, 3.4028234663852886e38, -0.0, 7],"
                + " dtype=np.float32).tolist(), a";
        assertEquals(0, run(dir, "python3", "-c", check), "numpy could not read the file back");
    }

    private static int run(Path dir, String... command) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            return -1;
        }
        try (InputStream in = p.getInputStream()) {
            String out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return -1;
            }
            if (p.exitValue() != 0 && !out.contains("No module named")) {
                System.err.println(out);
            }
            return p.exitValue();
        }
    }
}
