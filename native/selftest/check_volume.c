/* The 3-D convolution family (volume/): vol2col and col2vol against their definition, and the band
   passes as the Java side calls them, against the definition in double. */
#include "selftest.h"
#include "volume/volume.h"

/* A 3-D convolution: x (n, c, d, h, w), weights (o, c / groups, kd, kh, kw), y (n, o, od, oh, ow). */
typedef struct {
    int n, c, d, h, w, o, groups, kd, kh, kw, sd, sh, sw, pf, pk, pt, pb, pl, pr, dd, dh, dw, od, oh, ow;
} vconv;

/* A random layer: small and odd-sized, wide enough for conv4j's own GEMM kernels, or pointwise. */
static vconv random_vconv(int t) {
    vconv g;
    for (;;) {
        const int kind = t % 4; /* 0 small, 1 wide, 2 pointwise, 3 grouped */
        g.n = rnd_int(1, 2);
        g.groups = kind == 3 ? rnd_int(2, 3) : 1;
        const int cg = rnd_int(1, kind == 1 ? 6 : 3), og = rnd_int(1, kind == 1 ? 20 : 4);
        g.c = g.groups * cg;
        g.o = g.groups * og;
        const int pw = kind == 2;
        g.kd = pw ? 1 : rnd_int(1, 3);
        g.kh = pw ? 1 : rnd_int(1, 3);
        g.kw = pw ? 1 : rnd_int(1, 4);
        g.sd = pw ? 1 : rnd_int(1, 2);
        g.sh = pw ? 1 : rnd_int(1, 3);
        g.sw = pw ? 1 : rnd_int(1, 3);
        g.dd = pw ? 1 : rnd_int(1, 2);
        g.dh = pw ? 1 : rnd_int(1, 2);
        g.dw = pw ? 1 : rnd_int(1, 2);
        g.pf = g.pk = g.pt = g.pb = g.pl = g.pr = 0;
        if (!pw) {
            g.pf = rnd_int(0, 2); g.pk = rnd_int(0, 2); g.pt = rnd_int(0, 2);
            g.pb = rnd_int(0, 2); g.pl = rnd_int(0, 2); g.pr = rnd_int(0, 2);
        }
        g.d = g.dd * (g.kd - 1) + rnd_int(1, 6);
        g.h = g.dh * (g.kh - 1) + rnd_int(1, 8);
        g.w = g.dw * (g.kw - 1) + rnd_int(1, kind == 1 ? 40 : 11);
        long long sd = (long long)g.d + g.pf + g.pk - (long long)g.dd * (g.kd - 1) - 1;
        long long sh = (long long)g.h + g.pt + g.pb - (long long)g.dh * (g.kh - 1) - 1;
        long long sw = (long long)g.w + g.pl + g.pr - (long long)g.dw * (g.kw - 1) - 1;
        if (sd < 0 || sh < 0 || sw < 0) continue;
        g.od = (int)(sd / g.sd + 1);
        g.oh = (int)(sh / g.sh + 1);
        g.ow = (int)(sw / g.sw + 1);
        return g;
    }
}

static int vpointwise(const vconv *g) {
    return g->kd == 1 && g->kh == 1 && g->kw == 1 && g->sd == 1 && g->sh == 1 && g->sw == 1
           && g->pf + g->pk + g->pt + g->pb + g->pl + g->pr == 0;
}

/* The input index tap (a, p, q) reads for output (z, i, j) of image n, channel c, or -1 in the padding. */
static long long vsource(const vconv *g, int n, int c, int z, int i, int j, int a, int p, int q) {
    long long iz = (long long)z * g->sd - g->pf + (long long)a * g->dd;
    long long ih = (long long)i * g->sh - g->pt + (long long)p * g->dh;
    long long iw = (long long)j * g->sw - g->pl + (long long)q * g->dw;
    if (iz < 0 || iz >= g->d || ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) return -1;
    return ((((long long)n * g->c + c) * g->d + iz) * g->h + ih) * g->w + iw;
}

static size_t vx(const vconv *g) { return (size_t)g->n * g->c * g->d * g->h * g->w; }
static size_t vy(const vconv *g) { return (size_t)g->n * g->o * g->od * g->oh * g->ow; }
static int vk(const vconv *g) { return g->c / g->groups * g->kd * g->kh * g->kw; }

/* The three passes by the definition in double: y (no bias), gx and gw. */
static void vdefinition(const vconv *g, const float *x, const float *w, const float *gy, double *y, double *gx, double *gw) {
    const int cg = g->c / g->groups, og = g->o / g->groups, K = vk(g);
    memset(y, 0, sizeof(double) * vy(g));
    memset(gx, 0, sizeof(double) * vx(g));
    memset(gw, 0, sizeof(double) * (size_t)g->o * K);
    for (int n = 0; n < g->n; n++)
        for (int o = 0; o < g->o; o++)
            for (int z = 0; z < g->od; z++)
                for (int i = 0; i < g->oh; i++)
                    for (int j = 0; j < g->ow; j++) {
                        const size_t yi = ((((size_t)n * g->o + o) * g->od + z) * g->oh + i) * g->ow + j;
                        for (int c = 0; c < cg; c++)
                            for (int a = 0; a < g->kd; a++)
                                for (int p = 0; p < g->kh; p++)
                                    for (int q = 0; q < g->kw; q++) {
                                        const size_t wi = (size_t)o * K + (((size_t)c * g->kd + a) * g->kh + p) * g->kw + q;
                                        long long at = vsource(g, n, o / og * cg + c, z, i, j, a, p, q);
                                        if (at < 0) continue;
                                        y[yi] += (double)w[wi] * x[at];
                                        gx[at] += (double)w[wi] * gy[yi];
                                        gw[wi] += (double)gy[yi] * x[at];
                                    }
                    }
}

static conv4j_vol_params vparams(const vconv *g, int c, int o, int cn, int r0, int rows, float beta) {
    conv4j_vol_params p;
    memset(&p, 0, sizeof p);
    conv4j_conv_shape s = {g->n, c, g->h, g->w, o, g->kh, g->kw, g->oh, g->ow, g->sh, g->sw, g->pt, g->pl, g->dh, g->dw, 1};
    p.s = s;
    p.d = g->d; p.kd = g->kd; p.od = g->od; p.sd = g->sd; p.pf = g->pf; p.dd = g->dd;
    p.cn = cn; p.r0 = r0; p.rows = rows;
    p.pointwise = vpointwise(g);
    p.beta = beta;
    return p;
}

/* vol2col of a random band into a NaN-filled matrix, and col2vol of a random matrix onto a random
   volume, against the entries' definition. */
static int check_columns(const vconv *g, int t) {
    const int R = g->od * g->oh, r0 = rnd_int(0, R - 1), rows = rnd_int(1, R - r0);
    const int cn = g->c, taps = g->kd * g->kh * g->kw;
    const size_t in = (size_t)cn * g->d * g->h * g->w, n = (size_t)cn * taps * rows * g->ow;
    float *x = rnd(in), *col = nans(n), *back = rnd(n), *gx = rnd(in);
    double *ref = malloc(sizeof(double) * n), *sum = malloc(sizeof(double) * in);
    for (size_t e = 0; e < in; e++) sum[e] = gx[e];
    vconv one = *g;
    one.n = 1;
    one.groups = 1;
    size_t e = 0;
    for (int c = 0; c < cn; c++)
        for (int a = 0; a < g->kd; a++)
            for (int p = 0; p < g->kh; p++)
                for (int q = 0; q < g->kw; q++)
                    for (int r = r0; r < r0 + rows; r++)
                        for (int j = 0; j < g->ow; j++, e++) {
                            long long at = vsource(&one, 0, c, r / g->oh, r % g->oh, j, a, p, q);
                            ref[e] = at < 0 ? 0. : x[at];
                            if (at >= 0) sum[at] += back[e];
                        }
    const conv4j_volume s = {x, cn, g->d, g->h, g->w, g->kd, g->kh, g->kw, g->pf, g->pt, g->pl, g->sd, g->sh, g->sw,
                             g->dd, g->dh, g->dw, g->oh, g->ow, r0, rows};
    conv4j_vol2col(&s, col);
    conv4j_col2vol(&s, back, gx);
    char what[200];
    snprintf(what, sizeof what, "vol2col (%dx%dx%d input, kernel %dx%dx%d, stride %d,%d,%d, rows [%d, %d))", g->d, g->h, g->w,
             g->kd, g->kh, g->kw, g->sd, g->sh, g->sw, r0, r0 + rows);
    int bad = check_all(what, t, col, ref, n, 0.);
    snprintf(what, sizeof what, "col2vol (%dx%dx%d input, kernel %dx%dx%d, stride %d,%d,%d, rows [%d, %d))", g->d, g->h, g->w,
             g->kd, g->kh, g->kw, g->sd, g->sh, g->sw, r0, r0 + rows);
    bad = bad || check_all(what, t, gx, sum, in, 1e-6);
    free(x); free(col); free(back); free(gx); free(ref); free(sum);
    return bad;
}

/* The three band passes over every image, group and band of `rows` rows: forward (with a bias on odd
   cases, adding onto y every third), the input gradient in two blocks of channels, the weight
   gradient in two blocks of channels summed over the images and bands. */
static int check_passes(const vconv *g, float *pack, int t, int rows) {
    const int cg = g->c / g->groups, og = g->o / g->groups, K = vk(g), taps = g->kd * g->kh * g->kw;
    const int R = g->od * g->oh, P = R * g->ow, pw = vpointwise(g), accumulate = t % 3 == 1;
    const size_t nx = vx(g), ny = vy(g), nw = (size_t)g->o * K;
    float *x = rnd(nx), *w = rnd(nw), *gy = rnd(ny), *b = t % 2 ? rnd(g->o) : NULL;
    float *y = accumulate ? rnd(ny) : nans(ny), *gx = accumulate ? rnd(nx) : pw ? nans(nx) : calloc(nx, sizeof(float));
    float *gw = accumulate ? rnd(nw) : nans(nw), *col = nans((size_t)K * P);
    double *ry = malloc(sizeof(double) * ny), *rgx = malloc(sizeof(double) * nx), *rgw = malloc(sizeof(double) * nw);
    vdefinition(g, x, w, gy, ry, rgx, rgw);
    for (size_t e = 0; e < ny; e++) ry[e] += (b ? b[e / P % g->o] : 0.) + (accumulate ? y[e] : 0.);
    for (size_t e = 0; accumulate && e < nx; e++) rgx[e] += gx[e];
    for (size_t e = 0; accumulate && e < nw; e++) rgw[e] += gw[e];
    for (int n = 0; n < g->n; n++)
        for (int grp = 0; grp < g->groups; grp++)
            for (int r0 = 0; r0 < R; r0 += rows) {
                const int r = r0 + rows > R ? R - r0 : rows, oc = grp * og;
                conv4j_vol_params p = vparams(g, cg, og, 0, r0, r, accumulate ? 1.f : 0.f);
                p.off[0] = ((long long)n * g->c + (long long)grp * cg) * g->d * g->h * g->w;
                p.off[1] = (long long)oc * K;
                p.off[2] = oc;
                p.off[3] = ((long long)n * g->o + oc) * P;
                conv4j_vol_forward_band(&p, x, w, b, y, pw ? NULL : col, pack);
            }
    const int c1 = cg / 2;
    for (int n = 0; n < g->n; n++)
        for (int grp = 0; grp < g->groups; grp++)
            for (int blk = 0; blk < 2; blk++) {
                const int c0 = blk ? c1 : 0, cn = blk ? cg - c1 : c1;
                for (int r0 = 0; cn > 0 && r0 < R; r0 += rows) {
                    const int r = r0 + rows > R ? R - r0 : rows;
                    conv4j_vol_params p = vparams(g, cg, og, cn, r0, r, accumulate || !pw ? 1.f : 0.f);
                    p.off[0] = ((long long)n * g->o + (long long)grp * og) * P;
                    p.off[1] = (long long)grp * og * K + (long long)c0 * taps;
                    p.off[2] = ((long long)n * g->c + (long long)grp * cg + c0) * g->d * g->h * g->w;
                    conv4j_vol_backward_data_band(&p, gy, w, gx, pw ? NULL : col, pack);
                }
            }
    for (int grp = 0; grp < g->groups; grp++)
        for (int blk = 0; blk < 2; blk++) {
            const int c0 = blk ? c1 : 0, cn = blk ? cg - c1 : c1;
            for (int n = 0; cn > 0 && n < g->n; n++)
                for (int r0 = 0; r0 < R; r0 += rows) {
                    const int r = r0 + rows > R ? R - r0 : rows;
                    conv4j_vol_params p = vparams(g, cg, og, cn, r0, r, accumulate || n > 0 || r0 > 0 ? 1.f : 0.f);
                    p.off[0] = ((long long)n * g->c + (long long)grp * cg + c0) * g->d * g->h * g->w;
                    p.off[1] = ((long long)n * g->o + (long long)grp * og) * P;
                    p.off[2] = (long long)grp * og * K + (long long)c0 * taps;
                    conv4j_vol_backward_weights_band(&p, x, gy, gw, pw ? NULL : col, pack);
                }
        }
    char shape[200], what[240];
    snprintf(shape, sizeof shape, "%dx%dx%dx%d input, kernel %dx%dx%d, stride %d,%d,%d, groups %d, bands of %d%s", g->c, g->d,
             g->h, g->w, g->kd, g->kh, g->kw, g->sd, g->sh, g->sw, g->groups, rows, accumulate ? ", accumulating" : "");
    const double tol = 1e-5 * (1 + sqrt((double)K));
    snprintf(what, sizeof what, "3-D forward bands (%s)", shape);
    int bad = check_all(what, t, y, ry, ny, tol);
    snprintf(what, sizeof what, "3-D input-gradient bands (%s)", shape);
    bad = bad || check_all(what, t, gx, rgx, nx, tol);
    snprintf(what, sizeof what, "3-D weight-gradient bands (%s)", shape);
    bad = bad || check_all(what, t, gw, rgw, nw, 1e-5 * (1 + sqrt((double)g->n * P)));
    free(x); free(w); free(gy); free(b); free(y); free(gx); free(gw); free(col); free(ry); free(rgx); free(rgw);
    return bad;
}

/* The bias gradient: one value at a time in double, so exactly the sum the Java engines make. */
static int check_sums(const vconv *g, int t) {
    const int P = g->od * g->oh * g->ow, acc = t % 2;
    float *gy = rnd(vy(g)), *out = acc ? rnd(g->o) : nans(g->o);
    double *ref = malloc(sizeof(double) * g->o);
    for (int o = 0; o < g->o; o++) {
        double s = 0;
        for (int n = 0; n < g->n; n++)
            for (int j = 0; j < P; j++) s += gy[((size_t)n * g->o + o) * P + j];
        ref[o] = (float)(acc ? out[o] + s : s);
    }
    const int c1 = g->o / 2;
    if (c1 > 0) conv4j_vol_channel_sums(gy, g->n, g->o, P, 0, c1, out, acc);
    conv4j_vol_channel_sums(gy, g->n, g->o, P, c1, g->o - c1, out, acc);
    int bad = check_all("3-D bias-gradient sums", t, out, ref, g->o, 0.);
    free(gy); free(out); free(ref);
    return bad;
}

int check_volume(void) {
    const long long packed = conv4j_gemm_pack_size();
    float *pack = packed ? malloc(sizeof(float) * (size_t)packed) : NULL;
    int cases = 0;
    for (int t = 0; t < 60 && !failures; t++, cases++) {
        vconv g = random_vconv(t);
        const int R = g.od * g.oh, rows = t % 3 == 0 ? rnd_int(1, R) : R;
        float *pk = t % 5 == 4 ? NULL : pack; /* without the packing buffer every product goes to OpenBLAS */
        if (!check_columns(&g, t) && !check_passes(&g, pk, t, rows)) check_sums(&g, t);
    }
    free(pack);
    return cases;
}
