package dev.conv4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The clamp every fused forward pass ends with, as Activation defines it. */
class ActivationTest {
    @Test
    void boundsOfTheConstants() {
        assertEquals(Float.NEGATIVE_INFINITY, Activation.NONE.min());
        assertEquals(Float.POSITIVE_INFINITY, Activation.NONE.max());
        assertEquals(0f, Activation.RELU.min());
        assertEquals(Float.POSITIVE_INFINITY, Activation.RELU.max());
        assertEquals(6f, Activation.RELU6.max());
        assertTrue(Activation.NONE.isIdentity());
        assertFalse(Activation.RELU.isIdentity());
        assertEquals(Activation.RELU6, Activation.clamp(0f, 6f));
        assertEquals(Activation.NONE, Activation.clamp(Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY));
        assertNotEquals(Activation.RELU, Activation.clamp(-0f, Float.POSITIVE_INFINITY));
        assertEquals("RELU6", Activation.RELU6.toString());
        assertEquals("clamp(-1.0, 2.0)", Activation.clamp(-1f, 2f).toString());
    }

    @Test
    void applyComparesAsIeeeDoes() {
        assertTrue(Float.isNaN(Activation.RELU.apply(Float.NaN)), "NaN stays NaN");
        assertTrue(Float.isNaN(Activation.RELU6.apply(Float.NaN)));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(Activation.RELU.apply(-0f)), "-0.0 is not below +0.0");
        assertEquals(0f, Activation.RELU.apply(-3f));
        assertEquals(6f, Activation.RELU6.apply(Float.POSITIVE_INFINITY));
        assertEquals(0f, Activation.RELU6.apply(Float.NEGATIVE_INFINITY));
        assertEquals(2.5f, Activation.RELU6.apply(2.5f));
        assertEquals(Float.NEGATIVE_INFINITY, Activation.NONE.apply(Float.NEGATIVE_INFINITY));
        assertEquals(1f, Activation.clamp(1f, 1f).apply(-5f));
    }

    @Test
    void clampRefusesBadBounds() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Activation.clamp(2f, 1f));
        assertTrue(e.getMessage().contains("min <= max"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Activation.clamp(Float.NaN, 1f));
        assertThrows(IllegalArgumentException.class, () -> Activation.clamp(0f, Float.NaN));
    }
}
