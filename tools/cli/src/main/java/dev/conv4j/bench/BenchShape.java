package dev.conv4j.bench;

import dev.conv4j.Conv1dParams;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvGeometry;
import dev.conv4j.ConvTranspose1dParams;
import dev.conv4j.ConvTranspose2dParams;
import dev.conv4j.ConvTranspose3dParams;
import dev.conv4j.golden.LayerOp;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One benchmark layer, as in the shape suite's CSV. A 2-D convolution is
 * {@code name,batch,cin,h,w,cout,kh,kw,stride,pad,dilation,groups} (square stride, padding and
 * dilation); another operation names itself in the second field, with its spatial sizes and kernel
 * written {@code DxHxW}, {@code HxW} or {@code L}:
 * {@code name,op,batch,cin,size,cout,kernel,stride,pad,dilation,groups[,output_padding]}, op one of
 * {@code conv1d}, {@code conv_transpose1d}, {@code conv_transpose2d}, {@code conv3d},
 * {@code conv_transpose3d}.
 *
 * <p>Every layer also says the matrix products of its im2col lowering ({@link Products}): the sgemm
 * ceiling each pass is measured against.
 */
public final class BenchShape {
    public final String name;
    /** The operation, as {@code case.json} names it ({@code conv2d} for the 2-D convolution). */
    public final String op;
    /** The 2-D convolution's parameters; null for the other operations. */
    public final Conv2dParams params;
    /** Runs the layer's passes on an engine. */
    public final LayerOp layer;
    public final int[] input, weight, output;
    /** The bias's length: the output channels. */
    public final int biasLength;
    final Products products;

    /**
     * The products of one pass of the im2col lowering: {@code reps} products of an m×k weight matrix and
     * a k×p column matrix ({@code y = W·col}, {@code dcol = Wᵀ·gy}, {@code gW += gy·colᵀ}). A transposed
     * operation's forward pass is its convolution's input gradient, and the reverse: {@code swapped}.
     */
    record Products(int m, int k, int p, int reps, boolean swapped) {
        double flops() {
            return 2.0 * m * k * (double) p * reps;
        }

        /** The convolution pass whose products a pass of the layer runs. */
        Pass convolutionPass(Pass pass) {
            if (!swapped || pass == Pass.BACKWARD_WEIGHTS) {
                return pass;
            }
            return pass == Pass.FORWARD ? Pass.BACKWARD_DATA : Pass.FORWARD;
        }
    }

    private BenchShape(String name, String op, Conv2dParams params, LayerOp layer, int[] input, int[] weight, int[] output,
            int biasLength, Products products) {
        this.name = name;
        this.op = op;
        this.params = params;
        this.layer = layer;
        this.input = input;
        this.weight = weight;
        this.output = output;
        this.biasLength = biasLength;
        this.products = products;
    }

    /** A 2-D convolution layer. */
    static BenchShape conv2d(String name, Conv2dParams p, int[] x, int[] w) {
        ConvGeometry g = ConvGeometry.of(p, x, w);
        return new BenchShape(name, "conv2d", p, LayerOp.conv2d(p), x, w, g.outputShape(), g.o,
                new Products(g.og, g.k, g.outPlane(), g.n * g.groups, false));
    }

    /** The 2-D geometry of a 2-D convolution layer; null for the other operations. */
    public ConvGeometry geometry() {
        return params == null ? null : ConvGeometry.of(params, input, weight);
    }

    /** Multiply-adds of one pass, doubled. */
    public double flops() {
        return products.flops();
    }

    /** The default suite, bundled in the jar. */
    public static List<BenchShape> defaults() throws IOException {
        try (InputStream in = BenchShape.class.getResourceAsStream("benchmark-shapes.csv")) {
            return parse(in, "benchmark-shapes.csv");
        }
    }

    public static List<BenchShape> load(Path csv) throws IOException {
        try (InputStream in = Files.newInputStream(csv)) {
            return parse(in, csv.toString());
        }
    }

    static List<BenchShape> parse(InputStream in, String source) throws IOException {
        List<BenchShape> shapes = new ArrayList<>();
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        int lineNo = 0;
        for (String line; (line = r.readLine()) != null; ) {
            lineNo++;
            line = line.trim();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith("name,")) {
                continue;
            }
            String[] f = line.split(",");
            for (int i = 0; i < f.length; i++) {
                f[i] = f[i].trim();
            }
            try {
                shapes.add(f.length > 1 && !f[1].isEmpty() && Character.isLetter(f[1].charAt(0)) ? operation(f) : convolution(f));
            } catch (IllegalArgumentException e) {
                throw new IOException(source + ":" + lineNo + ": " + e.getMessage(), e);
            }
        }
        return shapes;
    }

    private static BenchShape convolution(String[] f) {
        if (f.length != 12) {
            throw new IllegalArgumentException("expected 12 fields (name,batch,cin,h,w,cout,kh,kw,stride,pad,dilation,groups), got "
                    + f.length);
        }
        int[] v = new int[11];
        for (int i = 0; i < 11; i++) {
            v[i] = Integer.parseInt(f[i + 1]);
        }
        Conv2dParams p = Conv2dParams.builder().stride(v[7]).padding(v[8]).dilation(v[9]).groups(v[10]).build();
        return conv2d(f[0], p, new int[] {v[0], v[1], v[2], v[3]}, new int[] {v[4], v[1] / v[10], v[5], v[6]});
    }

    private static BenchShape operation(String[] f) {
        if (f.length != 11 && f.length != 12) {
            throw new IllegalArgumentException("expected 11 or 12 fields (name,op,batch,cin,size,cout,kernel,stride,pad,dilation,"
                    + "groups[,output_padding]), got " + f.length);
        }
        String name = f[0], op = f[1];
        int n = Integer.parseInt(f[2]), cin = Integer.parseInt(f[3]), cout = Integer.parseInt(f[5]);
        int[] size = sizes(f[4]), kernel = sizes(f[6]);
        int s = Integer.parseInt(f[7]), pad = Integer.parseInt(f[8]), d = Integer.parseInt(f[9]), g = Integer.parseInt(f[10]);
        int outputPadding = f.length == 12 ? Integer.parseInt(f[11]) : 0;
        if (size.length != kernel.length) {
            throw new IllegalArgumentException("size " + f[4] + " and kernel " + f[6] + " have different ranks");
        }
        if (cin % g != 0 || cout % g != 0) {
            throw new IllegalArgumentException("groups " + g + " must divide cin " + cin + " and cout " + cout);
        }
        switch (op + "/" + size.length) {
            case "conv1d/1": {
                Conv1dParams p = Conv1dParams.builder().stride(s).padding(pad).dilation(d).groups(g).build();
                int[] x = {n, cin, size[0]}, w = {cout, cin / g, kernel[0]}, y = p.outputShape(x, w);
                return new BenchShape(name, op, null, LayerOp.conv1d(p), x, w, y, cout,
                        new Products(cout / g, cin / g * kernel[0], y[2], n * g, false));
            }
            case "conv_transpose1d/1": {
                ConvTranspose1dParams p = ConvTranspose1dParams.builder().stride(s).padding(pad).dilation(d).groups(g)
                        .outputPadding(outputPadding).build();
                int[] x = {n, cin, size[0]}, w = {cin, cout / g, kernel[0]};
                return new BenchShape(name, op, null, LayerOp.convTranspose1d(p), x, w, p.outputShape(x, w), cout,
                        new Products(cin / g, cout / g * kernel[0], size[0], n * g, true));
            }
            case "conv_transpose2d/2": {
                ConvTranspose2dParams p = ConvTranspose2dParams.builder().stride(s).padding(pad).dilation(d).groups(g)
                        .outputPadding(outputPadding).build();
                int[] x = {n, cin, size[0], size[1]}, w = {cin, cout / g, kernel[0], kernel[1]};
                return new BenchShape(name, op, null, LayerOp.convTranspose2d(p), x, w, p.outputShape(x, w), cout,
                        new Products(cin / g, cout / g * kernel[0] * kernel[1], size[0] * size[1], n * g, true));
            }
            case "conv3d/3": {
                Conv3dParams p = Conv3dParams.builder().stride(s).padding(pad).dilation(d).groups(g).build();
                int[] x = {n, cin, size[0], size[1], size[2]}, w = {cout, cin / g, kernel[0], kernel[1], kernel[2]};
                int[] y = p.outputShape(x, w);
                return new BenchShape(name, op, null, LayerOp.conv3d(p), x, w, y, cout,
                        new Products(cout / g, cin / g * kernel[0] * kernel[1] * kernel[2], y[2] * y[3] * y[4], n * g, false));
            }
            case "conv_transpose3d/3": {
                ConvTranspose3dParams p = ConvTranspose3dParams.builder().stride(s).padding(pad).dilation(d).groups(g)
                        .outputPadding(outputPadding).build();
                int[] x = {n, cin, size[0], size[1], size[2]}, w = {cin, cout / g, kernel[0], kernel[1], kernel[2]};
                return new BenchShape(name, op, null, LayerOp.convTranspose3d(p), x, w, p.outputShape(x, w), cout,
                        new Products(cin / g, cout / g * kernel[0] * kernel[1] * kernel[2], size[0] * size[1] * size[2], n * g,
                                true));
            }
            default:
                throw new IllegalArgumentException("unknown operation " + op + " with sizes " + f[4]);
        }
    }

    private static int[] sizes(String field) {
        return Arrays.stream(field.split("x")).mapToInt(Integer::parseInt).toArray();
    }

    @Override
    public String toString() {
        return name;
    }
}
