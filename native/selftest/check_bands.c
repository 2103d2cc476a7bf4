/* The im2col passes (conv4j_forward_band and the backward bands) as the Java side calls them:
   every image, group, block of channels and band of rows of a random layer. */
#include "selftest.h"

/* A random layer: small, wide enough for conv4j's gathering GEMM (256 columns and more), or
   pointwise. */
static conv random_layer(int t) {
    conv g;
    do {
        const int kind = t % 4; /* 0 small, 1 wide, 2 pointwise, 3 wide weight-gradient blocks */
        g.n = rnd_int(1, 2);
        g.groups = kind == 0 ? rnd_int(1, 3) : 1;
        const int cg = kind == 3 ? rnd_int(20, 40) : rnd_int(1, 4), og = rnd_int(1, kind == 1 ? 40 : 6);
        g.c = g.groups * cg;
        g.o = g.groups * og;
        g.kh = kind == 2 ? 1 : rnd_int(1, 4);
        g.kw = kind == 2 ? 1 : rnd_int(1, 5);
        g.sh = kind == 2 ? 1 : rnd_int(1, 3);
        g.sw = kind == 2 ? 1 : rnd_int(1, 3);
        g.dh = kind == 2 ? 1 : rnd_int(1, 2);
        g.dw = kind == 2 ? 1 : rnd_int(1, 2);
        g.pt = g.pb = g.pl = g.pr = 0;
        if (kind != 2) {
            g.pt = rnd_int(0, 2); g.pb = rnd_int(0, 2); g.pl = rnd_int(0, 2); g.pr = rnd_int(0, 2);
        }
        g.h = g.dh * (g.kh - 1) + rnd_int(1, kind == 1 ? 40 : 12);
        g.w = g.dw * (g.kw - 1) + rnd_int(1, kind == 0 ? 12 : 45);
    } while (!conv_resolve(&g));
    return g;
}

static conv4j_band_params band(const conv *g, int c, int o, int cn, int oh0, int rows, int ready, float beta) {
    conv4j_band_params p;
    memset(&p, 0, sizeof p);
    p.s = conv_shape(g, c, o);
    p.cn = cn;
    p.oh0 = oh0;
    p.rows = rows;
    p.pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt + g->pb + g->pl + g->pr == 0;
    p.ready = ready;
    p.beta = beta;
    return p;
}

/* Forward in bands of `rows`, each band in two blocks of output channels, the second reusing the
   first's column matrix where it built one. */
static int check_forward(const conv *g, float *pack, int t, int rows) {
    const int cg = g->c / g->groups, og = g->o / g->groups, K = cg * g->kh * g->kw, P = g->oh * g->ow;
    float *x = rnd((size_t)g->n * g->c * g->h * g->w), *w = rnd((size_t)g->o * K), *b = t % 2 ? rnd(g->o) : NULL;
    float *y = nans((size_t)g->n * g->o * P), *col = nans((size_t)K * P);
    double *ref = malloc(sizeof(double) * (size_t)g->n * g->o * P);
    for (int n = 0; n < g->n; n++)
        for (int o = 0; o < g->o; o++)
            for (int i = 0; i < g->oh; i++)
                for (int j = 0; j < g->ow; j++)
                    ref[(((size_t)n * g->o + o) * g->oh + i) * g->ow + j] = (b ? b[o] : 0.) + conv_forward(g, x, w, n, o, i, j);
    const int o1 = og / 2;
    for (int n = 0; n < g->n; n++)
        for (int grp = 0; grp < g->groups; grp++)
            for (int r0 = 0; r0 < g->oh; r0 += rows) {
                const int r = r0 + rows > g->oh ? g->oh - r0 : rows;
                int built = 0;
                for (int blk = 0; blk < 2; blk++) {
                    const int o0 = blk ? o1 : 0, on = blk ? og - o1 : o1, oc = grp * og + o0;
                    if (on == 0) continue;
                    conv4j_band_params p = band(g, cg, on, 0, r0, r, blk && built, 0.f);
                    p.off[0] = ((long long)n * g->c + (long long)grp * cg) * g->h * g->w;
                    p.off[1] = (long long)oc * K;
                    p.off[2] = oc;
                    p.off[3] = ((long long)n * g->o + oc) * P;
                    built = conv4j_forward_band(&p, x, w, b, y, p.pointwise ? NULL : col, pack);
                }
            }
    char what[200];
    snprintf(what, sizeof what, "forward bands (%dx%dx%d input, kernel %dx%d, stride %d,%d, groups %d, bands of %d)", g->c,
             g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->groups, rows);
    int bad = check_all(what, t, y, ref, (size_t)g->n * g->o * P, 1e-5);
    free(x); free(w); free(b); free(y); free(col); free(ref);
    return bad;
}

/* The input gradient in bands, in two blocks of input channels; cleared first unless it
   accumulates (a pointwise layer writes its bands itself: no clearing). */
static int check_data(const conv *g, float *pack, int t, int rows) {
    const int cg = g->c / g->groups, og = g->o / g->groups, K = cg * g->kh * g->kw, khkw = g->kh * g->kw, P = g->oh * g->ow;
    const int accumulate = t % 3 == 1, pointwise = band(g, 0, 0, 0, 0, 0, 0, 0.f).pointwise;
    const size_t nx = (size_t)g->n * g->c * g->h * g->w;
    float *gy = rnd((size_t)g->n * g->o * P), *w = rnd((size_t)g->o * K), *gx = accumulate ? rnd(nx) : pointwise ? nans(nx) : calloc(nx, sizeof(float));
    float *col = nans((size_t)K * P);
    double *ref = malloc(sizeof(double) * nx);
    conv_input_gradient(g, gy, w, ref);
    for (size_t e = 0; accumulate && e < nx; e++) ref[e] += gx[e];
    const int c1 = cg / 2;
    for (int n = 0; n < g->n; n++)
        for (int grp = 0; grp < g->groups; grp++)
            for (int blk = 0; blk < 2; blk++) {
                const int c0 = blk ? c1 : 0, cn = blk ? cg - c1 : c1;
                for (int r0 = 0; cn > 0 && r0 < g->oh; r0 += rows) {
                    const int r = r0 + rows > g->oh ? g->oh - r0 : rows;
                    conv4j_band_params p = band(g, cg, og, cn, r0, r, 0, accumulate ? 1.f : 0.f);
                    p.off[0] = ((long long)n * g->o + (long long)grp * og) * P;
                    p.off[1] = (long long)grp * og * K + (long long)c0 * khkw;
                    p.off[2] = ((long long)n * g->c + (long long)grp * cg + c0) * g->h * g->w;
                    conv4j_backward_data_band(&p, gy, w, gx, pointwise ? NULL : col, pack);
                }
            }
    char what[200];
    snprintf(what, sizeof what, "input-gradient bands (%dx%dx%d input, kernel %dx%d, stride %d,%d, groups %d, bands of %d%s)",
             g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->groups, rows, accumulate ? ", accumulating" : "");
    int bad = check_all(what, t, gx, ref, nx, 1e-5);
    free(gy); free(w); free(gx); free(col); free(ref);
    return bad;
}

/* The weight gradient in bands over the images, in two blocks of input channels and two of output
   channels: the first band of the first image overwrites (unless it accumulates), the others add. */
static int check_weights(const conv *g, float *pack, int t, int rows) {
    const int cg = g->c / g->groups, og = g->o / g->groups, K = cg * g->kh * g->kw, khkw = g->kh * g->kw, P = g->oh * g->ow;
    const int accumulate = t % 3 == 2;
    const size_t nw = (size_t)g->o * K;
    float *x = rnd((size_t)g->n * g->c * g->h * g->w), *gy = rnd((size_t)g->n * g->o * P), *gw = accumulate ? rnd(nw) : nans(nw);
    float *col = nans((size_t)K * P);
    double *ref = malloc(sizeof(double) * nw);
    conv_weight_gradient(g, x, gy, ref);
    for (size_t e = 0; accumulate && e < nw; e++) ref[e] += gw[e];
    const int c1 = (cg + 1) / 2, o1 = og / 2;
    for (int grp = 0; grp < g->groups; grp++)
        for (int cb = 0; cb < 2; cb++)
            for (int ob = 0; ob < 2; ob++) {
                const int c0 = cb ? c1 : 0, cn = cb ? cg - c1 : c1, o0 = ob ? o1 : 0, on = ob ? og - o1 : o1;
                for (int n = 0; cn > 0 && on > 0 && n < g->n; n++)
                    for (int r0 = 0; r0 < g->oh; r0 += rows) {
                        const int r = r0 + rows > g->oh ? g->oh - r0 : rows;
                        conv4j_band_params p = band(g, cg, on, cn, r0, r, 0, accumulate || n > 0 || r0 > 0 ? 1.f : 0.f);
                        p.off[0] = ((long long)n * g->c + (long long)grp * cg + c0) * g->h * g->w;
                        p.off[1] = ((long long)n * g->o + (long long)grp * og + o0) * P;
                        p.off[2] = ((long long)grp * og + o0) * K + (long long)c0 * khkw;
                        conv4j_backward_weights_band(&p, x, gy, gw, p.pointwise ? NULL : col, pack);
                    }
            }
    char what[200];
    snprintf(what, sizeof what, "weight-gradient bands (%dx%dx%d input, kernel %dx%d, stride %d,%d, groups %d, bands of %d%s)",
             g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->groups, rows, accumulate ? ", accumulating" : "");
    int bad = check_all(what, t, gw, ref, nw, 1e-5);
    free(x); free(gy); free(gw); free(col); free(ref);
    return bad;
}

int check_bands(void) {
    const long long packed = conv4j_gemm_pack_size();
    float *pack = packed ? malloc(sizeof(float) * (size_t)packed) : NULL;
    int cases = 0;
    for (int t = 0; t < 80 && !failures; t++, cases++) {
        conv g = random_layer(t);
        const int rows = t % 5 == 0 ? rnd_int(1, g.oh) : g.oh;
        float *pk = t % 3 == 2 ? NULL : pack; /* without the packing buffer every product goes to OpenBLAS */
        if (!check_forward(&g, pk, t, rows) && !check_data(&g, pk, t, rows)) check_weights(&g, pk, t, rows);
    }
    free(pack);
    return cases;
}
