/* The channel-blocked direct kernel, as the Java side calls it: every layout of input, output and
   residual, bias, clamp, two bands per image; and the input gradient on the flipped weights,
   overwriting and accumulating. */
#include "selftest.h"
#include "blocked/blocked.h"

/* Runs every band of every image; p->s, layouts and epilogue set. */
static void run(conv4j_blk_params *p, int batch, int rows_out, const float *x, const float *wp, const float *bias,
                const float *res, float *y) {
    const conv4j_conv_shape *s = &p->s;
    const int split = rnd_int(1, rows_out);
    for (int n = 0; n < batch; n++)
        for (int band = 0; band < 2; band++) {
            p->oh0 = band ? split : 0;
            p->rows = band ? rows_out - split : split;
            if (p->rows == 0) continue;
            p->off[0] = (long long)n * image(p->x_layout, s->c, s->h, s->w);
            p->off[3] = (long long)n * image(p->y_layout, s->o, s->oh, s->ow);
            p->off[4] = (long long)n * image(p->r_layout, s->o, s->oh, s->ow);
            float *scratch = nans((size_t)(s->c + 15) / 16 * 16 * conv4j_blk_band_rows(s, p->rows) * conv4j_blk_band_cols(s)
                                  + (size_t)conv4j_blk_partial_floats(s, p->nb, p->rows)
                                  + (size_t)(p->pack_inline ? conv4j_blk_inline_floats(s, p->nb) : 0));
            conv4j_blk_forward(p, x, wp, bias, res, y, scratch);
            free(scratch);
        }
}

int check_blocked(void) {
    int cases = 0;
    for (int t = 0; t < 60 && !failures; t++, cases++) {
        conv g;
        const int data = t % 3 == 2;
        do {
            g.n = rnd_int(1, 2);
            g.groups = 1;
            g.c = t % 10 == 5 ? 3 : rnd_int(1, t % 5 == 4 ? 100 : 40); /* past 64, 4x4 kernels take the reduction in chunks */
            g.o = rnd_int(1, 80);
            g.kh = rnd_int(1, 4); g.kw = rnd_int(1, 4);
            g.sh = data ? 1 : rnd_int(1, 3); g.sw = data ? 1 : rnd_int(1, 2);
            g.dh = rnd_int(1, 2); g.dw = rnd_int(1, 2);
            g.pt = rnd_int(0, 3); g.pb = rnd_int(0, 3); g.pl = rnd_int(0, 3); g.pr = rnd_int(0, 3);
            if (t % 4 == 0) g.pt = g.pb = g.pl = g.pr = 0; /* a blocked input is then read in place */
            g.h = rnd_int(1, 16); g.w = rnd_int(1, 40);
            if (t == 15 || t == 45) {
                /* RGB rows of 3 and 7 undilated taps, which the AVX2 tiles run a row at a time */
                g.kw = t == 15 ? 3 : 7; g.dw = 1;
            }
            if (!data && t % 7 == 6) {
                /* strided pointwise: the band holds only the pixels read (with bottom or right padding, not) */
                g.kh = g.kw = 1; g.dh = g.dw = 1;
                g.sh = rnd_int(1, 3); g.sw = 2; /* the stride widths the kernel takes: 1, 2 */
                g.pt = g.pl = 0; g.pb = rnd_int(0, 3) == 0; g.pr = rnd_int(0, 3) == 0;
            }
        } while (!conv_resolve(&g));
        const int K = g.c * g.kh * g.kw, nb = rnd_int(0, 1) ? 4 : 2;
        float *w = rnd((size_t)g.o * K);
        conv4j_blk_params p;
        memset(&p, 0, sizeof p);
        p.nb = nb;
        p.x_layout = t % 8 == 0 ? CONV4J_LAYOUT_NCHW16C : rnd_int(0, 2);
        p.y_layout = rnd_int(0, 2); p.r_layout = rnd_int(0, 2);
        char what[240];
        if (!data) {
            p.s = conv_shape(&g, g.c, g.o);
        } else {
            /* the input gradient as a convolution of gy: O channels in, C out, plane H x W, padding (K-1)·d - p */
            p.s = conv_shape(&g, g.o, g.c);
            p.s.c = g.o; p.s.h = g.oh; p.s.w = g.ow; p.s.o = g.c; p.s.oh = g.h; p.s.ow = g.w;
            p.s.pt = (g.kh - 1) * g.dh - g.pt; p.s.pl = (g.kw - 1) * g.dw - g.pl;
            p.flip = 1;
        }
        const conv4j_conv_shape *s = &p.s;
        const int groups = (s->o + 16 * nb - 1) / (16 * nb);
        float *wp = nans((size_t)groups * ((s->c + 15) / 16) * g.kh * g.kw * 256 * nb);
        p.g0 = 0; p.gn = groups;
        conv4j_blk_pack(&p, w, wp);
        const size_t nx = (size_t)g.n * s->c * s->h * s->w, ny = (size_t)g.n * s->o * s->oh * s->ow;
        float *x = rnd(nx), *b = !data && t % 2 ? rnd(s->o) : NULL;
        float *r = t % 4 == 1 || data ? rnd(ny) : NULL;
        double *ref = malloc(sizeof(double) * ny);
        if (!data) {
            p.clamp = t % 5 == 3;
            p.lo = -0.5f; p.hi = 0.75f;
            for (int n = 0; n < g.n; n++)
                for (int o = 0; o < g.o; o++)
                    for (int i = 0; i < g.oh; i++)
                        for (int j = 0; j < g.ow; j++) {
                            const size_t k = (((size_t)n * g.o + o) * g.oh + i) * g.ow + j;
                            double v = (float)((b ? b[o] : 0.) + conv_forward(&g, x, w, n, o, i, j));
                            if (r) v = (float)(v + r[k]);
                            if (p.clamp) v = v < p.lo ? p.lo : v > p.hi ? p.hi : v;
                            ref[k] = v;
                        }
        } else {
            conv_input_gradient(&g, x, w, ref); /* x is gy here */
            for (size_t k = 0; k < ny; k++) ref[k] += r[k]; /* accumulating into gx = r */
        }
        float *xl = relayout(x, p.x_layout, g.n, s->c, s->h, s->w);
        float *rl = r ? relayout(r, p.r_layout, g.n, s->o, s->oh, s->ow) : NULL;
        const size_t yimg = image(p.y_layout, s->o, s->oh, s->ow);
        float *y;
        if (data) {
            /* accumulate as the Java side does: the residual is gx itself */
            p.r_layout = p.y_layout;
            free(rl);
            rl = relayout(r, p.y_layout, g.n, s->o, s->oh, s->ow);
            y = rl;
        } else {
            y = nans((size_t)g.n * yimg);
        }
        p.residual = rl != NULL;
        /* every third forward case and every other input gradient pack their weights inline, from the layer's own */
        p.pack_inline = data ? t % 6 == 5 : t % 3 == 1;
        run(&p, g.n, s->oh, xl, p.pack_inline ? w : wp, b, rl, y);
        float *got = malloc(sizeof(float) * ny);
        for (int n = 0; n < g.n; n++)
            for (int o = 0; o < s->o; o++)
                for (int i = 0; i < s->oh; i++)
                    for (int j = 0; j < s->ow; j++)
                        got[(((size_t)n * s->o + o) * s->oh + i) * s->ow + j] = y[n * yimg + at(p.y_layout, s->o, s->oh, s->ow, o, i, j)];
        snprintf(what, sizeof what, "blocked %s (%dx%dx%d input, %d outputs, kernel %dx%d, stride %d,%d, dilation %d,%d, "
                 "layouts %d/%d/%d, nb %d%s)", data ? "input gradient" : "forward", g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw,
                 g.dh, g.dw, p.x_layout, p.y_layout, p.r_layout, nb, p.pack_inline ? ", packed inline" : "");
        /* float sums of up to 40·16 products in one chain per output: up to 1e-4 of the terms' scale, as golden */
        check_all(what, t, got, ref, ny, 1e-4);
        if (p.y_layout == CONV4J_LAYOUT_NCHW16C && s->o % 16)
            for (int n = 0; n < g.n && !failures; n++)
                for (int o = s->o; o < (s->o + 15) / 16 * 16; o++)
                    for (int i = 0; i < s->oh * s->ow; i++)
                        if (y[n * yimg + at(p.y_layout, s->o, s->oh, s->ow, o, i / s->ow, i % s->ow)] != 0.f) {
                            fprintf(stderr, "%s: padding channel %d not 0\n", what, o);
                            failures++;
                            break;
                        }
        free(w); free(wp); free(x); free(b); free(r); free(ref); free(xl); free(rl); free(got);
        if (!data) free(y);
    }
    /* the weight gradient: every 16 x 16 block of channels, with or without the bias gradient, overwriting or adding */
    for (int t = 0; t < 30 && !failures; t++, cases++) {
        conv g;
        do {
            g.n = rnd_int(1, 3);
            g.groups = 1;
            g.c = rnd_int(1, 40);
            g.o = rnd_int(1, 40);
            g.kh = rnd_int(1, 4); g.kw = rnd_int(1, 7);
            if (t % 4 == 0) {
                /* one tap wide: output blocks go two at a time */
                g.kw = 1;
                g.o = rnd_int(17, 70);
            }
            g.sh = rnd_int(1, 3); g.sw = rnd_int(1, 3);
            g.dh = rnd_int(1, 2); g.dw = rnd_int(1, 2);
            g.pt = rnd_int(0, 3); g.pb = rnd_int(0, 3); g.pl = rnd_int(0, 3); g.pr = rnd_int(0, 3);
            g.h = rnd_int(1, 16); g.w = rnd_int(1, 30);
        } while (!conv_resolve(&g));
        const int K = g.c * g.kh * g.kw, add = t % 2;
        conv4j_blk_params p;
        memset(&p, 0, sizeof p);
        p.s = conv_shape(&g, g.c, g.o);
        p.x_layout = rnd_int(0, 2); p.y_layout = rnd_int(0, 2);
        p.residual = add;
        const size_t nx = (size_t)g.n * g.c * g.h * g.w, ny = (size_t)g.n * g.o * g.oh * g.ow;
        float *x = rnd(nx), *gy = rnd(ny), *gw = rnd((size_t)g.o * K), *gb = t % 3 ? rnd(g.o) : NULL;
        double *ref = malloc(sizeof(double) * ((size_t)g.o * K + g.o));
        conv_weight_gradient(&g, x, gy, ref);
        for (size_t k = 0; k < (size_t)g.o * K; k++) ref[k] += add ? gw[k] : 0.;
        for (int o = 0; o < g.o; o++) {
            double v = 0;
            for (int i = 0; i < g.oh * g.ow * g.n; i++) v += gy[((size_t)(i / (g.oh * g.ow)) * g.o + o) * g.oh * g.ow + i % (g.oh * g.ow)];
            ref[(size_t)g.o * K + o] = v + (add && gb ? gb[o] : 0.);
        }
        float *xl = relayout(x, p.x_layout, g.n, g.c, g.h, g.w), *gyl = relayout(gy, p.y_layout, g.n, g.o, g.oh, g.ow);
        /* input blocks in two ranges (the first with the bias gradient) by output blocks in two ranges */
        const int cbs = (g.c + 15) / 16, obs = (g.o + 15) / 16, split = rnd_int(1, cbs), osplit = rnd_int(1, obs);
        float *scratch = nans((size_t)conv4j_blk_weights_scratch(&p.s, cbs, obs));
        for (int part = 0; part < 2; part++)
            for (int opart = 0; opart < 2; opart++) {
                p.oh0 = part ? split : 0;
                p.rows = part ? cbs - split : split;
                p.g0 = opart ? osplit : 0;
                p.gn = opart ? obs - osplit : osplit;
                if (p.rows && p.gn) conv4j_blk_weights(&p, xl, gyl, gw, part ? NULL : gb, scratch);
            }
        char what[240];
        snprintf(what, sizeof what, "blocked weight gradient (%d images of %dx%dx%d, %d outputs, kernel %dx%d, stride %d,%d, "
                 "dilation %d,%d, layouts %d/%d%s)", g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, p.x_layout,
                 p.y_layout, add ? ", adding" : "");
        /* sums over the batch's whole plane in float: up to 1e-4 of the terms' scale, as the golden tolerance */
        check_all(what, t, gw, ref, (size_t)g.o * K, 1e-4);
        if (gb) check_all(what, t, gb, ref + (size_t)g.o * K, g.o, 1e-4);
        free(x); free(gy); free(gw); free(gb); free(ref); free(xl); free(gyl); free(scratch);
    }
    /* reorders between every pair of layouts: exact, padding channels 0 (the output starts as NaN) */
    for (int t = 0; t < 36 && !failures; t++, cases++) {
        conv4j_blk_params p;
        memset(&p, 0, sizeof p);
        p.s.n = rnd_int(1, 2); p.s.c = rnd_int(1, 40); p.s.h = rnd_int(1, 9); p.s.w = rnd_int(1, 21);
        p.x_layout = t % 3; p.y_layout = t / 3 % 3;
        const conv4j_conv_shape *s = &p.s;
        float *x = rnd((size_t)s->n * s->c * s->h * s->w);
        float *xl = relayout(x, p.x_layout, s->n, s->c, s->h, s->w), *expect = relayout(x, p.y_layout, s->n, s->c, s->h, s->w);
        const size_t ny = (size_t)s->n * image(p.y_layout, s->c, s->h, s->w);
        float *y = nans(ny);
        conv4j_blk_reorder(&p, xl, y);
        for (size_t k = 0; k < ny; k++)
            if (memcmp(&y[k], &expect[k], sizeof(float))) {
                fprintf(stderr, "reorder %d -> %d of %dx%dx%dx%d: element %zu is %g, expected %g\n", p.x_layout, p.y_layout, s->n,
                        s->c, s->h, s->w, k, y[k], expect[k]);
                failures++;
                break;
            }
        free(x); free(xl); free(expect); free(y);
    }
    return cases;
}
