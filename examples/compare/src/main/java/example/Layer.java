package example;

import dev.conv4j.Conv1dParams;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvGeometry;
import dev.conv4j.ConvTranspose1dParams;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose3dParams;
import dev.conv4j.Tensor;
import dev.conv4j.bench.BenchShape;
import java.util.Random;

/**
 * The inputs of one layer, shared by every system: x, w, b and an output gradient gy, random in
 * [-1, 1) with a fixed seed. The systems read them in place (conv4j tensors are plain NCHW/OIHW
 * off-heap arrays, which oneDNN and libtorch wrap without copying).
 *
 * <p>A layer is a 2-D convolution ({@link #g} is its geometry) or one of the other operations of
 * conv4j's benchmark shapes ({@code conv_transpose2d}, {@code conv1d}, {@code conv3d}, ...; {@link #g}
 * is null): their tensors are plain row-major (NCL, NCDHW; a transposed operation's weights are
 * C_in×C_out/groups×K...), and {@link #attributes()} gives their parameters per spatial axis.
 */
final class Layer implements AutoCloseable {
    final BenchShape shape;
    /** The 2-D convolution's geometry; null for the other operations. */
    final ConvGeometry g;
    final Tensor x, w, b, gy;

    Layer(BenchShape shape) {
        this.shape = shape;
        this.g = shape.geometry();
        Random r = new Random(42);
        x = random(r, shape.input);
        w = random(r, shape.weight);
        b = random(r, shape.biasLength);
        gy = random(r, shape.output);
    }

    /** Whether the layer is a 2-D convolution (the other operations have no {@link #g}). */
    boolean conv2d() {
        return g != null;
    }

    /**
     * 2·N·O·(C/G)·KH·KW·OH·OW, the same for all three passes; for the other operations the same count
     * of multiply-adds, doubled (a transposed operation's is its convolution's: 2·N·C_in·(C_out/G)·K...·H·W...).
     */
    double flops() {
        return g != null ? g.flops() : shape.flops();
    }

    int[] resultShape(Pass pass) {
        switch (pass) {
            case FORWARD:
                return shape.output;
            case BACKWARD_DATA:
                return shape.input;
            default:
                return shape.weight;
        }
    }

    /**
     * The parameters of the layer, per spatial axis (for a 2-D convolution too), as the libraries
     * other than conv4j take them: stride, padding at the beginning and at the end of each axis,
     * dilation, output padding (zeros unless transposed), groups.
     */
    record Attributes(boolean transposed, long[] stride, long[] padBegin, long[] padEnd, long[] dilation, long[] outputPadding,
            long groups) {
        int rank() {
            return stride.length;
        }

        /** Whether padding is the same at both ends of every axis, as libtorch's convolutions take it. */
        boolean symmetric() {
            return java.util.Arrays.equals(padBegin, padEnd);
        }
    }

    Attributes attributes() {
        int[] in = shape.input, k = shape.weight;
        if (g != null) {
            return new Attributes(false, new long[] {g.strideH, g.strideW}, new long[] {g.padTop, g.padLeft},
                    new long[] {g.padBottom, g.padRight}, new long[] {g.dilationH, g.dilationW}, new long[2], g.groups);
        }
        Object p = shape.layer.params();
        if (p instanceof Conv1dParams) {
            Conv1dParams c = (Conv1dParams) p;
            int[] pad = c.asConv2d().padding(1, in[2], 1, k[2]);
            return new Attributes(false, longs(c.stride()), longs(pad[2]), longs(pad[3]), longs(c.dilation()), new long[1],
                    c.groups());
        }
        if (p instanceof Conv3dParams) {
            Conv3dParams c = (Conv3dParams) p;
            int[] pad = c.padding(in[2], in[3], in[4], k[2], k[3], k[4]);
            return new Attributes(false, longs(c.strideD(), c.strideH(), c.strideW()), longs(pad[0], pad[2], pad[4]),
                    longs(pad[1], pad[3], pad[5]), longs(c.dilationD(), c.dilationH(), c.dilationW()), new long[3], c.groups());
        }
        if (p instanceof ConvTranspose1dParams) {
            ConvTranspose1dParams c = (ConvTranspose1dParams) p;
            int[] pad = c.asTranspose2d().padding(1, in[2], 1, k[2]);
            return new Attributes(true, longs(c.stride()), longs(pad[2]), longs(pad[3]), longs(c.dilation()),
                    longs(c.outputPadding()), c.groups());
        }
        if (p instanceof ConvTranspose2dParams) {
            ConvTranspose2dParams c = (ConvTranspose2dParams) p;
            int[] pad = c.padding(in[2], in[3], k[2], k[3]);
            return new Attributes(true, longs(c.strideH(), c.strideW()), longs(pad[0], pad[2]), longs(pad[1], pad[3]),
                    longs(c.dilationH(), c.dilationW()), longs(c.outputPaddingH(), c.outputPaddingW()), c.groups());
        }
        if (p instanceof ConvTranspose3dParams) {
            ConvTranspose3dParams c = (ConvTranspose3dParams) p;
            int[] pad = c.padding(new int[] {in[2], in[3], in[4]}, new int[] {k[2], k[3], k[4]});
            return new Attributes(true, longs(c.stride()), longs(pad[0], pad[2], pad[4]), longs(pad[1], pad[3], pad[5]),
                    longs(c.dilation()), longs(c.outputPadding()), c.groups());
        }
        throw new UnsupportedOperationException("unknown operation " + shape.op);
    }

    static long[] longs(int... a) {
        long[] l = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            l[i] = a[i];
        }
        return l;
    }

    private static Tensor random(Random r, int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() * 2 - 1;
        }
        return Tensor.of(a, shape);
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {x, w, b, gy}) {
            t.close();
        }
    }
}
