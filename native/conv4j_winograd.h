/*
 * Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1, dilation 1 and one group (Lavin & Gray,
 * arXiv:1509.09308). Each 2x2 block of outputs (a tile) comes from a 4x4 input patch d:
 *     Y = Aᵀ [ U ⊙ V ] A,  U = G g Gᵀ (per weight), V = Bᵀ d B (per patch),
 * and the sum over input channels of U ⊙ V is, for each of the 16 positions xi of the 4x4 transform
 * domain, one matrix product M[xi] (O x T) = U[xi] (O x C) · V[xi] (C x T) over T tiles: 16 sgemm
 * calls doing 16·O·C·T multiply-adds where im2col does 36·O·C·T. Tiles are numbered across the
 * batch (tile t = (n·th + ty)·tw + tx), so small images still give wide products.
 *
 *   Bᵀ = | 1  0 -1  0 |   G = |  1    0    0  |   Aᵀ = | 1  1  1  0 |
 *        | 0  1  1  0 |       | 1/2  1/2  1/2 |        | 0  1 -1 -1 |
 *        | 0 -1  1  0 |       | 1/2 -1/2  1/2 |
 *        | 0  1  0 -1 |       |  0    0    1  |
 */
#ifndef CONV4J_WINOGRAD_H
#define CONV4J_WINOGRAD_H

#include <stddef.h>
#include <string.h>
#include <cblas.h>

/* The distance between the 16 planes of a transform holding n floats each: n rounded up, plus 16.
   Planes exactly a multiple of 4 KiB apart would map the 16 streams of a transform onto the same
   L1 sets and thrash them. */
static inline size_t conv4j_wino2_plane(size_t n) {
    return ((n + 15) & ~(size_t)15) + 16;
}

/* U[xi][o][c] = (G g[o][c] Gᵀ)[xi] for a weight of shape O x C x 3 x 3 (planes conv4j_wino2_plane(O·C) apart). */
static inline void conv4j_wino2_weights(const float *w, int o_count, int c_count, float *u) {
    const size_t plane = conv4j_wino2_plane((size_t)o_count * c_count);
    for (int o = 0; o < o_count; o++) {
        for (int c = 0; c < c_count; c++) {
            const float *g = w + ((size_t)o * c_count + c) * 9;
            float t[4][3];
            for (int j = 0; j < 3; j++) {  /* G g */
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            for (int i = 0; i < 4; i++) {  /* (G g) Gᵀ */
                float r[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
                for (int j = 0; j < 4; j++) u[(size_t)(i * 4 + j) * plane + (size_t)o * c_count + c] = r[j];
            }
        }
    }
}

/* Bᵀ d B for the tiles tx in [tx0, tx1) of tile row ty of channel plane xc, into v[xi][c][k0 + (tx - tx0)].
   The four input rows of the tile row are first copied with their zero padding into rows of
   2*tw + 2 values, so every tile reads in bounds; then the row combinations (Bᵀ d) run along whole
   rows and the column combinations along tiles, both as plain loops the compiler vectorizes. */
static inline void conv4j_wino2_input_row(const float *xc, int h, int w, int pt, int pl, int ty, int tw,
                                          int tx0, int tx1, float *scratch, float *vk, size_t vplane) {
    const int wp = 2 * tw + 2;
    float *d0 = scratch, *d1 = d0 + wp, *d2 = d1 + wp, *d3 = d2 + wp;
    float *rows[4] = {d0, d1, d2, d3};
    const int c0 = 2 * tx0, c1 = 2 * tx1 + 2;     /* patch columns used, in padded coordinates */
    for (int r = 0; r < 4; r++) {
        int ih = 2 * ty - pt + r;
        float *dst = rows[r];
        if ((unsigned)ih >= (unsigned)h) {
            for (int s = c0; s < c1; s++) dst[s] = 0.f;
            continue;
        }
        /* padded column s holds input column s - pl: zeros, a copy, zeros */
        const float *src = xc + (size_t)ih * w - pl;
        int a = pl > c0 ? (pl < c1 ? pl : c1) : c0, b = pl + w < c1 ? pl + w : c1;
        if (b < a) b = a;
        for (int s = c0; s < a; s++) dst[s] = 0.f;
        if (b > a) memcpy(dst + a, src + a, sizeof(float) * (size_t)(b - a));
        for (int s = b; s < c1; s++) dst[s] = 0.f;
    }
    float *b0 = d0 + 4 * wp, *b1 = b0 + wp, *b2 = b1 + wp, *b3 = b2 + wp;
    for (int s = c0; s < c1; s++) {                /* Bᵀ d, along the rows */
        b0[s] = d0[s] - d2[s];
        b1[s] = d1[s] + d2[s];
        b2[s] = d2[s] - d1[s];
        b3[s] = d1[s] - d3[s];
    }
    const float *bs[4] = {b0, b1, b2, b3};
    const int n = tx1 - tx0;
    for (int r = 0; r < 4; r++) {                  /* (Bᵀ d) B, along the tiles */
        const float *b = bs[r] + c0;
        float *v0 = vk + (size_t)(r * 4) * vplane, *v1 = v0 + vplane, *v2 = v1 + vplane, *v3 = v2 + vplane;
        for (int k = 0; k < n; k++) {
            float e0 = b[2 * k], e1 = b[2 * k + 1], e2 = b[2 * k + 2], e3 = b[2 * k + 3];
            v0[k] = e0 - e2;
            v1[k] = e1 + e2;
            v2[k] = e2 - e1;
            v3[k] = e1 - e3;
        }
    }
}

/* Aᵀ M A (+ bias) for the tiles tx in [tx0, tx1) of tile row ty of output channel plane yo, from
   m[xi][o][k0 + (tx - tx0)]; outputs beyond oh x ow are dropped. */
static inline void conv4j_wino2_output_row(const float *mk, size_t mplane, float bias, float *yo, int oh, int ow,
                                           int ty, int tx0, int tx1, float *scratch) {
    const int n = tx1 - tx0;
    float *r0 = scratch, *r1 = r0 + 2 * n + 2;
    for (int k = 0; k < n; k++) {
        float q[16];
        for (int xi = 0; xi < 16; xi++) q[xi] = mk[(size_t)xi * mplane + k];
        float a0[4], a1[4];
        for (int s = 0; s < 4; s++) {             /* Aᵀ M */
            a0[s] = q[s] + q[4 + s] + q[8 + s];
            a1[s] = q[4 + s] - q[8 + s] - q[12 + s];
        }
        r0[2 * k] = bias + a0[0] + a0[1] + a0[2];   /* (Aᵀ M) A */
        r0[2 * k + 1] = bias + a0[1] - a0[2] - a0[3];
        r1[2 * k] = bias + a1[0] + a1[1] + a1[2];
        r1[2 * k + 1] = bias + a1[1] - a1[2] - a1[3];
    }
    int j0 = 2 * tx0, cols = 2 * n;
    if (j0 + cols > ow) cols = ow - j0;
    float *rows[2] = {r0, r1};
    for (int r = 0; r < 2 && 2 * ty + r < oh; r++) {
        float *dst = yo + (size_t)(2 * ty + r) * ow + j0;
        for (int j = 0; j < cols; j++) dst[j] = rows[r][j];
    }
}

/* Tiles [t0, t0+tc) of the batch: V = Bᵀ d B into v[xi][c][tc], 16 products into m[xi][o][tc],
   then Y = Aᵀ M A (+ bias) into y. v, m and u hold 16 planes conv4j_wino2_plane(C·tc), (O·tc),
   (O·C) apart; scratch holds 8 rows of 2*tw + 2 floats. */
static inline void conv4j_wino2_forward_tiles(const float *x, const float *u, const float *bias, float *y,
                                              float *v, float *m, float *scratch, int c_count, int h, int w,
                                              int o_count, int oh, int ow, int pt, int pl, int t0, int tc) {
    const int th = (oh + 1) / 2, tw = (ow + 1) / 2, per_image = th * tw;
    const size_t vplane = conv4j_wino2_plane((size_t)c_count * tc), mplane = conv4j_wino2_plane((size_t)o_count * tc);
    /* the chunk's tiles, cut into runs along one tile row */
    for (int k = 0; k < tc; ) {
        int t = t0 + k, n = t / per_image, ty = (t % per_image) / tw, tx0 = t % tw;
        int tx1 = tx0 + (tc - k) < tw ? tx0 + (tc - k) : tw;
        for (int c = 0; c < c_count; c++) {
            conv4j_wino2_input_row(x + ((size_t)n * c_count + c) * h * w, h, w, pt, pl, ty, tw, tx0, tx1,
                                   scratch, v + (size_t)c * tc + k, vplane);
        }
        k += tx1 - tx0;
    }
    const size_t uplane = conv4j_wino2_plane((size_t)o_count * c_count);
    for (int xi = 0; xi < 16; xi++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, o_count, tc, c_count, 1.f,
                    u + xi * uplane, c_count, v + xi * vplane, tc, 0.f, m + xi * mplane, tc);
    }
    for (int k = 0; k < tc; ) {
        int t = t0 + k, n = t / per_image, ty = (t % per_image) / tw, tx0 = t % tw;
        int tx1 = tx0 + (tc - k) < tw ? tx0 + (tc - k) : tw;
        for (int o = 0; o < o_count; o++) {
            conv4j_wino2_output_row(m + (size_t)o * tc + k, mplane, bias ? bias[o] : 0.f,
                                    y + ((size_t)n * o_count + o) * oh * ow, oh, ow, ty, tx0, tx1, scratch);
        }
        k += tx1 - tx0;
    }
}

#endif
