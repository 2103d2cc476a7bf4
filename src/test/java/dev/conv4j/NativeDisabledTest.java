package dev.conv4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Runs in a JVM started with {@code -Dconv4j.native=false} (a surefire execution of its own): the
 * native library must not load, {@code fastest()} must fall back to the pure-Java engine and stay
 * correct, and {@code blas()} must say why it is unavailable.
 */
class NativeDisabledTest {
    @Test
    void fastestFallsBackToJavaAndBlasSaysWhy() {
        assertEquals("false", System.getProperty("conv4j.native"), "this test needs -Dconv4j.native=false");
        assertFalse(ConvEngines.isNativeAvailable());
        assertEquals("java", ConvEngines.fastest().name());
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, ConvEngines::blas);
        assertTrue(e.getMessage().contains("conv4j.native=false"), e.getMessage());
        assertTrue(ConvEngines.nativeFailure().contains("conv4j.native=false"));
    }

    @Test
    void theFallbackComputesTheSameAsNaive() {
        Conv2dParams p = Conv2dParams.builder().stride(2, 1).padding(1, 2, 0, 1).dilation(1, 2).groups(2).build();
        Random r = new Random(3);
        try (Tensor x = TestData.random(r, 1, 2, 4, 9, 8); Tensor w = TestData.random(r, 1, 6, 2, 3, 3);
             Tensor b = TestData.random(r, 1, 6);
             Tensor y = ConvEngines.fastest().forward(p, x, w, b); Tensor ref = ConvEngines.naive().forward(p, x, w, b)) {
            assertTrue(TestData.relErr(y.toArray(), ref.toArray()) < 1e-5);
        }
    }
}
