/*
 * Winograd F(m x m, 3x3), m = 2 or 4, for 3x3 convolutions with stride 1, dilation 1 and one group
 * (Lavin & Gray, arXiv:1509.09308). Each m x m block of outputs (a tile) comes from an a x a input
 * patch d, a = m + 2:
 *     Y = Aᵀ [ U ⊙ V ] A,  U = G g Gᵀ (per weight), V = Bᵀ d B (per patch),
 * and the sum over input channels of U ⊙ V is, for each of the a² positions xi of the transform
 * domain, one matrix product M[xi] (O x T) = U[xi] (O x C) · V[xi] (C x T) over T tiles: a² sgemm
 * calls doing a²·O·C·T multiply-adds where im2col does 9·m²·O·C·T (2.25x fewer for m = 2, 4x for
 * m = 4). Tiles are numbered across the batch (tile t = (n·th + ty)·tw + tx), so small images still
 * give wide products.
 *
 * F(2x2, 3x3), points 0, ±1, ∞:
 *   Bᵀ = | 1  0 -1  0 |   G = |  1    0    0  |   Aᵀ = | 1  1  1  0 |
 *        | 0  1  1  0 |       | 1/2  1/2  1/2 |        | 0  1 -1 -1 |
 *        | 0 -1  1  0 |       | 1/2 -1/2  1/2 |
 *        | 0  1  0 -1 |       |  0    0    1  |
 *
 * F(4x4, 3x3), points 0, ±1, ±2, ∞ (its constants grow, so its rounding error is larger; the code
 * uses 24 G and divides the result by 576, see conv4j_wino_g):
 *   Bᵀ = | 4  0 -5  0  1  0 |   G = |  1/4     0     0  |   Aᵀ = | 1  1  1  1  1  0 |
 *        | 0 -4 -4  1  1  0 |       | -1/6  -1/6  -1/6  |        | 0  1 -1  2 -2  0 |
 *        | 0  4 -4 -1  1  0 |       | -1/6   1/6  -1/6  |        | 0  1  1  4  4  0 |
 *        | 0 -2 -1  2  1  0 |       | 1/24  1/12   1/6  |        | 0  1 -1  8 -8  1 |
 *        | 0  2 -1 -2  1  0 |       | 1/24 -1/12   1/6  |
 *        | 0  4  0 -5  0  1 |       |   0     0     1   |
 *
 * Non-finite values break the identity behind these transforms: one NaN input pixel reaches every
 * output of the tiles whose a x a patch holds it (a 5x5 block for m = 2, up to 8x8 for m = 4, where
 * the definition makes a 3x3 block NaN), and an infinity meets its own negation and becomes NaN.
 * Given the untransformed weights (conv4j_wino_repair), the output transform recomputes every tile
 * that came out non-finite from the definition, so results match the direct methods everywhere. The
 * caller passes the largest magnitude of the weights (conv4j_max_bits) and the tile kernel finds that
 * of the input rows of its tiles before it transforms them (a vectorized pass that leaves them in
 * cache), so the check runs only where something is non-finite or large enough to overflow.
 */
#ifndef CONV4J_WINOGRAD_H
#define CONV4J_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cblas.h>
#include "conv4j_dispatch.h"

/* The distance between the planes of a transform holding n floats each: n rounded up, plus 16.
   Planes exactly a multiple of 4 KiB apart would map the streams of a transform onto the same
   L1 sets and thrash them. */
static inline size_t conv4j_wino_plane(size_t n) {
    return ((n + 15) & ~(size_t)15) + 16;
}

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
static inline void conv4j_wino_weights(const float *w, int o_count, int c_count, float *u, int m, int flip,
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

/* The largest magnitude among n floats, as bits (sign cleared): an integer max, which vectorizes (a
   float max would not, without reassociation). Bits from 0x7f800000 up mean an infinity or a NaN;
   below, they order like the magnitudes. */
static inline uint32_t conv4j_wino_top(const float *v, size_t n) {
    uint32_t top = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t bits;
        memcpy(&bits, v + j, sizeof bits);
        bits &= 0x7fffffffu;
        top = bits > top ? bits : top;
    }
    return top;
}

#define CONV4J_WINO_NONFINITE 0x7f800000u

/* conv4j_wino_top over a long stretch, compiled for each ISA level (conv4j_dispatch.h). */
CONV4J_MULTIVERSION
static uint32_t conv4j_wino_scan(const float *v, size_t n) {
    return conv4j_wino_top(v, n);
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
    for (int i = 0; i < rows; i++) bad |= conv4j_wino_top(r[i], (size_t)cols) >= CONV4J_WINO_NONFINITE;
    for (int k = 0; bad && k < n; k++) {
        const int w0 = m * k, wn = w0 + m <= cols ? m : cols - w0;
        int tile_bad = 0;
        for (int i = 0; i < rows && wn > 0; i++) tile_bad |= conv4j_wino_top(r[i] + w0, (size_t)wn) >= CONV4J_WINO_NONFINITE;
        if (tile_bad) conv4j_wino_direct_tile(rp, xn, o, m, oh, ow, ty, tx0 + k, bias, r, w0);
    }
}

/* Aᵀ M A (+ bias) for the tiles tx in [tx0, tx1) of tile row ty of output channel o, plane yo, from
   m[xi][o][k0 + (tx - tx0)], stored or added; outputs beyond oh x ow are dropped. With a repair, tiles
   whose outputs came out non-finite are recomputed from the definition first (see the top; a
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

/* The row length of the V and M planes of tc tiles: tc rounded up to 16, so every row of the
   products starts aligned (an odd tc made OpenBLAS's kernels up to 1.7x slower). */
static inline size_t conv4j_wino_ld(int tc) {
    return ((size_t)tc + 15) & ~(size_t)15;
}

/* Tiles [t0, t0+tc) of the batch: V = Bᵀ d B into v[xi][c][tc], a² products into m[xi][o][tc],
   then Y = Aᵀ M A (+ bias) of output channels [o0, o0+on) stored into (or, with accumulate, added
   to) y. v, m and u hold a² planes conv4j_wino_plane(C·ld), (on·ld), (O·C) apart,
   ld = conv4j_wino_ld(tc); u[xi] is O x C, or, with
   transpose_u, C x O (the forward transform of a layer whose input gradient this computes);
   scratch holds 2a rows of m·tw + 2 floats. With w_raw (the untransformed weights, O x C x 3 x 3, or
   the layer's C x O x 3 x 3 with transpose_u), tiles that come out non-finite are recomputed from the
   definition, checked only when the largest magnitude of the input rows of the chunk or of the
   weights (w_top, as bits: conv4j_max_bits) is non-finite or large enough to overflow; without w_raw,
   they keep Winograd's raw values. */
static inline void conv4j_wino_tiles(const float *x, const float *u, const float *bias, float *y,
                                     float *v, float *mp, float *scratch, int c_count, int h, int w,
                                     int o_count, int oh, int ow, int pt, int pl, int t0, int tc, int m,
                                     int transpose_u, int accumulate, int o0, int on, const float *w_raw,
                                     uint32_t w_top) {
    const int a = m + 2;
    const int th = (oh + m - 1) / m, tw = (ow + m - 1) / m, per_image = th * tw;
    const size_t ld = conv4j_wino_ld(tc);
    const size_t vplane = conv4j_wino_plane((size_t)c_count * ld), mplane = conv4j_wino_plane((size_t)on * ld);
    /* the largest magnitude among the input rows the chunk's tiles read, image by image */
    uint32_t x_top = 0;
    for (int n = t0 / per_image; w_raw && n <= (t0 + tc - 1) / per_image; n++) {
        const int ty0 = n == t0 / per_image ? (t0 % per_image) / tw : 0;
        const int ty1 = n == (t0 + tc - 1) / per_image ? ((t0 + tc - 1) % per_image) / tw : th - 1;
        long long r0 = (long long)m * ty0 - pt, r1 = (long long)m * ty1 - pt + a;
        r0 = r0 < 0 ? 0 : r0;
        r1 = r1 > h ? h : r1;
        for (int c = 0; c < c_count && r1 > r0; c++) {
            const uint32_t top = conv4j_wino_scan(x + (((size_t)n * c_count + c) * h + (size_t)r0) * w, (size_t)(r1 - r0) * w);
            x_top = top > x_top ? top : x_top;
        }
    }
    /* the chunk's tiles, cut into runs along one tile row */
    for (int k = 0; k < tc; ) {
        int t = t0 + k, n = t / per_image, ty = (t % per_image) / tw, tx0 = t % tw;
        int tx1 = tx0 + (tc - k) < tw ? tx0 + (tc - k) : tw;
        for (int c = 0; c < c_count; c++) {
            conv4j_wino_input_row(m, x + ((size_t)n * c_count + c) * h * w, h, w, pt, pl, ty, tw, tx0, tx1,
                                  scratch, v + (size_t)c * ld + k, vplane);
        }
        k += tx1 - tx0;
    }
    /* finite inputs and weights give finite outputs unless a sum overflows: the transforms grow values
       by less than 2^25 over the definition's bound |x|·|w|·9C, so below 2^100 nothing can */
    if (w_raw && x_top < CONV4J_WINO_NONFINITE && w_top < CONV4J_WINO_NONFINITE) {
        float xm, wm;
        memcpy(&xm, &x_top, sizeof xm);
        memcpy(&wm, &w_top, sizeof wm);
        if ((double)xm * wm * 9.0 * c_count < 0x1p100) w_raw = NULL;
    }
    const conv4j_wino_repair repair = {x, w_raw, c_count, h, w, o_count, pt, pl, transpose_u};
    const size_t uplane = conv4j_wino_plane((size_t)o_count * c_count);
    for (int xi = 0; xi < a * a; xi++) {
        const float *uo = u + xi * uplane + (transpose_u ? (size_t)o0 : (size_t)o0 * c_count);
        cblas_sgemm(CblasRowMajor, transpose_u ? CblasTrans : CblasNoTrans, CblasNoTrans, on, tc, c_count, 1.f,
                    uo, transpose_u ? o_count : c_count, v + xi * vplane, (int)ld, 0.f, mp + xi * mplane, (int)ld);
    }
    for (int k = 0; k < tc; ) {
        int t = t0 + k, n = t / per_image, ty = (t % per_image) / tw, tx0 = t % tw;
        int tx1 = tx0 + (tc - k) < tw ? tx0 + (tc - k) : tw;
        for (int o = o0; o < o0 + on; o++) {
            conv4j_wino_output_row(m, mp + (size_t)(o - o0) * ld + k, mplane, bias ? bias[o] : 0.f,
                                   y + ((size_t)n * o_count + o) * oh * ow, oh, ow, ty, tx0, tx1, scratch, accumulate,
                                   w_raw ? &repair : NULL, x + (size_t)n * c_count * h * w, o);
        }
        k += tx1 - tx0;
    }
}

#endif
