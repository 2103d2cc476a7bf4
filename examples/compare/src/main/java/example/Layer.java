package example;

import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import dev.conv4j.bench.BenchShape;
import java.util.Random;

/**
 * The inputs of one layer, shared by every system: x, w, b and an output gradient gy, random in
 * [-1, 1) with a fixed seed. The systems read them in place (conv4j tensors are plain NCHW/OIHW
 * off-heap arrays, which oneDNN and libtorch wrap without copying).
 */
final class Layer implements AutoCloseable {
    final BenchShape shape;
    final ConvGeometry g;
    final Tensor x, w, b, gy;

    Layer(BenchShape shape) {
        this.shape = shape;
        this.g = shape.geometry();
        Random r = new Random(42);
        x = random(r, g.inputShape());
        w = random(r, g.weightShape());
        b = random(r, g.o);
        gy = random(r, g.outputShape());
    }

    /** 2·N·O·(C/G)·KH·KW·OH·OW, the same for all three passes. */
    double flops() {
        return g.flops();
    }

    int[] resultShape(Pass pass) {
        switch (pass) {
            case FORWARD:
                return g.outputShape();
            case BACKWARD_DATA:
                return g.inputShape();
            default:
                return g.weightShape();
        }
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
