/*
 * The vol2col passes (conv4j.h): one band of output rows of one group of one image, its column
 * matrix built by vol2col and its products run by the gemm family of the im2col passes, in the
 * variant chosen when the library loaded (conv4j's own AVX-512 or AVX2 kernels where they are faster,
 * else OpenBLAS). A 1x1x1 kernel with stride 1 and no padding needs no column matrix: the input
 * volume already is one.
 */
#include "conv4j.h"
#include "common/conv4j_dispatch.h"
#include "gemm/gemm.h"
#include "volume/volume.h"

/* The column matrix of channels [0, cn) of x over the band of p. */
static conv4j_volume conv4j_vol_columns(const conv4j_vol_params *p, const float *x, int cn) {
    const conv4j_conv_shape *s = &p->s;
    const conv4j_volume v = {x, cn, p->d, s->h, s->w, p->kd, s->kh, s->kw, p->pf, s->pt, s->pl, p->sd, s->sh, s->sw,
                             p->dd, s->dh, s->dw, s->oh, s->ow, p->r0, p->rows};
    return v;
}

/* The band's column matrix of channels [0, cn): the input volume itself for a pointwise kernel (row
   stride d*h*w; output row t is input row t), else built into col (row stride rows*ow). */
static const float *conv4j_vol_matrix(const conv4j_vol_params *p, const float *x, float *col, int cn, int *ld) {
    if (p->pointwise) {
        *ld = p->d * p->s.h * p->s.w;
        return x + (size_t)p->r0 * p->s.ow;
    }
    const conv4j_volume v = conv4j_vol_columns(p, x, cn);
    conv4j_vol2col(&v, col);
    *ld = p->rows * p->s.ow;
    return col;
}

static int conv4j_vol_taps(const conv4j_vol_params *p) {
    return p->kd * p->s.kh * p->s.kw;
}

void conv4j_vol_forward_band(const conv4j_vol_params *p, const float *x, const float *wt, const float *bias, float *y,
                             float *col, float *pack) {
    const conv4j_conv_shape *s = &p->s;
    x += p->off[0]; wt += p->off[1]; y += p->off[3];
    const int og = s->o, K = s->c * conv4j_vol_taps(p), cols = p->rows * s->ow;
    const size_t P = (size_t)p->od * s->oh * s->ow;
    float *yb = y + (size_t)p->r0 * s->ow;
    float beta = p->beta;
    if (bias) {
        /* the bias first, then the product added onto it: the order of the 2-D passes */
        bias += p->off[2];
        for (int o = 0; o < og; o++) {
            float *row = yb + (size_t)o * P, v = bias[o];
            if (beta != 0.f) {
                for (int j = 0; j < cols; j++) row[j] += v;
            } else {
                for (int j = 0; j < cols; j++) row[j] = v;
            }
        }
        beta = 1.f;
    }
    int ldb;
    const float *b = conv4j_vol_matrix(p, x, col, s->c, &ldb);
    conv4j_gemm->sgemm(0, 0, og, cols, K, wt, K, b, ldb, beta, yb, (int)P, pack);
}

void conv4j_vol_backward_data_band(const conv4j_vol_params *p, const float *gy, const float *wt, float *gx, float *col,
                                   float *pack) {
    const conv4j_conv_shape *s = &p->s;
    gy += p->off[0]; wt += p->off[1]; gx += p->off[2];
    const int K = s->c * conv4j_vol_taps(p), cols = p->rows * s->ow, kb = p->cn * conv4j_vol_taps(p);
    const int P = p->od * s->oh * s->ow;
    const float *gyb = gy + (size_t)p->r0 * s->ow;
    if (p->pointwise) {
        /* the column matrix is gx itself: add W^T * gy straight into it */
        conv4j_gemm->sgemm(1, 0, kb, cols, s->o, wt, K, gyb, P, p->beta, gx + (size_t)p->r0 * s->ow, p->d * s->h * s->w, pack);
        return;
    }
    conv4j_gemm->sgemm(1, 0, kb, cols, s->o, wt, K, gyb, P, 0.f, col, cols, pack);
    const conv4j_volume v = conv4j_vol_columns(p, NULL, p->cn);
    conv4j_col2vol(&v, col, gx);
}

void conv4j_vol_backward_weights_band(const conv4j_vol_params *p, const float *x, const float *gy, float *gw, float *col,
                                      float *pack) {
    const conv4j_conv_shape *s = &p->s;
    x += p->off[0]; gy += p->off[1]; gw += p->off[2];
    const int K = s->c * conv4j_vol_taps(p), cols = p->rows * s->ow, kb = p->cn * conv4j_vol_taps(p);
    const int P = p->od * s->oh * s->ow;
    int ldb;
    const float *b = conv4j_vol_matrix(p, x, col, p->cn, &ldb);
    conv4j_gemm->sgemm(0, 1, s->o, kb, cols, gy + (size_t)p->r0 * s->ow, P, b, ldb, p->beta, gw, K, pack);
}

void conv4j_vol_channel_sums(const float *in, int batch, int channels, int plane, int c0, int cn, float *out,
                             int accumulate) {
    for (int i = 0; i < cn; i++) {
        double s = 0;
        for (int n = 0; n < batch; n++) {
            const float *v = in + ((size_t)n * channels + c0 + i) * plane;
            for (int j = 0; j < plane; j++) s += v[j];
        }
        out[c0 + i] = (float)(accumulate ? out[c0 + i] + s : s);
    }
}
