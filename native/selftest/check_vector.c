/* The whole-array helpers: fill, the largest magnitude, the bias gradient's channel sums. */
#include "selftest.h"

int check_vector(void) {
    int cases = 0;
    for (int t = 0; t < 30 && !failures; t++, cases++) {
        const int n = rnd_int(1, 3), c = rnd_int(1, 5), plane = rnd_int(1, 70), c0 = rnd_int(0, c - 1), cn = rnd_int(1, c - c0);
        const size_t all = (size_t)n * c * plane;
        float *g = rnd(all), *out = t % 2 ? rnd(c) : nans(c), *fill = rnd(all + 2);
        double ref[5];
        for (int i = 0; i < c; i++) {
            ref[i] = out[i];
            if (i < c0 || i >= c0 + cn) continue;
            double s = t % 2 ? out[i] : 0.;
            for (int k = 0; k < n; k++)
                for (int j = 0; j < plane; j++) s += g[((size_t)k * c + i) * plane + j];
            ref[i] = s;
        }
        conv4j_channel_sums(g, n, c, plane, c0, cn, out, t % 2);
        if (check_all("channel sums", t, out, ref, (size_t)c, 1e-5)) break;
        /* the largest magnitude, as bits; an infinity or a NaN from 0x7f800000 up */
        const size_t at = (size_t)rand() % all;
        g[at] = t % 3 == 0 ? -3.5f : t % 3 == 1 ? -INFINITY : NAN;
        uint32_t bits = (uint32_t)conv4j_max_bits(g, 0, (long long)all);
        if ((t % 3 == 0 && bits != 0x40600000u) || (t % 3 != 0 && bits < 0x7f800000u)) {
            fprintf(stderr, "max_bits, case %d: %08x\n", t, bits);
            failures++;
        }
        const float v = t % 2 ? 0.f : 2.5f;
        conv4j_fill(fill, 1, (long long)all, v);
        for (size_t e = 1; e <= all && !failures; e++) {
            if (fill[e] != v) {
                fprintf(stderr, "fill, case %d: element %zu is %g, not %g\n", t, e, fill[e], v);
                failures++;
            }
        }
        free(g); free(out); free(fill);
    }
    return cases;
}
