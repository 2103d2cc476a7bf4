/*
 * Winograd F(m x m, 3x3) (see winograd.h): the weight transform and the tiles of either pass. The
 * transforms are plain loops for any x86-64 CPU; the products go to OpenBLAS.
 */
#include <stdint.h>
#include <string.h>
#include <cblas.h>
#include "conv4j.h"
#include "common/conv4j_common.h"
#include "winograd/winograd.h"

/* G g (or, applied to rows, g Gᵀ): the a values of one 3-vector g read with stride s. For m = 4 this
   is 24 G, whose entries are small integers: U then carries a factor 576 that the output transform
   divides out once, so integer data stay exact through the whole data path and the weight
   transform rounds no fractions like 1/6. */
static inline void conv4j_wino_g(int m, const float *g, size_t s, float *r) {
    const float g0 = g[0], g1 = g[s], g2 = g[2 * s];
    if (m == 2) {
        r[0] = g0;
        r[1] = 0.5f * (g0 + g1 + g2);
        r[2] = 0.5f * (g0 - g1 + g2);
        r[3] = g2;
    } else {
        r[0] = 6.f * g0;
        r[1] = -4.f * (g0 + g1 + g2);
        r[2] = -4.f * (g0 - g1 + g2);
        r[3] = g0 + 2.f * g1 + 4.f * g2;
        r[4] = g0 - 2.f * g1 + 4.f * g2;
        r[5] = 24.f * g2;
    }
}

/* U[xi][o][c] = (G g[o][c] Gᵀ)[xi] for a weight of shape O x C x 3 x 3 (a² planes conv4j_wino_plane(O·C) apart);
   with flip, g is the kernel turned by 180 degrees, as the input gradient (a convolution of the
   output gradient) needs. U[xi] is linear in the 9 taps of g: with T[xi][tap] = G[i][p]·G[j][q]
   (xi = i·a + j, tap = 3p + q), U = T · Wᵀ for W the (O·C) x 9 weight matrix, one sgemm that writes
   each plane as a whole row rather than a² scattered values per weight. */
static void conv4j_wino_weights_any(const float *w, int o_count, int c_count, float *u, int m, int flip,
                                    long long j0, long long jn) {
    const int a = m + 2;
    float gm[6][3], t[36 * 9];
    for (int p = 0; p < 3; p++) {
        float e[3] = {0.f, 0.f, 0.f}, r[6];
        e[p] = 1.f;
        conv4j_wino_g(m, e, 1, r);
        for (int i = 0; i < a; i++) gm[i][p] = r[i];
    }
    for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++)
            for (int p = 0; p < 3; p++)
                for (int q = 0; q < 3; q++) t[(i * a + j) * 9 + (flip ? 8 - p * 3 - q : p * 3 + q)] = gm[i][p] * gm[j][q];
    /* weights [j0, j0+jn) of the O·C, so that threads can share the transform */
    const int ldu = (int)conv4j_wino_plane((size_t)o_count * c_count);
    for (long long j = j0; j < j0 + jn; j += 1 << 28) {
        const int n = (int)(j0 + jn - j < (1 << 28) ? j0 + jn - j : (1 << 28));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, a * a, n, 9, 1.f, t, 9, w + (size_t)j * 9, 9, 0.f,
                    u + j, ldu);
    }
}

/* Bᵀ applied down the columns [c0, c1) of the a rows d into the a rows b. */
static inline void conv4j_wino_bt_rows(int m, float *const *d, float *const *b, int c0, int c1) {
    if (m == 2) {
        for (int s = c0; s < c1; s++) {
            b[0][s] = d[0][s] - d[2][s];
            b[1][s] = d[1][s] + d[2][s];
            b[2][s] = d[2][s] - d[1][s];
            b[3][s] = d[1][s] - d[3][s];
        }
    } else {
        for (int s = c0; s < c1; s++) {
            const float d0 = d[0][s], d1 = d[1][s], d2 = d[2][s], d3 = d[3][s], d4 = d[4][s], d5 = d[5][s];
            b[0][s] = 4.f * d0 - 5.f * d2 + d4;
            b[1][s] = (d3 + d4) - 4.f * (d1 + d2);
            b[2][s] = (d4 - d3) + 4.f * (d1 - d2);
            b[3][s] = (d4 - d2) + 2.f * (d3 - d1);
            b[4][s] = (d4 - d2) - 2.f * (d3 - d1);
            b[5][s] = 4.f * d1 - 5.f * d3 + d5;
        }
    }
}

/* B applied along one row b of n tiles (tile k starts at b[m·k]) into the a planes v[j·vplane + k]. */
static inline void conv4j_wino_b_tiles(int m, const float *b, int n, float *v, size_t vplane) {
    float *v0 = v, *v1 = v0 + vplane, *v2 = v1 + vplane, *v3 = v2 + vplane;
    if (m == 2) {
        for (int k = 0; k < n; k++) {
            const float e0 = b[2 * k], e1 = b[2 * k + 1], e2 = b[2 * k + 2], e3 = b[2 * k + 3];
            v0[k] = e0 - e2;
            v1[k] = e1 + e2;
            v2[k] = e2 - e1;
            v3[k] = e1 - e3;
        }
    } else {
        float *v4 = v3 + vplane, *v5 = v4 + vplane;
        for (int k = 0; k < n; k++) {
            const float *e = b + 4 * k;
            const float e0 = e[0], e1 = e[1], e2 = e[2], e3 = e[3], e4 = e[4], e5 = e[5];
            v0[k] = 4.f * e0 - 5.f * e2 + e4;
            v1[k] = (e3 + e4) - 4.f * (e1 + e2);
            v2[k] = (e4 - e3) + 4.f * (e1 - e2);
            v3[k] = (e4 - e2) + 2.f * (e3 - e1);
            v4[k] = (e4 - e2) - 2.f * (e3 - e1);
            v5[k] = 4.f * e1 - 5.f * e3 + e5;
        }
    }
}



/* Bᵀ d B for the tiles tx in [tx0, tx1) of tile row ty of channel plane xc, into v[xi][c][k0 + (tx - tx0)].
   The a input rows of the tile row are first copied with their zero padding into rows of
   m·tw + 2 values, so every tile reads in bounds; then the row combinations (Bᵀ d) run along whole
   rows and the column combinations along tiles, both as plain loops. The padding may be negative
   (an input gradient whose padding exceeds the kernel's reach crops its source). */
static inline void conv4j_wino_input_row(int m, const float *xc, int h, int w, int pt, int pl, int ty, int tw,
                                         int tx0, int tx1, float *scratch, float *vk, size_t vplane) {
    const int a = m + 2, wp = m * tw + 2;
    float *d[6], *b[6];
    for (int r = 0; r < a; r++) {
        d[r] = scratch + (size_t)r * wp;
        b[r] = scratch + (size_t)(a + r) * wp;
    }
    const int c0 = m * tx0, c1 = m * tx1 + 2;     /* patch columns used, in padded coordinates */
    for (int r = 0; r < a; r++) {
        const long long ih = (long long)m * ty - pt + r;
        float *dst = d[r];
        if (ih < 0 || ih >= h) {
            for (int s = c0; s < c1; s++) dst[s] = 0.f;
            continue;
        }
        /* padded column s holds input column s - pl: zeros, a copy, zeros */
        const long long l = (long long)pl, e = l + w;
        const int lo = (int)(l > c0 ? (l < c1 ? l : c1) : c0);
        int hi = (int)(e < c1 ? e : c1);
        if (hi < lo) hi = lo;
        for (int s = c0; s < lo; s++) dst[s] = 0.f;
        if (hi > lo) memcpy(dst + lo, xc + (size_t)ih * w + (lo - l), sizeof(float) * (size_t)(hi - lo));
        for (int s = hi; s < c1; s++) dst[s] = 0.f;
    }
    conv4j_wino_bt_rows(m, d, b, c0, c1);
    for (int r = 0; r < a; r++) {
        conv4j_wino_b_tiles(m, b[r] + c0, tx1 - tx0, vk + (size_t)(r * a) * vplane, vplane);
    }
}

/* Aᵀ q A (+ bias) of one tile, q holding its a x a products: m rows of m values into r[i] + j0. */
static inline void conv4j_wino_a_tile(int m, const float *q, float bias, float *const *r, int j0) {
    if (m == 2) {
        float t0[4], t1[4];
        for (int s = 0; s < 4; s++) {             /* Aᵀ q */
            t0[s] = q[s] + q[4 + s] + q[8 + s];
            t1[s] = q[4 + s] - q[8 + s] - q[12 + s];
        }
        const float *t[2] = {t0, t1};
        for (int i = 0; i < 2; i++) {              /* (Aᵀ q) A */
            r[i][j0] = bias + t[i][0] + t[i][1] + t[i][2];
            r[i][j0 + 1] = bias + t[i][1] - t[i][2] - t[i][3];
        }
    } else {
        float t[4][6];
        for (int s = 0; s < 6; s++) {
            const float q0 = q[s], q1 = q[6 + s], q2 = q[12 + s], q3 = q[18 + s], q4 = q[24 + s], q5 = q[30 + s];
            const float p12 = q1 + q2, m12 = q1 - q2, p34 = q3 + q4, m34 = q3 - q4;
            t[0][s] = q0 + p12 + p34;
            t[1][s] = m12 + 2.f * m34;
            t[2][s] = p12 + 4.f * p34;
            t[3][s] = m12 + 8.f * m34 + q5;
        }
        for (int i = 0; i < 4; i++) {
            const float *e = t[i];
            const float p12 = e[1] + e[2], m12 = e[1] - e[2], p34 = e[3] + e[4], m34 = e[3] - e[4];
            r[i][j0] = (e[0] + p12 + p34) / 576.f + bias;
            r[i][j0 + 1] = (m12 + 2.f * m34) / 576.f + bias;
            r[i][j0 + 2] = (p12 + 4.f * p34) / 576.f + bias;
            r[i][j0 + 3] = (m12 + 8.f * m34 + e[5]) / 576.f + bias;
        }
    }
}

/* What the output transform needs to recompute a tile from the definition: the untransformed input
   (of image n) and weights, in the orientation of the pass (forward: w is O x C x 3 x 3; input
   gradient: w is the layer's, C x O x 3 x 3 here, turned by 180 degrees, and padded positions are
   dropped rather than multiplied, as the gradient of the padded input is cropped). */
typedef struct {
    const float *x, *w;
    int c_count, h, w_in, o_count, pt, pl, transposed;
} conv4j_wino_repair;

/* The m x m outputs (tile ty, tx; those inside oh x ow) of output channel o by the definition, summed
   in double, plus bias, into r[i] + j0. A padded input position of the forward pass is a zero that is
   multiplied, so 0 · ∞ gives NaN as it does on the zero-padded input. */
static void conv4j_wino_direct_tile(const conv4j_wino_repair *rp, const float *xn, int o, int m, int oh, int ow,
                                    int ty, int tx, float bias, float *const *r, int j0) {
    for (int i = 0; i < m && (long long)m * ty + i < oh; i++) {
        for (int j = 0; j < m && (long long)m * tx + j < ow; j++) {
            double sum = 0;
            for (int c = 0; c < rp->c_count; c++) {
                const float *xc = xn + (size_t)c * rp->h * rp->w_in;
                for (int p = 0; p < 3; p++) {
                    const long long ih = (long long)m * ty + i - rp->pt + p;
                    for (int q = 0; q < 3; q++) {
                        const long long iw = (long long)m * tx + j - rp->pl + q;
                        const float k = rp->transposed ? rp->w[((size_t)c * rp->o_count + o) * 9 + (2 - p) * 3 + (2 - q)]
                                                       : rp->w[((size_t)o * rp->c_count + c) * 9 + p * 3 + q];
                        if (ih >= 0 && ih < rp->h && iw >= 0 && iw < rp->w_in) {
                            sum += (double)xc[(size_t)ih * rp->w_in + iw] * k;
                        } else if (!rp->transposed) {
                            sum += 0.0 * k;
                        }
                    }
                }
            }
            r[i][j0 + j] = (float)sum + bias;
        }
    }
}

/* Recomputes from the definition the tiles of a row of n tiles (rows x cols outputs in r) that came
   out non-finite. Kept out of line: the output transform stays small enough to be inlined. */
__attribute__((noinline, cold))
static void conv4j_wino_repair_row(const conv4j_wino_repair *rp, const float *xn, int o, int m, int oh, int ow, int ty,
                                   int tx0, int n, int rows, int cols, float bias, float *const *r) {
    int bad = 0;
    for (int i = 0; i < rows; i++) bad |= conv4j_top_bits(r[i], (size_t)cols) >= CONV4J_NONFINITE;
    for (int k = 0; bad && k < n; k++) {
        const int w0 = m * k, wn = w0 + m <= cols ? m : cols - w0;
        int tile_bad = 0;
        for (int i = 0; i < rows && wn > 0; i++) tile_bad |= conv4j_top_bits(r[i] + w0, (size_t)wn) >= CONV4J_NONFINITE;
        if (tile_bad) conv4j_wino_direct_tile(rp, xn, o, m, oh, ow, ty, tx0 + k, bias, r, w0);
    }
}

/* Aᵀ M A (+ bias) for the tiles tx in [tx0, tx1) of tile row ty of output channel o, plane yo, from
   m[xi][o][k0 + (tx - tx0)], stored or added; outputs beyond oh x ow are dropped. With a repair, tiles
   whose outputs came out non-finite are recomputed from the definition first (see winograd.h; a
   non-finite bias makes its whole channel so, as it does by the definition). */
static inline void conv4j_wino_output_row(int m, const float *mk, size_t mplane, float bias, float *yo, int oh,
                                          int ow, int ty, int tx0, int tx1, float *scratch, int accumulate,
                                          const conv4j_wino_repair *rp, const float *xn, int o) {
    const int a = m + 2, n = tx1 - tx0, a2 = a * a;
    float *r[4];
    for (int i = 0; i < m; i++) r[i] = scratch + (size_t)i * (m * n + 2);
    for (int k = 0; k < n; k++) {
        float q[36];
        for (int xi = 0; xi < a2; xi++) q[xi] = mk[(size_t)xi * mplane + k];
        conv4j_wino_a_tile(m, q, bias, r, m * k);
    }
    int j0 = m * tx0, cols = m * n;
    if (j0 + cols > ow) cols = ow - j0;
    const int rows = (long long)m * ty + m <= oh ? m : oh - m * ty;
    if (rp) conv4j_wino_repair_row(rp, xn, o, m, oh, ow, ty, tx0, n, rows, cols, bias, r);
    for (int i = 0; i < rows; i++) {
        float *dst = yo + ((size_t)m * ty + i) * ow + j0;
        if (accumulate) {
            for (int j = 0; j < cols; j++) dst[j] += r[i][j];
        } else {
            memcpy(dst, r[i], sizeof(float) * (size_t)cols);
        }
    }
}


/* The largest magnitude among the input rows the tiles [t0, t0 + tc) read, image by image. */
static uint32_t conv4j_wino_input_top(const conv4j_wino_params *p, const float *x) {
    const conv4j_conv_shape *s = &p->s;
    const int m = p->m, th = (s->oh + m - 1) / m, tw = (s->ow + m - 1) / m, per_image = th * tw;
    const int first = p->t0, last = p->t0 + p->tc - 1;
    uint32_t top = 0;
    for (int n = first / per_image; n <= last / per_image; n++) {
        const int ty0 = n == first / per_image ? (first % per_image) / tw : 0;
        const int ty1 = n == last / per_image ? (last % per_image) / tw : th - 1;
        long long r0 = (long long)m * ty0 - s->pt, r1 = (long long)m * ty1 - s->pt + m + 2;
        r0 = r0 < 0 ? 0 : r0;
        r1 = r1 > s->h ? s->h : r1;
        for (int c = 0; c < s->c && r1 > r0; c++) {
            const uint32_t t = conv4j_scan_top(x + (((size_t)n * s->c + c) * s->h + (size_t)r0) * s->w, (size_t)(r1 - r0) * s->w);
            top = t > top ? t : top;
        }
    }
    return top;
}

/* Whether tiles may come out non-finite, given the largest magnitudes of the input rows and the
   weights: finite inputs and weights give finite outputs unless a sum overflows, and the transforms
   grow values by less than 2^25 over the definition's bound |x|·|w|·9C, so below 2^100 nothing can.
   The input and weight transforms also grow each operand on its own (up to 100-fold and 576-fold), so
   an operand from 2^100 on may overflow its transform whatever the other is: a huge input times
   all-zero weights is 0 by the definition, but Inf·0 = NaN after the transform. */
static int conv4j_wino_may_overflow(uint32_t x_top, uint32_t w_top, int c_count) {
    if (x_top >= CONV4J_NONFINITE || w_top >= CONV4J_NONFINITE) return 1;
    float xm, wm;
    memcpy(&xm, &x_top, sizeof xm);
    memcpy(&wm, &w_top, sizeof wm);
    return xm >= 0x1p100f || wm >= 0x1p100f || (double)xm * wm * 9.0 * c_count >= 0x1p100;
}

/* The input transform of the tiles, cut into runs along one tile row: V = Bᵀ d B into v[xi][c][k]. */
static void conv4j_wino_inputs(const conv4j_wino_params *p, const float *x, float *v, float *scratch, size_t ld,
                               size_t vplane) {
    const conv4j_conv_shape *s = &p->s;
    const int m = p->m, tw = (s->ow + m - 1) / m, per_image = ((s->oh + m - 1) / m) * tw;
    for (int k = 0; k < p->tc;) {
        int t = p->t0 + k, n = t / per_image, ty = (t % per_image) / tw, tx0 = t % tw;
        int tx1 = tx0 + (p->tc - k) < tw ? tx0 + (p->tc - k) : tw;
        for (int c = 0; c < s->c; c++) {
            conv4j_wino_input_row(m, x + ((size_t)n * s->c + c) * s->h * s->w, s->h, s->w, s->pt, s->pl, ty, tw, tx0, tx1,
                                  scratch, v + (size_t)c * ld + k, vplane);
        }
        k += tx1 - tx0;
    }
}

/* The output transform of the tiles, for output channels [first, first + count), stored or added. */
static void conv4j_wino_outputs(const conv4j_wino_params *p, const float *x, const float *mp, const float *bias, float *y,
                                float *scratch, size_t ld, size_t mplane, const conv4j_wino_repair *repair) {
    const conv4j_conv_shape *s = &p->s;
    const int m = p->m, tw = (s->ow + m - 1) / m, per_image = ((s->oh + m - 1) / m) * tw;
    for (int k = 0; k < p->tc;) {
        int t = p->t0 + k, n = t / per_image, ty = (t % per_image) / tw, tx0 = t % tw;
        int tx1 = tx0 + (p->tc - k) < tw ? tx0 + (p->tc - k) : tw;
        for (int o = p->first; o < p->first + p->count; o++) {
            conv4j_wino_output_row(m, mp + (size_t)(o - p->first) * ld + k, mplane, bias ? bias[o] : 0.f,
                                   y + ((size_t)n * s->o + o) * s->oh * s->ow, s->oh, s->ow, ty, tx0, tx1, scratch,
                                   p->accumulate, repair, x + (size_t)n * s->c * s->h * s->w, o);
        }
        k += tx1 - tx0;
    }
}

/* Tiles [t0, t0+tc) of the batch: V = Bᵀ d B into v[xi][c][tc], a² products into m[xi][o][tc],
   then Y = Aᵀ M A (+ bias) of output channels [first, first + count) stored into (or, with
   accumulate, added to) y. v, m and u hold a² planes conv4j_wino_plane(C·ld), (count·ld), (O·C)
   apart, ld = conv4j_wino_ld(tc); u[xi] is O x C, or, with transpose_u, C x O (the forward
   transform of a layer whose input gradient this computes); scratch holds 2a rows of m·tw + 2
   floats. With w_raw (the untransformed weights, O x C x 3 x 3, or the layer's C x O x 3 x 3 with
   transpose_u), tiles that come out non-finite are recomputed from the definition, checked only when
   the largest magnitude of the input rows of the chunk or of the weights (w_top, as bits:
   conv4j_max_bits) is non-finite or large enough to overflow; without w_raw, they keep Winograd's raw
   values. */
void conv4j_wino_tiles(const conv4j_wino_params *p, const float *x, const float *u, const float *bias, float *y, float *v,
                       float *mp, float *scratch, const float *w_raw) {
    const conv4j_conv_shape *s = &p->s;
    const int a = p->m + 2, c_count = s->c, o_count = s->o, o0 = p->first, on = p->count;
    const size_t ld = conv4j_wino_ld(p->tc);
    const size_t vplane = conv4j_wino_plane((size_t)c_count * ld), mplane = conv4j_wino_plane((size_t)on * ld);
    const uint32_t x_top = w_raw ? conv4j_wino_input_top(p, x) : 0;
    conv4j_wino_inputs(p, x, v, scratch, ld, vplane);
    if (w_raw && !conv4j_wino_may_overflow(x_top, p->w_top, c_count)) w_raw = NULL;
    const conv4j_wino_repair repair = {x, w_raw, c_count, s->h, s->w, o_count, s->pt, s->pl, p->transpose_u};
    const size_t uplane = conv4j_wino_plane((size_t)o_count * c_count);
    for (int xi = 0; xi < a * a; xi++) {
        const float *uo = u + xi * uplane + (p->transpose_u ? (size_t)o0 : (size_t)o0 * c_count);
        cblas_sgemm(CblasRowMajor, p->transpose_u ? CblasTrans : CblasNoTrans, CblasNoTrans, on, p->tc, c_count, 1.f, uo,
                    p->transpose_u ? o_count : c_count, v + xi * vplane, (int)ld, 0.f, mp + xi * mplane, (int)ld);
    }
    conv4j_wino_outputs(p, x, mp, bias, y, scratch, ld, mplane, w_raw ? &repair : NULL);
}

void conv4j_wino_weights(const conv4j_wino_params *p, const float *w, float *u) {
    conv4j_wino_weights_any(w, p->s.o, p->s.c, u, p->m, p->flip, p->j0, p->jn);
}
