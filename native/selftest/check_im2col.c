/* im2col and col2im of one variant against their definition. */
#include "selftest.h"

/* A random band of a random geometry: kernels up to 9 wide (sometimes past the 32 columns whose
   ranges are cached), strides 1 to 4, dilation, padding, rows up to 70. */
static conv4j_columns random_columns(int t) {
    conv4j_columns s;
    s.cn = rnd_int(1, 3);
    s.kh = rnd_int(1, 5);
    s.kw = t % 15 == 0 ? rnd_int(30, 36) : rnd_int(1, 9);
    s.sh = rnd_int(1, 3);
    s.sw = t % 3 == 0 ? 2 : rnd_int(1, 4);
    s.dh = rnd_int(1, 2);
    s.dw = rnd_int(1, 3);
    s.pt = rnd_int(0, 4);
    s.pl = rnd_int(0, 4);
    int pb = rnd_int(0, 4), pr = rnd_int(0, 4);
    s.h = s.dh * (s.kh - 1) + rnd_int(1, 12);
    s.w = s.dw * (s.kw - 1) + rnd_int(1, t % 2 ? 70 : 12);
    int oh = (s.h + s.pt + pb - s.dh * (s.kh - 1) - 1) / s.sh + 1;
    s.ow = (s.w + s.pl + pr - s.dw * (s.kw - 1) - 1) / s.sw + 1;
    s.oh0 = rnd_int(0, oh - 1);
    s.rows = rnd_int(1, oh - s.oh0);
    s.x = NULL;
    return s;
}

/* The input position of column-matrix entry (c, p, q, r, j), or -1 in the padding. */
static long long source(const conv4j_columns *s, int c, int p, int q, int r, int j) {
    long long ih = (long long)(s->oh0 + r) * s->sh - s->pt + (long long)p * s->dh;
    long long iw = (long long)j * s->sw - s->pl + (long long)q * s->dw;
    if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) return -1;
    return ((long long)c * s->h + ih) * s->w + iw;
}

/* im2col of s into a NaN-filled matrix; 0 if every entry is its input value or 0. */
static int check_one_im2col(const conv4j_im2col_ops *ops, conv4j_columns s, int t) {
    const size_t in = (size_t)s.cn * s.h * s.w, n = (size_t)s.cn * s.kh * s.kw * s.rows * s.ow;
    float *x = rnd(in), *col = nans(n);
    double *ref = malloc(sizeof(double) * n);
    s.x = x;
    size_t e = 0;
    for (int c = 0; c < s.cn; c++)
        for (int p = 0; p < s.kh; p++)
            for (int q = 0; q < s.kw; q++)
                for (int r = 0; r < s.rows; r++)
                    for (int j = 0; j < s.ow; j++, e++) {
                        long long at = source(&s, c, p, q, r, j);
                        ref[e] = at < 0 ? 0. : x[at];
                    }
    ops->im2col(&s, col);
    char what[160];
    snprintf(what, sizeof what, "%s im2col (%dx%d input, kernel %dx%d, stride %d,%d, dilation %d,%d)", ops->isa, s.h, s.w,
             s.kh, s.kw, s.sh, s.sw, s.dh, s.dw);
    int bad = check_all(what, t, col, ref, n, 0.);
    free(x); free(col); free(ref);
    return bad;
}

/* col2im of a random matrix onto a random image; 0 if the sums match. */
static int check_one_col2im(const conv4j_im2col_ops *ops, conv4j_columns s, int t) {
    const size_t in = (size_t)s.cn * s.h * s.w, n = (size_t)s.cn * s.kh * s.kw * s.rows * s.ow;
    float *x = rnd(in), *col = rnd(n);
    double *ref = malloc(sizeof(double) * in);
    for (size_t e = 0; e < in; e++) ref[e] = x[e];
    size_t e = 0;
    for (int c = 0; c < s.cn; c++)
        for (int p = 0; p < s.kh; p++)
            for (int q = 0; q < s.kw; q++)
                for (int r = 0; r < s.rows; r++)
                    for (int j = 0; j < s.ow; j++, e++) {
                        long long at = source(&s, c, p, q, r, j);
                        if (at >= 0) ref[at] += col[e];
                    }
    ops->col2im(&s, col, x);
    char what[160];
    snprintf(what, sizeof what, "%s col2im (%dx%d input, kernel %dx%d, stride %d,%d, dilation %d,%d)", ops->isa, s.h, s.w,
             s.kh, s.kw, s.sh, s.sw, s.dh, s.dw);
    int bad = check_all(what, t, x, ref, in, 1e-5);
    free(x); free(col); free(ref);
    return bad;
}

int check_im2col(const conv4j_im2col_ops *ops) {
    int cases = 0;
    for (int t = 0; t < 150 && !failures; t++, cases++) {
        conv4j_columns s = random_columns(t);
        if (!check_one_im2col(ops, s, t)) check_one_col2im(ops, s, t);
    }
    return cases;
}

/* Paddings and strides near 2^30, whose sums pass 2^31: the ranges of valid columns must be worked
   out in 64 bits, else a wrapped index makes im2col write before its buffer (which AddressSanitizer
   catches, see cppbuild.sh --sanitize) and col2im read before it. Every output reads padding. */
int check_index_wrap(const conv4j_im2col_ops *ops) {
    static const int big[][4] = {
        /* pl, sw, pt, sh */
        {(1 << 30) + 5, (1 << 30) + 3, 0, 1},
        {(1 << 30) + 7, (1 << 30) + 1, (1 << 30) + 7, (1 << 30) + 1},
        {2, (1 << 30) + 9, 1, 2},
        {0x7ffffff0, 1, 0x7ffffff0, 1},
    };
    int cases = 0;
    for (int t = 0; t < 4 && !failures; t++) {
        conv4j_columns s;
        s.cn = 2; s.h = 3; s.w = 4; s.kh = 1 + t % 2; s.kw = 1 + t % 3; s.dh = 1; s.dw = 1;
        s.pl = big[t][0]; s.sw = big[t][1]; s.pt = big[t][2]; s.sh = big[t][3];
        /* no padding on the far side: the padded input must stay below 2^31 positions, as the Java
           side checks */
        long long ow = ((long long)s.w + s.pl - s.kw) / s.sw + 1, oh = ((long long)s.h + s.pt - s.kh) / s.sh + 1;
        if (ow > 64) ow = 64; /* a band of the first columns and rows: enough to reach the wrap */
        if (oh > 4) oh = 4;
        s.ow = (int)ow;
        s.oh0 = 0;
        s.rows = (int)oh;
        cases++;
        if (!check_one_im2col(ops, s, t)) check_one_col2im(ops, s, t);
    }
    return cases;
}
