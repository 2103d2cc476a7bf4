package dev.conv4j.cli.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reader on ONNX's conformance data, the Debian package {@code libonnx-testdata} (or
 * {@code -Dconv4j.onnx.testdata=DIR}). The expected values were read with Python's
 * {@code onnx.numpy_helper} (Debian {@code python3-onnx} 1.12).
 */
class OnnxTestDataTest {
    private static final String PROPERTY = "conv4j.onnx.testdata";

    /** The data folder; skips the test when absent, fails under {@code CI}. */
    static Path root() {
        Path p = Path.of(System.getProperty(PROPERTY, "/usr/share/libonnx-testdata/data"));
        if (!Files.isDirectory(p) && System.getenv("CI") != null) {
            throw new AssertionError("CI is set but the ONNX test data are not at " + p
                    + ": install the Debian package libonnx-testdata (or -D" + PROPERTY + "=DIR)");
        }
        assumeTrue(Files.isDirectory(p), "no ONNX test data at " + p + " (Debian package libonnx-testdata)");
        return p;
    }

    private static OnnxTestCase load(String test) throws IOException {
        return OnnxTestCase.load(root().resolve(test));
    }

    @Test
    void findsTheFloatConvTestsAndNoQuantizedOnes() throws IOException {
        List<OnnxTestCase.Found> node = OnnxTestCase.find(root().resolve("node"));
        List<OnnxTestCase.Found> pytorch = OnnxTestCase.find(root().resolve("pytorch-converted"));
        assertEquals(List.of("test_basic_conv_with_padding", "test_basic_conv_without_padding",
                "test_conv_with_autopad_same", "test_conv_with_strides_and_asymmetric_padding",
                "test_conv_with_strides_no_padding", "test_conv_with_strides_padding", "test_convtranspose",
                "test_convtranspose_1d", "test_convtranspose_3d", "test_convtranspose_autopad_same",
                "test_convtranspose_dilations", "test_convtranspose_kernel_shape", "test_convtranspose_output_shape",
                "test_convtranspose_pad", "test_convtranspose_pads", "test_convtranspose_with_kernel"),
                node.stream().map(OnnxTestCase.Found::name).toList());
        assertEquals(28, pytorch.size());
        assertEquals(44, node.size() + pytorch.size());
        assertEquals(26, pytorch.stream().filter(f -> f.opTypes().equals(List.of("Conv"))).count());
        assertEquals(List.of("test_ConvTranspose2d", "test_ConvTranspose2d_no_bias"), pytorch.stream()
                .filter(f -> f.opTypes().equals(List.of("ConvTranspose"))).map(OnnxTestCase.Found::name).toList());
        // the whole tree (1072 models) adds pytorch-operator's two; every one is a single node
        List<OnnxTestCase.Found> all = OnnxTestCase.find(root());
        assertEquals(46, all.size());
        assertTrue(all.stream().allMatch(OnnxTestCase.Found::isSingleConv));
        assertTrue(all.stream().noneMatch(f -> f.name().contains("integer") || f.name().contains("qlinear")));
        assertTrue(Files.isDirectory(root().resolve("node/test_convinteger_with_padding")));
    }

    @Test
    void everyFoundTestLoadsAsFloatTensorsOfConsistentShape() throws IOException {
        for (OnnxTestCase.Found f : OnnxTestCase.find(root())) {
            OnnxTestCase c = f.load();
            OnnxNode n = c.node();
            OnnxTensor x = c.tensor(n.inputs().get(0)), w = c.tensor(n.inputs().get(1));
            OnnxTensor y = c.tensor(n.outputs().get(0));
            for (OnnxTensor t : List.of(x, w, y)) {
                assertTrue(t.isFloat(), c.name() + " " + t);
                assertEquals(t.size(), t.data().length, c.name() + " " + t);
            }
            assertEquals(x.shape().length, w.shape().length, c.name());
            assertEquals(x.shape().length, y.shape().length, c.name());
            if (n.inputs().size() > 2) {
                assertArrayEquals(new int[] {y.shape()[1]}, c.tensor(n.inputs().get(2)).shape(), c.name());
            }
        }
    }

    @Test
    void attributesOfNamedTests() throws IOException {
        OnnxNode pad = load("node/test_convtranspose_pad").node();
        assertEquals("ConvTranspose", pad.opType());
        assertEquals("", pad.domain());
        assertArrayEquals(new long[] {3, 2}, pad.ints("strides"));
        assertArrayEquals(new long[] {1, 1}, pad.ints("output_padding"));
        assertNull(pad.ints("pads"));
        assertEquals(1, pad.integer("group", 1));

        OnnxNode asym = load("node/test_conv_with_strides_and_asymmetric_padding").node();
        assertArrayEquals(new long[] {1, 0, 1, 0}, asym.ints("pads"));
        assertArrayEquals(new long[] {2, 2}, asym.ints("strides"));
        assertArrayEquals(new long[] {3, 3}, asym.ints("kernel_shape"));

        assertEquals("SAME_LOWER", load("node/test_conv_with_autopad_same").node().string("auto_pad"));
        assertEquals("SAME_UPPER", load("node/test_convtranspose_autopad_same").node().string("auto_pad"));
        OnnxNode shape = load("node/test_convtranspose_kernel_shape").node();
        assertArrayEquals(new long[] {10, 8}, shape.ints("output_shape"));
        assertArrayEquals(new long[] {1, 1}, shape.ints("output_padding"));
        assertArrayEquals(new long[] {1, 2, 1, 2}, load("node/test_convtranspose_pads").node().ints("pads"));
        assertEquals(2, load("pytorch-converted/test_Conv1d_groups").node().integer("group", 1));
        assertEquals(4, load("pytorch-converted/test_Conv2d_depthwise").node().integer("group", 1));
        assertArrayEquals(new long[] {2, 3, 4}, load("pytorch-converted/test_Conv3d").node().ints("kernel_shape"));
        assertTrue(load("node/test_convtranspose").node().attributes().isEmpty());
    }

    @Test
    void nodeTestTensorsComeFromTheDataSet() throws IOException {
        OnnxTestCase c = load("node/test_conv_with_strides_and_asymmetric_padding");
        assertEquals("test_conv_with_strides_and_asymmetric_padding", c.name());
        assertEquals(List.of("x", "W"), c.graph().dataInputs());
        OnnxTensor x = c.tensor("x"), w = c.tensor("W"), y = c.tensor("y");
        assertArrayEquals(new int[] {1, 1, 7, 5}, x.shape());
        assertEquals(0f, x.data()[0]);
        assertEquals(1f, x.data()[1]);
        assertEquals(34f, x.data()[34]);
        assertEquals(595, sum(x));
        assertArrayEquals(new int[] {1, 1, 3, 3}, w.shape());
        assertEquals(9, sum(w));
        assertArrayEquals(new int[] {1, 1, 4, 2}, y.shape());
        assertArrayEquals(new float[] {21, 33}, Arrays.copyOf(y.data(), 2));
        assertEquals(183f, y.data()[7]);
        assertEquals(1020, sum(y));
        assertSame(y, c.outputs().get(0));
        assertNull(c.tensor("nothing"));

        OnnxTestCase t3 = load("node/test_convtranspose_3d");
        assertArrayEquals(new int[] {1, 1, 3, 4, 5}, t3.tensor("X").shape());
        assertArrayEquals(new int[] {1, 2, 3, 3, 3}, t3.tensor("W").shape());
        assertArrayEquals(new int[] {1, 2, 5, 6, 7}, t3.tensor("Y").shape());
        assertEquals(95580, sum(t3.tensor("Y")));
    }

    @Test
    void pytorchTestsTakeWeightsFromInitializersListedAsGraphInputs() throws IOException {
        OnnxTestCase c = load("pytorch-converted/test_Conv2d");
        assertEquals(List.of("0", "1", "2"), c.graph().inputs());
        assertEquals(List.of("0"), c.graph().dataInputs());
        assertEquals(List.of("3"), c.graph().outputs());
        assertEquals(List.of("0", "1", "2"), c.inputs().stream().map(OnnxTensor::name).toList());
        OnnxTensor x = c.tensor("0"), w = c.tensor("1"), b = c.tensor("2"), y = c.tensor("3");
        assertArrayEquals(new int[] {2, 3, 7, 5}, x.shape());
        assertEquals(-0.982118546962738f, x.data()[0]);
        assertEquals(0.5474972724914551f, x.data()[1]);
        assertEquals(-0.605699360370636f, x.data()[x.size() - 1]);
        assertEquals(13.567937267012894, sum(x), 1e-5);
        assertArrayEquals(new int[] {4, 3, 3, 2}, w.shape());
        assertEquals(-0.1429409235715866f, w.data()[0]);
        assertEquals(-0.10345208644866943f, w.data()[w.size() - 1]);
        assertArrayEquals(new int[] {4}, b.shape());
        assertEquals(-0.17454391717910767f, b.data()[0]);
        assertEquals(0.18244947493076324f, b.data()[3]);
        assertArrayEquals(new int[] {2, 4, 5, 4}, y.shape());
        assertEquals(-0.37131041288375854f, y.data()[0]);
        assertEquals(-1.209028959274292f, y.data()[1]);
        assertEquals(-0.0016031116247177124f, y.data()[y.size() - 1]);
        assertEquals(-5.3818181194365025, sum(y), 1e-5);

        OnnxTestCase noBias = load("pytorch-converted/test_Conv3d_no_bias");
        assertEquals(List.of("0", "1"), noBias.node().inputs());
        assertArrayEquals(new int[] {4, 3, 2, 3, 4}, noBias.tensor("1").shape());
        assertArrayEquals(new int[] {2, 4, 2, 2, 2}, noBias.tensor("2").shape());
        assertEquals(-0.38317418098449707f, noBias.tensor("2").data()[63]);
    }

    @Test
    void brokenCopiesOfARealTestFailWithTheFileName(@TempDir Path tmp) throws IOException {
        Path src = root().resolve("node/test_conv_with_strides_and_asymmetric_padding");
        Path dir = tmp.resolve("test_copy");
        Files.createDirectories(dir.resolve("test_data_set_0"));
        byte[] model = Files.readAllBytes(src.resolve("model.onnx"));
        for (String f : List.of("input_0.pb", "input_1.pb", "output_0.pb")) {
            Files.copy(src.resolve("test_data_set_0").resolve(f), dir.resolve("test_data_set_0").resolve(f));
        }
        Files.write(dir.resolve("model.onnx"), model);
        assertEquals(595, sum(OnnxTestCase.load(dir).tensor("x")));

        Files.write(dir.resolve("model.onnx"), Arrays.copyOf(model, model.length / 2));
        IOException e = assertThrows(IOException.class, () -> OnnxTestCase.load(dir));
        assertTrue(e.getMessage().contains("model.onnx: offset") && e.getMessage().contains("truncated file?"),
                e.getMessage());
        for (int n = 0; n < model.length; n++) {
            try {
                OnnxGraph.parse(Arrays.copyOf(model, n));
            } catch (IOException expected) {
                // every prefix either parses (cut between top-level fields) or says why not
            }
        }

        Files.write(dir.resolve("model.onnx"), model);
        Path input = dir.resolve("test_data_set_0/input_0.pb");
        byte[] x = Files.readAllBytes(input);
        Files.write(input, Arrays.copyOf(x, x.length - 3));
        e = assertThrows(IOException.class, () -> OnnxTestCase.load(dir));
        assertTrue(e.getMessage().contains("input_0.pb: offset"), e.getMessage());

        Files.write(input, x);
        Files.delete(dir.resolve("test_data_set_0/output_0.pb"));
        e = assertThrows(IOException.class, () -> OnnxTestCase.load(dir));
        assertTrue(e.getMessage().endsWith("holds 0 output_N.pb files but the graph has 1 outputs"), e.getMessage());
        Files.delete(input);
        e = assertThrows(IOException.class, () -> OnnxTestCase.load(dir));
        assertTrue(e.getMessage().endsWith("holds 0 input_N.pb files but the graph has 2 inputs that are not"
                + " initializers"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("model.onnx")));
        assertThrows(IOException.class, () -> OnnxTestCase.load(tmp));
    }

    private static double sum(OnnxTensor t) {
        double s = 0;
        for (float v : t.data()) {
            s += v;
        }
        return s;
    }
}
