package dev.conv4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class Conv2dParamsTest {
    @Test
    void outputShapeUsesFloor() {
        Conv2dParams p = Conv2dParams.builder().stride(2).padding(1).build();
        assertArrayEquals(new int[] {1, 8, 4, 4}, p.outputShape(new int[] {1, 3, 8, 8}, new int[] {8, 3, 3, 3}));
        assertArrayEquals(new int[] {1, 8, 4, 5}, p.outputShape(new int[] {1, 3, 7, 9}, new int[] {8, 3, 3, 3}));
        Conv2dParams d = Conv2dParams.builder().dilation(2, 3).padding(0, 1, 2, 0).stride(1, 2).build();
        // H: 10 + 1 - 5 = 6 -> 7 ; W: 11 + 2 - 7 = 6 -> 6/2 + 1 = 4
        assertArrayEquals(new int[] {2, 4, 7, 4}, d.outputShape(new int[] {2, 2, 10, 11}, new int[] {4, 2, 3, 3}));
    }

    @Test
    void samePaddingFollowsOnnx() {
        // in 7, k 4, s 1: total 3 -> SAME_UPPER (1, 2), SAME_LOWER (2, 1)
        assertArrayEquals(new int[] {1, 2, 1, 2}, Conv2dParams.same().padding(7, 7, 4, 4));
        Conv2dParams lower = Conv2dParams.builder().autoPad(Conv2dParams.AutoPad.SAME_LOWER).build();
        assertArrayEquals(new int[] {2, 1, 2, 1}, lower.padding(7, 7, 4, 4));
        // in 10, k 3, s 2: out 5, total max(0, (5-1)*2 + 3 - 10) = 1 -> (0, 1)
        assertArrayEquals(new int[] {0, 1, 0, 1}, Conv2dParams.same(2).padding(10, 10, 3, 3));
        // in 9, k 3, s 2: out 5, total 2 -> (1, 1)
        assertArrayEquals(new int[] {1, 1, 1, 1}, Conv2dParams.same(2).padding(9, 9, 3, 3));
        for (int in = 1; in < 20; in++) {
            for (int s = 1; s < 4; s++) {
                int[] out = Conv2dParams.same(s).outputShape(new int[] {1, 1, in, in}, new int[] {1, 1, 3, 3});
                assertEquals((in + s - 1) / s, out[2], "in " + in + " stride " + s);
            }
        }
        assertArrayEquals(new int[] {0, 0, 0, 0}, Conv2dParams.valid().padding(5, 5, 3, 3));
        assertArrayEquals(new int[] {1, 1, 3, 3}, Conv2dParams.valid().outputShape(new int[] {1, 1, 5, 5}, new int[] {1, 1, 3, 3}));
    }

    @Test
    void builderRoundTripsAndEquality() {
        Conv2dParams p = Conv2dParams.builder().stride(2, 3).padding(1, 2, 3, 4).dilation(2, 1).groups(2).build();
        assertEquals(p, p.toBuilder().build());
        assertEquals(p.hashCode(), p.toBuilder().build().hashCode());
        assertArrayEquals(new int[] {1, 2, 3, 4}, p.explicitPadding());
        assertEquals(2, p.strideH());
        assertEquals(3, p.strideW());
    }
}
