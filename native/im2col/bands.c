/*
 * The im2col passes (conv4j.h): one band of output rows of one group of one image, its column
 * matrix built by the im2col family and its products run by the gemm family, each in the variant
 * chosen when the library loaded. A 1x1 kernel with stride 1 and no padding needs no column matrix:
 * the input plane already is one.
 */
#include "conv4j.h"
#include "common/conv4j_dispatch.h"
#include "im2col/im2col.h"
#include "gemm/gemm.h"

/* The column matrix of channels [0, cn) of x over the band of p. */
static conv4j_columns conv4j_band_columns(const conv4j_band_params *p, const float *x, int cn) {
    const conv4j_conv_shape *s = &p->s;
    const conv4j_columns c = {x, cn, s->h, s->w, s->kh, s->kw, s->pt, s->pl, s->sh, s->sw, s->dh, s->dw, p->oh0, p->rows, s->ow};
    return c;
}

/* The band's column matrix of channels [0, cn): the input plane itself for a pointwise kernel (row
   stride h*w), else built into col (row stride rows*ow). */
static const float *conv4j_band_matrix(const conv4j_band_params *p, const float *x, float *col, int cn, int *ld) {
    if (p->pointwise) {
        *ld = p->s.h * p->s.w;
        return x + (size_t)p->oh0 * p->s.ow;
    }
    const conv4j_columns c = conv4j_band_columns(p, x, cn);
    conv4j_im2col->im2col(&c, col);
    *ld = p->rows * p->s.ow;
    return col;
}

int conv4j_forward_band(const conv4j_band_params *p, const float *x, const float *wt, const float *bias, float *y,
                        float *col, float *pack) {
    const conv4j_conv_shape *s = &p->s;
    x += p->off[0]; wt += p->off[1]; y += p->off[3];
    const int og = s->o, K = s->c * s->kh * s->kw, P = s->oh * s->ow, cols = p->rows * s->ow;
    float *yb = y + (size_t)p->oh0 * s->ow;
    float beta = 0.f;
    if (bias) {
        bias += p->off[2];
        for (int o = 0; o < og; o++) {
            float *row = yb + (size_t)o * P, v = bias[o];
            for (int j = 0; j < cols; j++) row[j] = v;
        }
        beta = 1.f;
    }
    if (p->ready && !p->pointwise) {
        conv4j_gemm->sgemm(0, 0, og, cols, K, wt, K, col, cols, beta, yb, P, pack);
        return 1;
    }
    if (!p->pointwise) {
        const conv4j_columns c = conv4j_band_columns(p, x, s->c);
        if (conv4j_gemm->sgemm_columns(0, og, cols, K, wt, K, &c, beta, yb, P, pack)) return 0;
    }
    int ldb;
    const float *b = conv4j_band_matrix(p, x, col, s->c, &ldb);
    conv4j_gemm->sgemm(0, 0, og, cols, K, wt, K, b, ldb, beta, yb, P, pack);
    return !p->pointwise;
}

void conv4j_backward_data_band(const conv4j_band_params *p, const float *gy, const float *wt, float *gx, float *col,
                               float *pack) {
    const conv4j_conv_shape *s = &p->s;
    gy += p->off[0]; wt += p->off[1]; gx += p->off[2];
    const int K = s->c * s->kh * s->kw, P = s->oh * s->ow, cols = p->rows * s->ow, kb = p->cn * s->kh * s->kw;
    const float *gyb = gy + (size_t)p->oh0 * s->ow;
    if (p->pointwise) {
        /* the column matrix is gx itself: add W^T * gy straight into it */
        conv4j_gemm->sgemm(1, 0, kb, cols, s->o, wt, K, gyb, P, p->beta, gx + (size_t)p->oh0 * s->ow, s->h * s->w, pack);
        return;
    }
    conv4j_gemm->sgemm(1, 0, kb, cols, s->o, wt, K, gyb, P, 0.f, col, cols, pack);
    const conv4j_columns c = conv4j_band_columns(p, NULL, p->cn);
    conv4j_im2col->col2im(&c, col, gx);
}

void conv4j_backward_weights_band(const conv4j_band_params *p, const float *x, const float *gy, float *gw, float *col,
                                  float *pack) {
    const conv4j_conv_shape *s = &p->s;
    x += p->off[0]; gy += p->off[1]; gw += p->off[2];
    const int K = s->c * s->kh * s->kw, P = s->oh * s->ow, cols = p->rows * s->ow, kb = p->cn * s->kh * s->kw;
    const float *gyb = gy + (size_t)p->oh0 * s->ow;
    if (!p->pointwise) {
        const conv4j_columns c = conv4j_band_columns(p, x, p->cn);
        if (conv4j_gemm->sgemm_columns(1, s->o, kb, cols, gyb, P, &c, p->beta, gw, K, pack)) return;
    }
    int ldb;
    const float *b = conv4j_band_matrix(p, x, col, p->cn, &ldb);
    conv4j_gemm->sgemm(0, 1, s->o, kb, cols, gyb, P, b, ldb, p->beta, gw, K, pack);
}

long long conv4j_gemm_pack_size(void) {
    return conv4j_gemm->pack_floats;
}

int conv4j_gemm_min_columns(void) {
    return CONV4J_GEMM_MIN_N;
}

int conv4j_gemm_min_transposed_rows(void) {
    return CONV4J_GEMM_MIN_T_ROWS;
}
