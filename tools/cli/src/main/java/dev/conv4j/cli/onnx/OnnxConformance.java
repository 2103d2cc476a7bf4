package dev.conv4j.cli.onnx;

import dev.conv4j.Conv1dParams;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dParams.AutoPad;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvTranspose1dParams;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose3dParams;
import dev.conv4j.Tensor;
import dev.conv4j.golden.GoldenCheck;
import dev.conv4j.golden.LayerOp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Runs an ONNX conformance test of {@code Conv} or {@code ConvTranspose} through a conv4j engine: the
 * node's attributes become conv4j's parameters (ONNX's {@code pads} list every axis's begin, then every
 * axis's end), the test's inputs its tensors, and the engine's output is compared with the test's
 * expected output.
 */
public final class OnnxConformance {
    /** The bound on the scale-free error, as for the golden vectors. */
    public static final double TOLERANCE = GoldenCheck.TOLERANCE;

    private OnnxConformance() {
    }

    /** The outcome of one test on one engine: passed, or why not. */
    public record Outcome(String test, boolean passed, String detail) {
    }

    /** Runs {@code test} on {@code engine}; never throws for a test it cannot run (that is a failed outcome). */
    public static Outcome run(OnnxTestCase test, ConvEngine engine) {
        LayerOp op;
        try {
            op = operation(test);
        } catch (IllegalArgumentException e) {
            return new Outcome(test.name(), false, "unsupported: " + e.getMessage());
        }
        OnnxNode node = test.node();
        List<Tensor> owned = new ArrayList<>();
        try {
            Tensor x = tensor(test, node.inputs().get(0), owned);
            Tensor w = tensor(test, node.inputs().get(1), owned);
            Tensor b = node.inputs().size() > 2 && !node.inputs().get(2).isEmpty() ? tensor(test, node.inputs().get(2), owned) : null;
            OnnxTensor expected = test.tensor(node.outputs().get(0));
            if (expected == null || !expected.isFloat()) {
                return new Outcome(test.name(), false, "unsupported: the expected output is missing or not float");
            }
            Tensor y = Tensor.zeros(expected.shape());
            owned.add(y);
            y.fill(Float.NaN);
            op.forward(engine, x, w, b, y);
            double err = GoldenCheck.relativeError(y.toArray(), expected.data());
            boolean ok = err <= TOLERANCE;
            return new Outcome(test.name(), ok, op.name() + " " + op.params() + ": y err " + String.format("%.3e", err)
                    + (ok ? "" : String.format(" > %.0e", TOLERANCE)));
        } catch (RuntimeException e) {
            return new Outcome(test.name(), false, op.name() + " " + op.params() + ": " + e);
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    /**
     * The conv4j operation for the test's single node.
     *
     * @throws IllegalArgumentException naming what conv4j does not run
     */
    public static LayerOp operation(OnnxTestCase test) {
        if (!test.graph().isSingleConv()) {
            throw new IllegalArgumentException("the graph is not one Conv or ConvTranspose node: " + test.graph().nodes().size()
                    + " nodes");
        }
        OnnxNode node = test.node();
        if (node.inputs().size() < 2) {
            throw new IllegalArgumentException(node.opType() + " has " + node.inputs().size() + " inputs");
        }
        OnnxTensor x = test.tensor(node.inputs().get(0)), w = test.tensor(node.inputs().get(1));
        for (OnnxTensor t : new OnnxTensor[] {x, w}) {
            if (t == null || !t.isFloat()) {
                throw new IllegalArgumentException("input " + (t == null ? "missing" : t + " is not float"));
            }
        }
        int rank = x.shape().length - 2;
        if (w.shape().length != rank + 2) {
            throw new IllegalArgumentException("X " + Arrays.toString(x.shape()) + " and W " + Arrays.toString(w.shape())
                    + " have different ranks");
        }
        int[] kernel = Arrays.copyOfRange(w.shape(), 2, w.shape().length);
        long[] declared = node.ints("kernel_shape");
        if (declared != null && !Arrays.equals(toInts(declared, rank, "kernel_shape"), kernel)) {
            throw new IllegalArgumentException("kernel_shape " + Arrays.toString(declared) + " differs from W's " + Arrays.toString(kernel));
        }
        int[] stride = ints(node, "strides", rank, 1);
        int[] dilation = ints(node, "dilations", rank, 1);
        int[] pads = node.has("pads") ? toInts(node.ints("pads"), 2 * rank, "pads") : new int[2 * rank];
        int groups = Math.toIntExact(node.integer("group", 1));
        AutoPad autoPad = autoPad(node.string("auto_pad"));
        boolean transposed = node.opType().equals("ConvTranspose");
        if (!transposed && (node.has("output_padding") || node.has("output_shape"))) {
            throw new IllegalArgumentException("Conv with output_padding or output_shape");
        }
        int[] outputPadding = ints(node, "output_padding", rank, 0);
        int[] outputShape = null;
        if (node.has("output_shape")) {
            long[] s = node.ints("output_shape");
            outputShape = toInts(s.length == rank + 2 ? Arrays.copyOfRange(s, 2, s.length) : s, rank, "output_shape");
        }
        switch ((transposed ? "t" : "c") + rank) {
            case "c1":
                Conv1dParams.Builder c1 = Conv1dParams.builder().stride(stride[0]).dilation(dilation[0]).groups(groups)
                        .padding(pads[0], pads[1]);
                return LayerOp.conv1d((autoPad == AutoPad.NOTSET ? c1 : c1.autoPad(autoPad)).build());
            case "c2":
                Conv2dParams.Builder c2 = Conv2dParams.builder().stride(stride[0], stride[1]).dilation(dilation[0], dilation[1])
                        .groups(groups).padding(pads[0], pads[2], pads[1], pads[3]);
                return LayerOp.conv2d((autoPad == AutoPad.NOTSET ? c2 : c2.autoPad(autoPad)).build());
            case "t1":
                ConvTranspose1dParams.Builder t1 = ConvTranspose1dParams.builder().stride(stride[0]).dilation(dilation[0])
                        .groups(groups).outputPadding(outputPadding[0]).padding(pads[0], pads[1]).autoPad(autoPad);
                if (outputShape != null) {
                    t1.outputSize(outputShape[0]);
                }
                return LayerOp.convTranspose1d(t1.build());
            case "t2":
                ConvTranspose2dParams.Builder t2 = ConvTranspose2dParams.builder().stride(stride[0], stride[1])
                        .dilation(dilation[0], dilation[1]).groups(groups).outputPadding(outputPadding[0], outputPadding[1])
                        .padding(pads[0], pads[2], pads[1], pads[3]).autoPad(autoPad);
                if (outputShape != null) {
                    t2.outputSize(outputShape[0], outputShape[1]);
                }
                return LayerOp.convTranspose2d(t2.build());
            case "c3":
                Conv3dParams.Builder c3 = Conv3dParams.builder().stride(stride[0], stride[1], stride[2])
                        .dilation(dilation[0], dilation[1], dilation[2]).groups(groups)
                        .padding(pads[0], pads[3], pads[1], pads[4], pads[2], pads[5]);
                return LayerOp.conv3d((autoPad == AutoPad.NOTSET ? c3 : c3.autoPad(autoPad)).build());
            case "t3":
                ConvTranspose3dParams.Builder t3 = ConvTranspose3dParams.builder().stride(stride[0], stride[1], stride[2])
                        .dilation(dilation[0], dilation[1], dilation[2]).groups(groups)
                        .outputPadding(outputPadding[0], outputPadding[1], outputPadding[2])
                        .padding(pads[0], pads[3], pads[1], pads[4], pads[2], pads[5]).autoPad(autoPad);
                if (outputShape != null) {
                    t3.outputSize(outputShape[0], outputShape[1], outputShape[2]);
                }
                return LayerOp.convTranspose3d(t3.build());
            default:
                throw new IllegalArgumentException(node.opType() + " with " + rank + " spatial axes (X " + Arrays.toString(x.shape()) + ")");
        }
    }

    private static AutoPad autoPad(String s) {
        if (s == null || s.isEmpty()) {
            return AutoPad.NOTSET;
        }
        try {
            return AutoPad.valueOf(s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("auto_pad " + s);
        }
    }

    private static int[] ints(OnnxNode node, String name, int rank, int otherwise) {
        long[] v = node.ints(name);
        if (v == null) {
            int[] d = new int[rank];
            Arrays.fill(d, otherwise);
            return d;
        }
        return toInts(v, rank, name);
    }

    private static int[] toInts(long[] v, int length, String name) {
        if (v.length != length) {
            throw new IllegalArgumentException(name + " " + Arrays.toString(v) + " should have " + length + " values");
        }
        int[] r = new int[length];
        for (int i = 0; i < length; i++) {
            if (v[i] < Integer.MIN_VALUE || v[i] > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(name + " " + Arrays.toString(v) + " does not fit int");
            }
            r[i] = (int) v[i];
        }
        return r;
    }

    private static Tensor tensor(OnnxTestCase test, String name, List<Tensor> owned) {
        OnnxTensor t = test.tensor(name);
        if (t == null || !t.isFloat()) {
            throw new IllegalArgumentException("input " + name + (t == null ? " is missing" : " is " + OnnxTensor.typeName(t.dataType())));
        }
        Tensor tensor = Tensor.of(t.data(), t.shape());
        owned.add(tensor);
        return tensor;
    }
}
