/* Every depthwise algorithm of one variant, called directly, and the passes that choose among them. */
#include "selftest.h"

/* A random depthwise layer: up to 20 channels (a block of 16 and a tail), multipliers 1 and 2,
   mostly 3x3, strides 1 to 3, rows from 1 to 70 outputs (strided layers short enough for the
   channel-vector kernels, stride-1 ones long enough for the phase rows). */
static conv random_depthwise(int t) {
    conv g;
    do {
        g.n = rnd_int(1, 2);
        g.c = g.groups = t % 4 == 0 ? rnd_int(15, 20) : rnd_int(1, 5);
        g.o = g.c * rnd_int(1, 2);
        g.kh = t % 3 ? 3 : rnd_int(1, 5);
        g.kw = t % 3 ? 3 : rnd_int(1, 5);
        g.sh = rnd_int(1, 3);
        g.sw = t % 5 == 0 ? g.sh : rnd_int(1, 3);
        g.dh = rnd_int(1, 2);
        g.dw = rnd_int(1, 2);
        g.pt = rnd_int(0, 3); g.pb = rnd_int(0, 3); g.pl = rnd_int(0, 3); g.pr = rnd_int(0, 3);
        g.h = rnd_int(1, 24);
        g.w = rnd_int(1, t % 2 ? 70 : 20);
    } while (!conv_resolve(&g));
    return g;
}

static conv4j_dw_params dw_params(const conv *g, int first, int count, int accumulate) {
    conv4j_dw_params p;
    memset(&p, 0, sizeof p);
    p.s = conv_shape(g, g->c, g->o);
    p.first = first;
    p.count = count;
    p.accumulate = accumulate;
    return p;
}

/* Makes a few values of p (n of them) infinite or NaN, in some cases. */
static void spoil(float *p, size_t n, int t) {
    if (t % 6 != 5 || n == 0) return;
    p[rand() % n] = INFINITY;
    p[rand() % n] = t % 12 == 5 ? NAN : -INFINITY;
}

static const char *describe(char *buf, size_t size, const char *what, const char *isa, const conv *g) {
    snprintf(buf, size, "%s %s (%d channels x%d, %dx%d input, kernel %dx%d, stride %d,%d, dilation %d,%d, pad %d,%d)", isa,
             what, g->c, g->o / g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->dh, g->dw, g->pt, g->pl);
    return buf;
}

typedef int (*dw_forward_fn)(const conv4j_dw_params *, const float *, const float *, const float *, float *);

static int rows_forward(const conv4j_dw_params *p, const float *x, const float *w, const float *b, float *y) {
    conv4j_dw_forward_rows(p, x, w, b, y);
    return 1;
}

static int api_forward(const conv4j_dw_params *p, const float *x, const float *w, const float *b, float *y) {
    conv4j_dw_forward(p, x, w, b, y);
    return 1;
}

/* The forward pass of image 0 by fn, output channels in two blocks, into NaNs. */
static int forward_by(const char *name, dw_forward_fn fn, const char *isa, const conv *g, const float *x, const float *w,
                      const float *b, const double *ref, int t) {
    const size_t ny = (size_t)g->o * g->oh * g->ow;
    float *y = nans(ny);
    const int o1 = g->o / 2;
    conv4j_dw_params p0 = dw_params(g, 0, o1, 0), p1 = dw_params(g, o1, g->o - o1, 0);
    int bad = 0;
    if ((o1 == 0 || fn(&p0, x, w, b, y)) && fn(&p1, x, w, b, y)) {
        char what[240];
        bad = check_all(describe(what, sizeof what, name, isa, g), t, y, ref, ny, 1e-5);
    }
    free(y);
    return bad;
}

int check_depthwise_forward(const conv4j_dw_ops *ops) {
    int cases = 0;
    for (int t = 0; t < 120 && !failures; t++, cases++) {
        conv g = random_depthwise(t);
        g.n = 1;
        const int taps = g.kh * g.kw;
        float *x = rnd((size_t)g.c * g.h * g.w), *w = rnd((size_t)g.o * taps), *b = t % 2 ? rnd(g.o) : NULL;
        spoil(w, (size_t)g.o * taps, t);
        double *ref = malloc(sizeof(double) * (size_t)g.o * g.oh * g.ow);
        for (int o = 0; o < g.o; o++)
            for (int i = 0; i < g.oh; i++)
                for (int j = 0; j < g.ow; j++)
                    ref[((size_t)o * g.oh + i) * g.ow + j] = (b ? b[o] : 0.) + conv_forward(&g, x, w, 0, o, i, j);
        if (!forward_by("row-kernel forward", rows_forward, ops->isa, &g, x, w, b, ref, t) && ops->forward_vec)
            forward_by("channel-vector forward", ops->forward_vec, ops->isa, &g, x, w, b, ref, t);
        if (!failures) forward_by("forward pass", api_forward, ops->isa, &g, x, w, b, ref, t);
        free(x); free(w); free(b); free(ref);
    }
    return cases;
}

typedef int (*dw_data_fn)(const conv4j_dw_params *, const float *, const float *, float *);

static int turned_data(const conv4j_dw_params *p, const float *gy, const float *w, float *gx) {
    if (p->s.sh != 1 || p->s.sw != 1) return 0;
    conv4j_dw_data_turned(p, gy, w, gx);
    return 1;
}

static int taps_data(const conv4j_dw_params *p, const float *gy, const float *w, float *gx) {
    conv4j_dw_data_taps(p, gy, w, gx);
    return 1;
}

static int api_data(const conv4j_dw_params *p, const float *gy, const float *w, float *gx) {
    conv4j_dw_backward_data(p, gy, w, gx);
    return 1;
}

/* The input gradient of image 0 by fn, input channels in two blocks, into NaNs or, accumulating,
   onto random values. */
static int data_by(const char *name, dw_data_fn fn, const char *isa, const conv *g, const float *gy, const float *w,
                   const double *ref, int accumulate, const float *start, int t) {
    const size_t nx = (size_t)g->c * g->h * g->w;
    float *gx = accumulate ? copy(start, nx) : nans(nx);
    const int c1 = g->c / 2;
    conv4j_dw_params p0 = dw_params(g, 0, c1, accumulate), p1 = dw_params(g, c1, g->c - c1, accumulate);
    int bad = 0;
    if ((c1 == 0 || fn(&p0, gy, w, gx)) && fn(&p1, gy, w, gx)) {
        char what[240];
        bad = check_all(describe(what, sizeof what, name, isa, g), t, gx, ref, nx, 1e-5);
    }
    free(gx);
    return bad;
}

int check_depthwise_data(const conv4j_dw_ops *ops) {
    int cases = 0;
    for (int t = 0; t < 120 && !failures; t++, cases++) {
        conv g = random_depthwise(t);
        g.n = 1;
        if (t % 3 == 0) g.o = g.c; /* the channel-vector kernel takes one output channel per input channel */
        const int taps = g.kh * g.kw, accumulate = t % 2;
        const size_t nx = (size_t)g.c * g.h * g.w;
        float *gy = rnd((size_t)g.o * g.oh * g.ow), *w = rnd((size_t)g.o * taps), *start = rnd(nx);
        spoil(w, (size_t)g.o * taps, t);
        double *ref = malloc(sizeof(double) * nx);
        conv_input_gradient(&g, gy, w, ref);
        for (size_t e = 0; accumulate && e < nx; e++) ref[e] += start[e];
        if (!data_by("turned input gradient", turned_data, ops->isa, &g, gy, w, ref, accumulate, start, t)
            && !data_by("phased input gradient", conv4j_dw_data_phased, ops->isa, &g, gy, w, ref, accumulate, start, t)
            && !data_by("tap-by-tap input gradient", taps_data, ops->isa, &g, gy, w, ref, accumulate, start, t) && ops->data_vec)
            data_by("channel-vector input gradient", ops->data_vec, ops->isa, &g, gy, w, ref, accumulate, start, t);
        if (!failures) data_by("input-gradient pass", api_data, ops->isa, &g, gy, w, ref, accumulate, start, t);
        free(gy); free(w); free(start); free(ref);
    }
    return cases;
}

typedef int (*dw_weights_fn)(const conv4j_dw_params *, const float *, const float *, float *);

/* A per-channel algorithm over channels [first, first + count). */
static int by_channel(const conv4j_dw_params *p, const float *x, const float *gy, float *gw, conv4j_dw_taps_fn taps) {
    for (int oc = p->first; oc < p->first + p->count; oc++) taps(p, x, gy, gw + (size_t)oc * p->s.kh * p->s.kw, oc);
    return 1;
}
static int definition_weights(const conv4j_dw_params *p, const float *x, const float *gy, float *gw) {
    return by_channel(p, x, gy, gw, conv4j_dw_weights_definition);
}
static int lanes_weights(const conv4j_dw_params *p, const float *x, const float *gy, float *gw) {
    return by_channel(p, x, gy, gw, conv4j_dw_weights_lanes);
}
static conv4j_dw_taps_fn dot;
static int dot_weights(const conv4j_dw_params *p, const float *x, const float *gy, float *gw) {
    return p->s.sw == 1 && by_channel(p, x, gy, gw, dot);
}
static dw_weights_fn nine;
static int nine_weights(const conv4j_dw_params *p, const float *x, const float *gy, float *gw) {
    return conv4j_dw_nine_applies(&p->s) && nine(p, x, gy, gw);
}
static int api_weights(const conv4j_dw_params *p, const float *x, const float *gy, float *gw) {
    conv4j_dw_backward_weights(p, x, gy, gw);
    return 1;
}

/* The weight gradient over the batch by fn, output channels in two blocks, into NaNs or,
   accumulating, onto random values. */
static int weights_by(const char *name, dw_weights_fn fn, const char *isa, const conv *g, const float *x, const float *gy,
                      const double *ref, int accumulate, const float *start, int t) {
    const size_t nw = (size_t)g->o * g->kh * g->kw;
    float *gw = accumulate ? copy(start, nw) : nans(nw);
    const int o1 = g->o / 2;
    conv4j_dw_params p0 = dw_params(g, 0, o1, accumulate), p1 = dw_params(g, o1, g->o - o1, accumulate);
    int bad = 0;
    if ((o1 == 0 || fn(&p0, x, gy, gw)) && fn(&p1, x, gy, gw)) {
        char what[240];
        bad = check_all(describe(what, sizeof what, name, isa, g), t, gw, ref, nw, 1e-4);
    }
    free(gw);
    return bad;
}

int check_depthwise_weights(const conv4j_dw_ops *ops) {
    int cases = 0;
    dot = ops->weights_dot;
    nine = ops->weights_nine;
    for (int t = 0; t < 120 && !failures; t++, cases++) {
        conv g = random_depthwise(t);
        const int accumulate = t % 2, finite = t % 6 != 5;
        const size_t nw = (size_t)g.o * g.kh * g.kw, ngy = (size_t)g.n * g.o * g.oh * g.ow;
        float *x = rnd((size_t)g.n * g.c * g.h * g.w), *gy = rnd(ngy), *start = rnd(nw);
        spoil(gy, ngy, t);
        double *ref = malloc(sizeof(double) * nw);
        conv_weight_gradient(&g, x, gy, ref);
        for (size_t e = 0; accumulate && e < nw; e++) ref[e] += start[e];
        /* the tap-by-tap algorithms skip the padding: only for finite output gradients */
        if (!weights_by("definition weight gradient", definition_weights, ops->isa, &g, x, gy, ref, accumulate, start, t)
            && !(finite && weights_by("16-lane weight gradient", lanes_weights, ops->isa, &g, x, gy, ref, accumulate, start, t))
            && !(finite && dot && weights_by("dot weight gradient", dot_weights, ops->isa, &g, x, gy, ref, accumulate, start, t))
            && !(ops->weights_nine && weights_by("nine-tap weight gradient", nine_weights, ops->isa, &g, x, gy, ref, accumulate, start, t))
            && ops->weights_vec)
            weights_by("channel-vector weight gradient", ops->weights_vec, ops->isa, &g, x, gy, ref, accumulate, start, t);
        if (!failures) weights_by("weight-gradient pass", api_weights, ops->isa, &g, x, gy, ref, accumulate, start, t);
        free(x); free(gy); free(start); free(ref);
    }
    return cases;
}

/* The forward pass in any layout (one output channel per input channel): every pair of layouts, with
   and without bias, residual (in its own layout, or y itself) and clamp, each image in two bands of
   rows and two ranges of channel blocks, against the NCHW pass followed by the epilogue in float, bit
   for bit: the layouts must not change a single bit. The NCHW16C padding lanes must come out 0. */
int check_depthwise_layouts(const conv4j_dw_ops *ops) {
    if (!ops->forward_layouts) return 0;
    /* The AVX-512 variant's NCHW row kernels leave their multiply-adds to gcc, which fuses them only
       from -O2 (the sanitizer build runs at -O1): there, within rounding. */
#ifdef __SANITIZE_ADDRESS__
    const int exact = ops != &conv4j_dw_avx512;
#else
    const int exact = 1;
#endif
    int cases = 0;
    for (int t = 0; t < 90 && !failures; t++, cases++) {
        conv g = random_depthwise(t);
        if (t % 5 == 1) g.c = g.groups = rnd_int(30, 40);
        if (t % 6 == 4) { /* planes whose padded band takes several passes (conv4j_dw_layouts_rows) */
            g.h = rnd_int(90, 140);
            g.w = rnd_int(60, 80);
        }
        if ((t % 5 == 1 || t % 6 == 4) && !conv_resolve(&g)) continue;
        if (t % 8 == 3 || t % 8 == 6) {
            /* whole blocks of 3x3 undilated kernels at stride 1 or 2 (the AVX2 variant's row tiles), a
               partial block after some */
            do {
                g.c = g.groups = 16 * rnd_int(1, 2) + (t % 16 < 8 ? 0 : rnd_int(1, 15));
                g.o = g.c;
                g.kh = g.kw = 3; g.dh = g.dw = 1;
                g.sh = rnd_int(1, 2); g.sw = rnd_int(1, 2);
                g.pt = rnd_int(0, 3); g.pb = rnd_int(0, 3); g.pl = rnd_int(0, 3); g.pr = rnd_int(0, 3);
                g.h = rnd_int(1, 12); g.w = rnd_int(1, 40);
                if (t % 16 == 3) { /* rows of 7 to 28 outputs: tiles of 7 */
                    g.sw = 1; g.pl = g.pr = 1; g.w = 7 * rnd_int(1, 4);
                }
            } while (!conv_resolve(&g));
        }
        g.o = g.c;
        const int taps = g.kh * g.kw, blocks = (g.c + 15) / 16;
        const size_t nx = (size_t)g.n * g.c * g.h * g.w, ny = (size_t)g.n * g.o * g.oh * g.ow;
        float *x = rnd(nx), *w = rnd((size_t)g.o * taps), *b = t % 2 ? rnd(g.o) : NULL, *r = t % 3 ? rnd(ny) : NULL;
        spoil(w, (size_t)g.o * taps, t);
        conv4j_blk_params p;
        memset(&p, 0, sizeof p);
        p.s = conv_shape(&g, g.c, g.o);
        p.x_layout = t % 3; p.y_layout = t / 3 % 3; p.r_layout = rnd_int(0, 2);
        p.clamp = t % 4 == 3;
        p.lo = -0.5f; p.hi = 0.75f;
        const int in_place = r && t % 7 == 2;
        if (in_place) p.r_layout = p.y_layout;
        /* the expected bits: the NCHW pass, then y = clamp((float)(y + r)) */
        float *expect = malloc(sizeof(float) * ny);
        for (int n = 0; n < g.n; n++) {
            conv4j_dw_params q = dw_params(&g, 0, g.o, 0);
            conv4j_dw_forward(&q, x + (size_t)n * g.c * g.h * g.w, w, b, expect + (size_t)n * g.o * g.oh * g.ow);
        }
        for (size_t k = 0; k < ny; k++) {
            float v = expect[k];
            if (r) v = v + r[k];
            if (p.clamp) {
                v = p.lo > v ? p.lo : v; /* maxps(lo, v), minps(hi, v): a NaN stays */
                v = p.hi < v ? p.hi : v;
            }
            expect[k] = v;
        }
        float *xl = relayout(x, p.x_layout, g.n, g.c, g.h, g.w);
        float *rl = r ? relayout(r, p.r_layout, g.n, g.o, g.oh, g.ow) : NULL;
        const size_t yimg = image(p.y_layout, g.o, g.oh, g.ow), ximg = image(p.x_layout, g.c, g.h, g.w);
        float *y = in_place ? rl : nans((size_t)g.n * yimg);
        p.residual = rl != NULL;
        const int r1 = g.oh / 2, b1 = blocks / 2;
        float *scratch = malloc(sizeof(float) * (size_t)conv4j_dw_layouts_scratch(&p, g.oh - r1 > r1 ? g.oh - r1 : r1));
        for (int n = 0; n < g.n; n++)
            for (int band = 0; band < 2; band++)
                for (int part = 0; part < 2; part++) {
                    p.oh0 = band ? r1 : 0; p.rows = band ? g.oh - r1 : r1;
                    p.g0 = part ? b1 : 0; p.gn = part ? blocks - b1 : b1;
                    p.off[0] = (long long)n * ximg;
                    p.off[3] = (long long)n * yimg;
                    p.off[4] = (long long)n * image(p.r_layout, g.o, g.oh, g.ow);
                    if (p.rows > 0 && p.gn > 0) conv4j_dw_forward_layouts(&p, xl, w, b, rl, y, scratch);
                }
        char what[240];
        describe(what, sizeof what, "forward in layouts", ops->isa, &g);
        for (int n = 0; n < g.n && !failures; n++)
            for (int o = 0; o < (g.o + 15) / 16 * 16 && !failures; o++)
                for (int i = 0; i < g.oh * g.ow; i++) {
                    if (o >= g.o && p.y_layout != CONV4J_LAYOUT_NCHW16C) break;
                    const float got = y[n * yimg + at(p.y_layout, g.o, g.oh, g.ow, o, i / g.ow, i % g.ow)];
                    const float want = o < g.o ? expect[((size_t)n * g.o + o) * g.oh * g.ow + i] : 0.f;
                    if (exact ? memcmp(&got, &want, sizeof got) && !(isnan(got) && isnan(want)) : differs(got, want, 1e-5)) {
                        fprintf(stderr, "%s, layouts %d/%d/%d%s%s%s: image %d channel %d pixel %d is %a, the NCHW pass gave %a\n",
                                what, p.x_layout, p.y_layout, p.r_layout, b ? ", bias" : "", r ? in_place ? ", residual y" : ", residual" : "",
                                p.clamp ? ", clamp" : "", n, o, i, got, want);
                        failures++;
                        break;
                    }
                }
        free(x); free(w); free(b); free(r); free(expect); free(xl); free(rl); free(scratch);
        if (!in_place) free(y);
    }
    return cases;
}
