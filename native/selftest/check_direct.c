/* The direct kernel for small stride-1 layers, as the Java side calls it: every image, group and
   block of output channels. */
#include "selftest.h"

int check_direct(void) {
    int cases = 0;
    for (int t = 0; t < 60 && !failures; t++, cases++) {
        conv g;
        do {
            g.n = rnd_int(1, 2);
            g.groups = rnd_int(1, 3);
            g.c = g.groups * rnd_int(1, 4);
            g.o = g.groups * rnd_int(1, 20);
            g.kh = rnd_int(1, 5); g.kw = rnd_int(1, 5);
            g.sh = g.sw = 1;
            g.dh = rnd_int(1, 2); g.dw = rnd_int(1, 2);
            g.pt = rnd_int(0, 3); g.pb = rnd_int(0, 3); g.pl = rnd_int(0, 3); g.pr = rnd_int(0, 3);
            g.h = rnd_int(1, 20); g.w = rnd_int(1, 30);
        } while (!conv_resolve(&g));
        const int cg = g.c / g.groups, og = g.o / g.groups, K = cg * g.kh * g.kw, P = g.oh * g.ow;
        const size_t ny = (size_t)g.n * g.o * P;
        float *x = rnd((size_t)g.n * g.c * g.h * g.w), *w = rnd((size_t)g.o * K), *b = t % 2 ? rnd(g.o) : NULL, *y = nans(ny);
        if (t % 7 == 6) w[rand() % (g.o * K)] = INFINITY; /* a padded zero it meets makes NaN, as in the definition */
        float *scratch = nans((size_t)cg * (g.oh + (g.kh - 1) * g.dh) * (g.ow + (g.kw - 1) * g.dw) + 16);
        double *ref = malloc(sizeof(double) * ny);
        for (int n = 0; n < g.n; n++)
            for (int o = 0; o < g.o; o++)
                for (int i = 0; i < g.oh; i++)
                    for (int j = 0; j < g.ow; j++)
                        ref[(((size_t)n * g.o + o) * g.oh + i) * g.ow + j] = (b ? b[o] : 0.) + conv_forward(&g, x, w, n, o, i, j);
        const int o1 = rnd_int(0, og - 1);
        for (int n = 0; n < g.n; n++)
            for (int grp = 0; grp < g.groups; grp++)
                for (int blk = 0; blk < 2; blk++) {
                    conv4j_direct_params p;
                    memset(&p, 0, sizeof p);
                    p.s = conv_shape(&g, cg, og);
                    p.first = blk ? o1 : 0;
                    p.count = blk ? og - o1 : o1;
                    if (p.count == 0) continue;
                    p.off[0] = ((long long)n * g.c + (long long)grp * cg) * g.h * g.w;
                    p.off[1] = (long long)grp * og * K;
                    p.off[2] = (long long)grp * og;
                    p.off[3] = ((long long)n * g.o + (long long)grp * og) * P;
                    conv4j_direct_forward(&p, x, w, b, y, scratch);
                }
        char what[200];
        snprintf(what, sizeof what, "direct forward (%dx%dx%d input, %d outputs, kernel %dx%d, dilation %d,%d, groups %d)", g.c,
                 g.h, g.w, g.o, g.kh, g.kw, g.dh, g.dw, g.groups);
        check_all(what, t, y, ref, ny, 1e-5);
        free(x); free(w); free(b); free(y); free(scratch); free(ref);
    }
    return cases;
}
