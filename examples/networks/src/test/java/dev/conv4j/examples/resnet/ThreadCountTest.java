package dev.conv4j.examples.resnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.examples.Sgd;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The same seed trains the same model, to the bit, on one thread and on several. */
class ThreadCountTest {

    private static Map<String, float[]> train(ConvEngine engine, int threads) {
        ResNet.Architecture a = new ResNet.Architecture(1, 12, 12, List.of(8, 16), 1, 4);
        try (ResNet net = ResNet.create(a, engine, threads, 0.1f, 0.9f, 21)) {
            Sgd sgd = new Sgd(net.parameters(), 0.1f, 0.9f, 5e-4f);
            int[] labels = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2};
            for (int step = 0; step < 3; step++) {
                java.util.Random r = new java.util.Random(step);
                float[] x = new float[11 * 144];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) r.nextGaussian();
                }
                net.trainBatch(x, labels, 11);
                sgd.step();
                net.parametersChanged();
            }
            Map<String, float[]> state = new java.util.LinkedHashMap<>();
            net.state().forEach((k, v) -> state.put(k, v.clone()));
            return state;
        }
    }

    @Test
    void oneThreadAndThreeThreadsGiveTheSameBits() {
        assumeTrue(ConvEngines.isNativeAvailable(), "the native engine is not available");
        Map<String, float[]> one = train(ConvEngines.blas(1), 1), three = train(ConvEngines.blas(3), 3);
        for (String k : one.keySet()) {
            assertArrayEquals(one.get(k), three.get(k), k);
        }
    }

    @Test
    void theJavaEngineToo() {
        Map<String, float[]> one = train(ConvEngines.java(1), 1), two = train(ConvEngines.java(2), 2);
        for (String k : one.keySet()) {
            assertArrayEquals(one.get(k), two.get(k), k);
        }
    }
}
