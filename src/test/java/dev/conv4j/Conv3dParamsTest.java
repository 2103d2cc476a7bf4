package dev.conv4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Conv2dParams.AutoPad;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The 3-D parameters and geometry: the builder's forms, ONNX's auto_pad on each axis, floor sizes, and the refusals. */
class Conv3dParamsTest {

    private static void expect(Executable call, String... words) {
        Throwable t = assertThrows(IllegalArgumentException.class, call);
        for (String w : words) {
            assertTrue(t.getMessage() != null && t.getMessage().contains(w), "message '" + t.getMessage() + "' should mention '" + w + "'");
        }
    }

    @Test
    void theBuilderFormsSetEveryAxis() {
        Conv3dParams p = Conv3dParams.builder().stride(2).padding(1).dilation(3).groups(4).build();
        assertEquals(2, p.strideD());
        assertEquals(2, p.strideW());
        assertEquals(3, p.dilationH());
        assertEquals(4, p.groups());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1}, p.explicitPadding());
        Conv3dParams q = Conv3dParams.builder().stride(1, 2, 3).padding(1, 2, 3).dilation(2, 1, 3).build();
        assertEquals(3, q.strideW());
        assertEquals(2, q.dilationD());
        assertArrayEquals(new int[] {1, 1, 2, 2, 3, 3}, q.explicitPadding());
        Conv3dParams a = Conv3dParams.builder().padding(1, 2, 3, 4, 5, 6).build();
        assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6}, a.explicitPadding());
        assertEquals(a, a.toBuilder().build());
        assertEquals(a.hashCode(), Conv3dParams.builder().padding(1, 2, 3, 4, 5, 6).build().hashCode());
        assertNotEquals(a, Conv3dParams.builder().padding(1, 2, 3, 4, 6, 5).build());
        assertNotEquals(a, a.toBuilder().autoPad(AutoPad.VALID).build());
        assertEquals(Conv3dParams.DEFAULT, Conv3dParams.builder().build());
        assertEquals("Conv3dParams{stride=(1,1,1), padding=(1,2,3,4,5,6), dilation=(1,1,1), groups=1}", a.toString());
        assertEquals("Conv3dParams{stride=(1,2,2), autoPad=SAME_LOWER, dilation=(1,1,1), groups=1}",
                Conv3dParams.builder().stride(1, 2, 2).autoPad(AutoPad.SAME_LOWER).build().toString());
    }

    @Test
    void outputSizesUseFloorOnEachAxis() {
        Conv3dParams p = Conv3dParams.builder().stride(2, 3, 1).padding(1, 0, 2, 1, 0, 3).dilation(1, 2, 1).build();
        // D: (9 + 1 - 3) / 2 + 1 = 4; H: (10 + 3 - 5) / 3 + 1 = 3; W: (4 + 3 - 2) / 1 + 1 = 6
        assertArrayEquals(new int[] {2, 8, 4, 3, 6}, p.outputShape(new int[] {2, 3, 9, 10, 4}, new int[] {8, 3, 3, 3, 2}));
        Conv3dGeometry g = Conv3dGeometry.of(p, new int[] {2, 3, 9, 10, 4}, new int[] {8, 3, 3, 3, 2});
        assertEquals(3 * 3 * 3 * 2, g.k);
        assertEquals(4 * 3, g.outRows());
        assertEquals(2.0 * 2 * 8 * g.k * 4 * 3 * 6, g.flops());
        assertTrue(Conv3dGeometry.of(Conv3dParams.DEFAULT, new int[] {1, 2, 3, 3, 3}, new int[] {4, 2, 1, 1, 1}).isPointwise());
        assertTrue(Conv3dGeometry.of(Conv3dParams.builder().groups(2).build(), new int[] {1, 2, 3, 3, 3},
                new int[] {4, 1, 1, 1, 1}).isDepthwise());
    }

    /** ONNX auto_pad: SAME gives ceil(in / stride) on every axis, the odd pixel at the end (UPPER) or the front (LOWER). */
    @Test
    void autoPadResolvesEachAxisAsOnnx() {
        int[] x = {1, 1, 7, 8, 5}, w = {1, 1, 4, 3, 2};
        Conv3dParams upper = Conv3dParams.builder().stride(2, 3, 1).autoPad(AutoPad.SAME_UPPER).build();
        Conv3dParams lower = upper.toBuilder().autoPad(AutoPad.SAME_LOWER).build();
        // D: out 4, total (4-1)*2+4-7 = 3; H: out 3, total (3-1)*3+3-8 = 1; W: out 5, total 4+2-5 = 1
        assertArrayEquals(new int[] {1, 2, 0, 1, 0, 1}, upper.padding(7, 8, 5, 4, 3, 2));
        assertArrayEquals(new int[] {2, 1, 1, 0, 1, 0}, lower.padding(7, 8, 5, 4, 3, 2));
        assertArrayEquals(new int[] {1, 1, 4, 3, 5}, upper.outputShape(x, w));
        assertArrayEquals(new int[] {1, 1, 4, 3, 5}, lower.outputShape(x, w));
        Conv3dParams valid = Conv3dParams.builder().padding(2).autoPad(AutoPad.VALID).build();
        assertArrayEquals(new int[6], valid.padding(7, 8, 5, 4, 3, 2));
        assertArrayEquals(new int[] {1, 1, 4, 6, 4}, valid.outputShape(x, w));
        // explicit padding clears the mode again
        assertEquals(AutoPad.NOTSET, valid.toBuilder().padding(1).build().autoPad());
    }

    @Test
    void badValuesAreNamed() {
        expect(() -> Conv3dParams.builder().stride(1, 0, 1).build(), "stride", "(1, 0, 1)");
        expect(() -> Conv3dParams.builder().dilation(0).build(), "dilation");
        expect(() -> Conv3dParams.builder().padding(0, 0, 0, -1, 0, 0).build(), "padding", "bottom -1");
        expect(() -> Conv3dParams.builder().groups(0).build(), "groups");
        expect(() -> Conv3dParams.builder().autoPad(null), "autoPad");
    }

    @Test
    void badShapesAreNamed() {
        Conv3dParams p = Conv3dParams.DEFAULT;
        int[] x = {1, 4, 5, 5, 5}, w = {6, 4, 3, 3, 3};
        expect(() -> Conv3dGeometry.of(null, x, w), "params");
        expect(() -> p.outputShape(null, w), "input", "null");
        expect(() -> p.outputShape(new int[] {1, 4, 5, 5}, w), "input", "rank 5", "[1, 4, 5, 5]");
        expect(() -> p.outputShape(x, new int[] {6, 4, 3, 3}), "weight", "rank 5", "[6, 4, 3, 3]");
        expect(() -> p.outputShape(new int[] {1, 4, 0, 5, 5}, w), "input", "below 1");
        expect(() -> p.outputShape(x, new int[] {6, 3, 3, 3, 3}), "C/groups = 4", "[6, 3, 3, 3, 3]");
        Conv3dParams g3 = Conv3dParams.builder().groups(3).build();
        expect(() -> g3.outputShape(x, w), "groups 3", "C=4");
        expect(() -> g3.outputShape(new int[] {1, 6, 5, 5, 5}, new int[] {4, 2, 3, 3, 3}), "groups 3", "O=4");
        expect(() -> p.outputShape(new int[] {1, 4, 2, 5, 5}, w), "empty", "[1, 4, 2, 5, 5]");
        expect(() -> Conv3dParams.builder().dilation(3, 1, 1).build().outputShape(new int[] {1, 4, 6, 5, 5}, w), "empty", "7 x 3 x 3");
        // sizes whose products pass 2^31 - 1
        expect(() -> p.outputShape(new int[] {1, 1, 1 << 11, 1 << 11, 1 << 10}, new int[] {1, 1, 1, 1, 1}), "input",
                "more than 2147483647");
        expect(() -> p.outputShape(new int[] {1, 1, 1 << 10, 1 << 10, 1 << 10}, new int[] {4, 1, 1, 1, 1}), "output",
                "32-bit sizes");
        expect(() -> p.outputShape(new int[] {1, 8, 1 << 9, 1 << 9, 1 << 9}, new int[] {1, 8, 2, 2, 2}), "column matrix",
                "32-bit sizes");
        expect(() -> Conv3dParams.builder().stride(1, 1, Integer.MAX_VALUE).padding(0, 0, 0, 0, Integer.MAX_VALUE, 1).build()
                .outputShape(new int[] {1, 1, 1, 1, 1}, new int[] {1, 1, 1, 1, 1}), "exceeds 2147483647 positions");
    }
}
