/* Winograd F(2x2) and F(4x4), forward and input gradient, in chunks of tiles and blocks of channels,
   with and without the repair of non-finite tiles, as the Java side calls them. */
#include "selftest.h"
#include "winograd/winograd.h"

static size_t planes(int m) {
    return (size_t)(m + 2) * (m + 2);
}

/* The weight transform of the layer (flipped for the input gradient), in three ranges of weights. */
static float *transform(const conv *g, const float *w, int m, int flip) {
    const long long oc = (long long)g->o * g->c;
    float *u = nans(planes(m) * conv4j_wino_plane((size_t)oc));
    conv4j_wino_params p;
    memset(&p, 0, sizeof p);
    p.s = conv_shape(g, g->c, g->o);
    p.m = m;
    p.flip = flip;
    for (long long j0 = 0; j0 < oc; j0 += (oc + 2) / 3) {
        p.j0 = j0;
        p.jn = oc - j0 < (oc + 2) / 3 ? oc - j0 : (oc + 2) / 3;
        conv4j_wino_weights(&p, w, u);
    }
    return u;
}

/* Tiles of the pass s (tiles in all) in chunks of up to `chunk`, output channels in two blocks. */
static void run_tiles(conv4j_wino_params *p, int tiles, int chunk, const float *x, const float *u, const float *bias, float *y,
                      const float *raw) {
    const int m = p->m, cmax = p->s.c > p->s.o ? p->s.c : p->s.o;
    const size_t transform = planes(m) * conv4j_wino_plane((size_t)cmax * conv4j_wino_ld(chunk));
    const int width = p->s.ow > p->s.w ? p->s.ow : p->s.w;
    float *v = nans(transform), *mp = nans(transform), *scratch = nans(2 * (size_t)(m + 2) * ((size_t)m * ((width + m - 1) / m) + 2));
    const int o1 = p->s.o / 2;
    for (int t0 = 0; t0 < tiles; t0 += chunk)
        for (int blk = 0; blk < 2; blk++) {
            p->t0 = t0;
            p->tc = tiles - t0 < chunk ? tiles - t0 : chunk;
            p->first = blk ? o1 : 0;
            p->count = blk ? p->s.o - o1 : o1;
            if (p->count > 0) conv4j_wino_tiles(p, x, u, bias, y, v, mp, scratch, raw);
        }
    free(v); free(mp); free(scratch);
}

static int check_forward(const conv *g, int m, int t) {
    const size_t ny = (size_t)g->n * g->o * g->oh * g->ow, nx = (size_t)g->n * g->c * g->h * g->w;
    float *x = rnd(nx), *w = rnd((size_t)g->o * g->c * 9), *b = t % 2 ? rnd(g->o) : NULL, *y = nans(ny);
    const int repair = t % 4 == 3;
    if (repair) x[rand() % nx] = t % 8 == 3 ? NAN : INFINITY;
    double *ref = malloc(sizeof(double) * ny);
    for (int n = 0; n < g->n; n++)
        for (int o = 0; o < g->o; o++)
            for (int i = 0; i < g->oh; i++)
                for (int j = 0; j < g->ow; j++)
                    ref[(((size_t)n * g->o + o) * g->oh + i) * g->ow + j] = (b ? b[o] : 0.) + conv_forward(g, x, w, n, o, i, j);
    float *u = transform(g, w, m, 0);
    conv4j_wino_params p;
    memset(&p, 0, sizeof p);
    p.s = conv_shape(g, g->c, g->o);
    p.m = m;
    p.w_top = (uint32_t)conv4j_max_bits(w, 0, (long long)g->o * g->c * 9);
    const int tiles = g->n * ((g->oh + m - 1) / m) * ((g->ow + m - 1) / m);
    run_tiles(&p, tiles, rnd_int(1, tiles), x, u, b, y, repair ? w : NULL);
    char what[200];
    snprintf(what, sizeof what, "Winograd F(%dx%d) forward (%dx%dx%d input, %d outputs, pad %d,%d%s)", m, m, g->c, g->h, g->w,
             g->o, g->pt, g->pl, repair ? ", repaired" : "");
    int bad = check_all(what, t, y, ref, ny, m == 4 ? 1e-4 : 1e-5);
    free(x); free(w); free(b); free(y); free(u); free(ref);
    return bad;
}

/* The input gradient: the convolution of gy with the flipped, transposed kernels, padded by 2 - p. */
static int check_data(const conv *g, int m, int t) {
    const size_t ny = (size_t)g->n * g->o * g->oh * g->ow, nx = (size_t)g->n * g->c * g->h * g->w;
    const int accumulate = t % 3 == 1, repair = t % 4 == 3;
    float *gy = rnd(ny), *w = rnd((size_t)g->o * g->c * 9), *gx = accumulate ? rnd(nx) : nans(nx);
    if (repair) gy[rand() % ny] = INFINITY;
    double *ref = malloc(sizeof(double) * nx);
    conv_input_gradient(g, gy, w, ref);
    for (size_t e = 0; accumulate && e < nx; e++) ref[e] += gx[e];
    float *u = transform(g, w, m, 1);
    conv4j_wino_params p;
    memset(&p, 0, sizeof p);
    const conv4j_conv_shape s = {g->n, g->o, g->oh, g->ow, g->c, 3, 3, g->h, g->w, 1, 1, 2 - g->pt, 2 - g->pl, 1, 1, 1};
    p.s = s;
    p.m = m;
    p.transpose_u = 1;
    p.accumulate = accumulate;
    p.w_top = (uint32_t)conv4j_max_bits(w, 0, (long long)g->o * g->c * 9);
    const int tiles = g->n * ((g->h + m - 1) / m) * ((g->w + m - 1) / m);
    run_tiles(&p, tiles, rnd_int(1, tiles), gy, u, NULL, gx, repair ? w : NULL);
    char what[200];
    snprintf(what, sizeof what, "Winograd F(%dx%d) input gradient (%dx%dx%d input, %d outputs, pad %d,%d%s%s)", m, m, g->c,
             g->h, g->w, g->o, g->pt, g->pl, accumulate ? ", accumulating" : "", repair ? ", repaired" : "");
    int bad = check_all(what, t, gx, ref, nx, m == 4 ? 1e-4 : 1e-5);
    free(gy); free(w); free(gx); free(u); free(ref);
    return bad;
}

int check_winograd(void) {
    int cases = 0;
    for (int t = 0; t < 40 && !failures; t++, cases++) {
        conv g;
        do {
            g.n = rnd_int(1, 2);
            g.groups = 1;
            g.c = rnd_int(1, 6);
            g.o = rnd_int(1, 6);
            g.kh = g.kw = 3;
            g.sh = g.sw = g.dh = g.dw = 1;
            g.pt = rnd_int(0, 2); g.pb = rnd_int(0, 2); g.pl = rnd_int(0, 2); g.pr = rnd_int(0, 2);
            g.h = rnd_int(1, 13); g.w = rnd_int(1, 21);
        } while (!conv_resolve(&g));
        const int m = t % 2 ? 4 : 2;
        if (!check_forward(&g, m, t)) check_data(&g, m, t);
    }
    return cases;
}
