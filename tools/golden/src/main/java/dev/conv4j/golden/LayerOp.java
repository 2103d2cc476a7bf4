package dev.conv4j.golden;

import dev.conv4j.Conv1dParams;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvTranspose1dParams;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose3dParams;
import dev.conv4j.Tensor;

/**
 * One operation of the convolution family with its parameters, run through any engine: what a golden
 * case or an ONNX conformance test checks. Gradients are those of {@code L = sum(y * gy)}; the bias
 * gradient may be null.
 */
public interface LayerOp {

    /** The operation's name as {@code case.json} spells it, e.g. {@code conv_transpose2d}. */
    String name();

    /** Its parameters, for messages. */
    Object params();

    void forward(ConvEngine e, Tensor x, Tensor w, Tensor b, Tensor y);

    void backwardData(ConvEngine e, Tensor gy, Tensor w, Tensor gx);

    void backwardWeights(ConvEngine e, Tensor x, Tensor gy, Tensor gw, Tensor gb);

    /** A forward pass of some operation's parameters. */
    interface Forward {
        void run(ConvEngine e, Tensor x, Tensor w, Tensor b, Tensor y);
    }

    /** An input-gradient pass (overwriting gx). */
    interface BackwardData {
        void run(ConvEngine e, Tensor gy, Tensor w, Tensor gx);
    }

    /** A weight-gradient pass (overwriting gw and gb). */
    interface BackwardWeights {
        void run(ConvEngine e, Tensor x, Tensor gy, Tensor gw, Tensor gb);
    }

    /** An operation from its three passes. */
    static LayerOp of(String name, Object params, Forward f, BackwardData bd, BackwardWeights bw) {
        return new LayerOp() {
            public String name() { return name; }
            public Object params() { return params; }
            public void forward(ConvEngine e, Tensor x, Tensor w, Tensor b, Tensor y) { f.run(e, x, w, b, y); }
            public void backwardData(ConvEngine e, Tensor gy, Tensor w, Tensor gx) { bd.run(e, gy, w, gx); }
            public void backwardWeights(ConvEngine e, Tensor x, Tensor gy, Tensor gw, Tensor gb) { bw.run(e, x, gy, gw, gb); }
        };
    }

    static LayerOp conv2d(Conv2dParams p) {
        return of("conv2d", p, (e, x, w, b, y) -> e.forward(p, x, w, b, y), (e, gy, w, gx) -> e.backwardData(p, gy, w, gx, false),
                (e, x, gy, gw, gb) -> e.backwardWeights(p, x, gy, gw, gb, false));
    }

    static LayerOp conv1d(Conv1dParams p) {
        return of("conv1d", p, (e, x, w, b, y) -> e.forward(p, x, w, b, y), (e, gy, w, gx) -> e.backwardData(p, gy, w, gx, false),
                (e, x, gy, gw, gb) -> e.backwardWeights(p, x, gy, gw, gb, false));
    }

    static LayerOp conv3d(Conv3dParams p) {
        return of("conv3d", p, (e, x, w, b, y) -> e.forward(p, x, w, b, y), (e, gy, w, gx) -> e.backwardData(p, gy, w, gx, false),
                (e, x, gy, gw, gb) -> e.backwardWeights(p, x, gy, gw, gb, false));
    }

    static LayerOp convTranspose1d(ConvTranspose1dParams p) {
        return of("conv_transpose1d", p, (e, x, w, b, y) -> e.forward(p, x, w, b, y),
                (e, gy, w, gx) -> e.backwardData(p, gy, w, gx, false), (e, x, gy, gw, gb) -> e.backwardWeights(p, x, gy, gw, gb, false));
    }

    static LayerOp convTranspose2d(ConvTranspose2dParams p) {
        return of("conv_transpose2d", p, (e, x, w, b, y) -> e.forward(p, x, w, b, y),
                (e, gy, w, gx) -> e.backwardData(p, gy, w, gx, false), (e, x, gy, gw, gb) -> e.backwardWeights(p, x, gy, gw, gb, false));
    }

    static LayerOp convTranspose3d(ConvTranspose3dParams p) {
        return of("conv_transpose3d", p, (e, x, w, b, y) -> e.forward(p, x, w, b, y),
                (e, gy, w, gx) -> e.backwardData(p, gy, w, gx, false), (e, x, gy, gw, gb) -> e.backwardWeights(p, x, gy, gw, gb, false));
    }

    /**
     * The operation {@code op} (as {@code case.json} names it) with its attributes, each given per
     * spatial axis: stride, padding as (begin, end) pairs in axis order, dilation, output padding
     * (transposed operations; may be null), groups.
     *
     * @throws IllegalArgumentException for an unknown operation or attributes of the wrong length
     */
    static LayerOp of(String op, int[] stride, int[] padding, int[] dilation, int[] outputPadding, int groups) {
        int rank = stride.length;
        if (padding.length != 2 * rank || dilation.length != rank || outputPadding != null && outputPadding.length != rank) {
            throw new IllegalArgumentException(op + ": attributes of mixed ranks (stride " + rank + " axes, padding "
                    + padding.length + " values, dilation " + dilation.length + ")");
        }
        int[] op0 = outputPadding == null ? new int[rank] : outputPadding;
        switch (op + "/" + rank) {
            case "conv2d/2":
                return conv2d(Conv2dParams.builder().stride(stride[0], stride[1]).padding(padding[0], padding[1], padding[2], padding[3])
                        .dilation(dilation[0], dilation[1]).groups(groups).build());
            case "conv1d/1":
                return conv1d(Conv1dParams.builder().stride(stride[0]).padding(padding[0], padding[1]).dilation(dilation[0])
                        .groups(groups).build());
            case "conv_transpose2d/2":
                return convTranspose2d(ConvTranspose2dParams.builder().stride(stride[0], stride[1])
                        .padding(padding[0], padding[1], padding[2], padding[3]).dilation(dilation[0], dilation[1])
                        .outputPadding(op0[0], op0[1]).groups(groups).build());
            case "conv_transpose1d/1":
                return convTranspose1d(ConvTranspose1dParams.builder().stride(stride[0]).padding(padding[0], padding[1])
                        .dilation(dilation[0]).outputPadding(op0[0]).groups(groups).build());
            case "conv3d/3":
                return conv3d(Conv3dParams.builder().stride(stride[0], stride[1], stride[2])
                        .padding(padding[0], padding[1], padding[2], padding[3], padding[4], padding[5])
                        .dilation(dilation[0], dilation[1], dilation[2]).groups(groups).build());
            case "conv_transpose3d/3":
                return convTranspose3d(ConvTranspose3dParams.builder().stride(stride[0], stride[1], stride[2])
                        .padding(padding[0], padding[1], padding[2], padding[3], padding[4], padding[5])
                        .dilation(dilation[0], dilation[1], dilation[2]).outputPadding(op0[0], op0[1], op0[2]).groups(groups)
                        .build());
            default:
                throw new IllegalArgumentException("unsupported operation " + op + " with " + rank + " spatial axes");
        }
    }
}
