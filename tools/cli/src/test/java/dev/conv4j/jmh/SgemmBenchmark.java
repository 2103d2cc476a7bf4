package dev.conv4j.jmh;

import dev.conv4j.ConvEngines;
import dev.conv4j.ConvGeometry;
import dev.conv4j.bench.BenchShape;
import java.io.IOException;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The ceiling: the raw OpenBLAS sgemm calls an im2col forward of each shape performs (per image and
 * group, (O/G x K)·(K x OH·OW) row-major), without im2col. Run in the same JMH invocation as
 * {@link ConvBenchmark} to compare.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SgemmBenchmark {
    @Param({"tiny_3x3", "lenet_c1_b64", "lenet_c2_b64", "r50_conv1_b1", "r50_res2_3x3_b1", "r50_res2_1x1a_b1",
        "r50_res2_1x1b_b1", "r50_res3_3x3s2_b1", "r50_res3_3x3_b1", "r50_res4_3x3_b1", "r50_res5_3x3_b1",
        "r50_down_1x1s2_b1", "r50_res2_3x3_b8", "r50_res4_3x3_b8", "dilated_3x3_d2_b1", "mbv1_dw_3x3_b1"})
    public String shape;

    ConvGeometry g;
    FloatPointer a, b, c;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        ConvEngines.blas(1); // loads the library and sets OpenBLAS to one thread
        BenchShape s = ConvBenchmark.find(shape);
        g = s.geometry();
        Random r = new Random(1);
        a = random(r, (long) g.og * g.k);
        b = random(r, (long) g.k * g.outPlane());
        c = new FloatPointer((long) g.og * g.outPlane());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        c.close();
    }

    @Benchmark
    public void forwardGemms() {
        int p = g.outPlane();
        for (int i = 0; i < g.n * g.groups; i++) {
            openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans,
                    openblas_nolapack.CblasNoTrans, g.og, p, g.k, 1f, a, g.k, b, p, 0f, c, p);
        }
    }

    private static FloatPointer random(Random r, long n) {
        FloatPointer p = new FloatPointer(n);
        for (long i = 0; i < n; i++) {
            p.put(i, r.nextFloat() - 0.5f);
        }
        return p;
    }
}
