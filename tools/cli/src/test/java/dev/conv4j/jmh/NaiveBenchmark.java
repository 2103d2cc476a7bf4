package dev.conv4j.jmh;

import dev.conv4j.ConvEngines;
import java.io.IOException;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.Warmup;

/** The naive engine on the small shapes of the suite (on the ResNet layers one call takes about a second). */
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 3, time = 2)
public class NaiveBenchmark extends ConvBenchmark {
    @Param({"tiny_3x3", "lenet_c1_b64", "lenet_c2_b64", "mbv1_dw_3x3_b1", "r50_res5_3x3_b1"})
    public String naiveShape;

    @Override
    @Setup(Level.Trial)
    public void setUp() throws IOException {
        shape = naiveShape;
        engine = "naive";
        super.setUp();
        e = ConvEngines.naive();
    }
}
