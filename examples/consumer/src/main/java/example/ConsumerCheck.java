package example;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.ConvEngines;
import dev.conv4j.Tensor;

/**
 * Runs one small convolution through {@link ConvEngines#fastest()} and compares it with values
 * worked out by hand. Exits with status 1 when the native engine did not load or a value is wrong.
 */
public final class ConsumerCheck {
    private ConsumerCheck() {
    }

    public static void main(String[] args) {
        if (!ConvEngines.isNativeAvailable()) {
            System.err.println("the native engine did not load: " + ConvEngines.nativeFailure());
            System.exit(1);
        }
        ConvEngine engine = ConvEngines.fastest();

        // a 4x4 image holding 1..16, two 3x3 kernels: a box filter and the identity (bias 0.5)
        float[] image = new float[16];
        for (int i = 0; i < 16; i++) {
            image[i] = i + 1;
        }
        float[] kernels = new float[18];
        for (int i = 0; i < 9; i++) {
            kernels[i] = 1;
        }
        kernels[9 + 4] = 1;
        float[] expected = {
            // box filter with zero padding: the sum of each 3x3 neighbourhood
            14, 24, 30, 22,
            33, 54, 63, 45,
            57, 90, 99, 69,
            46, 72, 78, 54,
            // identity plus bias
            1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f, 8.5f, 9.5f, 10.5f, 11.5f, 12.5f, 13.5f, 14.5f, 15.5f, 16.5f,
        };

        Conv2dParams same = Conv2dParams.builder().padding(1).build();
        float[] y;
        try (Tensor x = Tensor.of(image, 1, 1, 4, 4);
             Tensor w = Tensor.of(kernels, 2, 1, 3, 3);
             Tensor b = Tensor.of(new float[] {0, 0.5f}, 2);
             Tensor out = engine.forward(same, x, w, b)) {
            y = out.toArray();
        }
        int wrong = 0;
        for (int i = 0; i < expected.length; i++) {
            if (Math.abs(y[i] - expected[i]) > 1e-4f) {
                System.err.println("y[" + i + "] = " + y[i] + ", expected " + expected[i]);
                wrong++;
            }
        }
        System.out.println("conv4j as a dependency: engine " + engine.name() + ", " + (expected.length - wrong) + " of "
                + expected.length + " values right");
        System.exit(wrong == 0 ? 0 : 1);
    }
}
