package dev.conv4j.internal.engine;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvGeometry;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Random small convolutions covering every parameter: batch, channels, groups, kernel, stride, asymmetric padding, dilation, bias. */
final class RandomConfigs {
    /** One configuration. */
    static final class Config {
        final Conv2dParams params;
        final int[] x, w;
        final boolean bias;
        final long seed;

        Config(Conv2dParams params, int[] x, int[] w, boolean bias, long seed) {
            this.params = params;
            this.x = x;
            this.w = w;
            this.bias = bias;
            this.seed = seed;
        }

        ConvGeometry geometry() {
            return ConvGeometry.of(params, x, w);
        }

        @Override
        public String toString() {
            return geometry() + (bias ? " bias" : "") + " seed " + seed;
        }
    }

    private RandomConfigs() {
    }

    static List<Config> generate(long seed, int count) {
        Random r = new Random(seed);
        List<Config> out = new ArrayList<>();
        while (out.size() < count) {
            int kind = r.nextInt(10);
            int groups = kind < 6 ? 1 : 1 + r.nextInt(4);
            int cg = kind == 9 ? 1 : 1 + r.nextInt(kind < 6 ? 6 : 3);
            int og = 1 + r.nextInt(kind < 6 ? 6 : 3);
            if (kind == 9) {
                groups = 2 + r.nextInt(6); // depthwise, with or without a channel multiplier
                og = 1 + r.nextInt(2);
            }
            int n = 1 + r.nextInt(3);
            int h = 1 + r.nextInt(13), w = 1 + r.nextInt(13);
            int kh = 1 + r.nextInt(5), kw = 1 + r.nextInt(5);
            Conv2dParams.Builder b = Conv2dParams.builder().groups(groups);
            if (kind == 8) {
                kh = kw = 1; // pointwise: the input is the column matrix
            } else {
                b.stride(1 + r.nextInt(3), 1 + r.nextInt(3))
                        .dilation(1 + (r.nextInt(3) == 0 ? r.nextInt(3) : 0), 1 + (r.nextInt(3) == 0 ? r.nextInt(3) : 0))
                        .padding(r.nextInt(4), r.nextInt(4), r.nextInt(4), r.nextInt(4));
            }
            Conv2dParams p = b.build();
            int[] xs = {n, cg * groups, h, w}, ws = {og * groups, cg, kh, kw};
            try {
                ConvGeometry.of(p, xs, ws);
            } catch (IllegalArgumentException empty) {
                continue;
            }
            out.add(new Config(p, xs, ws, r.nextBoolean(), r.nextLong()));
        }
        return out;
    }
}
