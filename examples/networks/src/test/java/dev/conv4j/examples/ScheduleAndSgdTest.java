package dev.conv4j.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The one-cycle schedule and Nesterov SGD against values PyTorch 1.13 printed for the same
 * settings: {@code OneCycleLR(max_lr=0.2, total_steps=20, pct_start=0.25, anneal_strategy="cos",
 * div_factor=25, final_div_factor=1e4, cycle_momentum=False)} and
 * {@code SGD(lr, momentum=0.9, nesterov=True, weight_decay=5e-4)} stepped with its rates.
 */
class ScheduleAndSgdTest {
    private static final double[] TORCH_RATES = {0.008000000000000007, 0.036117749006091465, 0.10400000000000001,
        0.17188225099390858, 0.2, 0.1978147688143403, 0.19135458034607702, 0.180901775830697, 0.1669131929836433,
        0.1500002, 0.130901975830697, 0.11045320451538004, 0.08954759548461998, 0.06909882416930302,
        0.05000060000000003, 0.03308760701635676, 0.019099024169303015, 0.008646219653922961, 0.0021860311856597247,
        8e-07};

    @Test
    void oneCycleGivesPyTorchsRates() {
        Schedule s = Schedule.oneCycle(0.2, 20, 0.25, 25, 1e4);
        for (int k = 0; k < TORCH_RATES.length; k++) {
            assertEquals(TORCH_RATES[k], s.rate(k), 1e-12, "step " + k);
        }
    }

    @Test
    void cosineFallsFromTheRateToZero() {
        Schedule s = Schedule.cosine(0.5, 10);
        assertEquals(0.5, s.rate(0), 1e-15);
        assertEquals(0.25, s.rate(5), 1e-15);
        assertEquals(0, s.rate(10), 1e-15);
        assertEquals(0, s.rate(12), 1e-15);
    }

    @Test
    void nesterovSgdStepsAsPyTorchDoes() {
        Parameter p = new Parameter("p", 3);
        System.arraycopy(new float[] {1f, -2f, 0.5f}, 0, p.value, 0, 3);
        Sgd sgd = new Sgd(List.of(p), 0.2f, 0.9f, 5e-4f);
        float[][] grads = {{0.1f, 0.2f, -0.3f}, {0.05f, -0.1f, 0.2f}, {-0.2f, 0.1f, 0f}};
        float[][] torch = {{0.9984723925590515f, -2.0030248165130615f, 0.5045561790466309f},
            {0.9920668005943298f, -2.001915454864502f, 0.4995834231376648f},
            {1.0196151733398438f, -2.0280566215515137f, 0.5053906440734863f}};
        for (int k = 0; k < 3; k++) {
            System.arraycopy(grads[k], 0, p.grad, 0, 3);
            sgd.learningRate((float) TORCH_RATES[k]);
            sgd.step();
            assertArrayEquals(torch[k], p.value, 2e-6f, "after step " + (k + 1));
        }
    }

    @Test
    void sgdRefusesNonsense() {
        Parameter p = new Parameter("p", 1);
        assertThrows(IllegalArgumentException.class, () -> new Sgd(List.of(p), 0f, 0.9f, 0f));
        assertThrows(IllegalArgumentException.class, () -> new Sgd(List.of(p), 0.1f, 1f, 0f));
        assertThrows(IllegalArgumentException.class, () -> new Sgd(List.of(p), 0.1f, 0.9f, Float.NaN));
    }
}
