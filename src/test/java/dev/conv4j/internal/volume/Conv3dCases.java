package dev.conv4j.internal.volume;

import dev.conv4j.Conv2dParams.AutoPad;
import dev.conv4j.Conv3dGeometry;
import dev.conv4j.Conv3dParams;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Random small 3-D convolutions covering every parameter: batch, channels, groups (depthwise with and
 * without a channel multiplier), kernel, stride, asymmetric padding, automatic padding, dilation, bias.
 */
final class Conv3dCases {
    /** One case. */
    static final class Case {
        final Conv3dParams params;
        final int[] x, w;
        final boolean bias;
        final long seed;

        Case(Conv3dParams params, int[] x, int[] w, boolean bias, long seed) {
            this.params = params;
            this.x = x;
            this.w = w;
            this.bias = bias;
            this.seed = seed;
        }

        Conv3dGeometry geometry() {
            return Conv3dGeometry.of(params, x, w);
        }

        @Override
        public String toString() {
            return geometry() + " " + params + (bias ? " bias" : "") + " seed " + seed;
        }
    }

    private Conv3dCases() {
    }

    static List<Case> generate(long seed, int count) {
        Random r = new Random(seed);
        List<Case> out = new ArrayList<>();
        while (out.size() < count) {
            int kind = r.nextInt(10);
            int groups = kind < 6 ? 1 : 1 + r.nextInt(3);
            int cg = 1 + r.nextInt(kind < 6 ? 4 : 3), og = 1 + r.nextInt(kind < 6 ? 5 : 3);
            if (kind == 9) {
                groups = 2 + r.nextInt(4); // depthwise, with or without a channel multiplier
                cg = 1;
                og = 1 + r.nextInt(2);
            }
            int n = 1 + r.nextInt(2);
            int d = 1 + r.nextInt(6), h = 1 + r.nextInt(7), w = 1 + r.nextInt(9);
            int kd = 1 + r.nextInt(3), kh = 1 + r.nextInt(3), kw = 1 + r.nextInt(4);
            Conv3dParams.Builder b = Conv3dParams.builder().groups(groups);
            if (kind == 8) {
                kd = kh = kw = 1; // pointwise: the input is the column matrix
            } else {
                b.stride(1 + r.nextInt(2), 1 + r.nextInt(3), 1 + r.nextInt(3))
                        .dilation(1 + (r.nextInt(3) == 0 ? 1 : 0), 1 + (r.nextInt(3) == 0 ? 1 : 0), 1 + (r.nextInt(3) == 0 ? 1 : 0));
                if (kind == 7) {
                    b.autoPad(AutoPad.values()[1 + r.nextInt(3)]);
                } else {
                    b.padding(r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3));
                }
            }
            Conv3dParams p = b.build();
            int[] xs = {n, cg * groups, d, h, w}, ws = {og * groups, cg, kd, kh, kw};
            try {
                Conv3dGeometry.of(p, xs, ws);
            } catch (IllegalArgumentException empty) {
                continue;
            }
            out.add(new Case(p, xs, ws, r.nextBoolean(), r.nextLong()));
        }
        return out;
    }
}
