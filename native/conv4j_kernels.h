/*
 * The native passes of conv4j's blas engine. Each function does one unit of work that the Java
 * side schedules (an image, a group, a band of output rows or a block of channels), so that units
 * can run on different threads without sharing anything they write.
 *
 * Matrices are row-major. For group g of an image:
 *   forward          y_g (og x P)  = W_g (og x K) * col (K x P)            [+ bias]
 *   backward data    dcol (K x P)  = W_g^T * gy_g, then col2im into gx_g
 *   backward weights gw_g (og x K) += gy_g (og x P) * col^T
 * with K = cg*kh*kw and P = oh*ow. A 1x1 kernel with stride 1 and no padding needs no column
 * matrix: the input plane already is one.
 * The products go through conv4j_sgemm (conv4j_gemm.h), given pack, a packing buffer of
 * conv4j_gemm_pack_size() floats, or null to leave every product to OpenBLAS.
 *
 * Pointers arrive as base + element offset, so the Java side passes its tensors without creating
 * objects per call; it checks every offset and extent against the tensor sizes before the call.
 */
#ifndef CONV4J_KERNELS_H
#define CONV4J_KERNELS_H

#include <cblas.h>
#include "conv4j_im2col.h"
#include "conv4j_depthwise.h"
#include "conv4j_winograd.h"
#include "conv4j_direct.h"
#include "conv4j_gemm.h"

/* The column matrix of channels [0, cn) over output rows [oh0, oh0+rows): the input plane itself
   for a pointwise kernel (row stride h*w), else im2col into col (row stride rows*ow). */
static inline const float *conv4j_band_columns(const float *x, float *col, int pointwise, int cn, int h, int w,
                                               int kh, int kw, int sh, int sw, int pt, int pl, int dh, int dw,
                                               int oh0, int rows, int ow, int *ld) {
    if (pointwise) {
        *ld = h * w;
        return x + (size_t)oh0 * ow;
    }
    conv4j_im2col(x, cn, h, w, kh, kw, pt, pl, sh, sw, dh, dw, oh0, rows, ow, col);
    *ld = rows * ow;
    return col;
}

/* One band [oh0, oh0+rows) of one group of one image: y band = W_g * col (+ bias).
   Channel and weight offsets are already applied by the caller; y has row stride oh*ow. With
   `ready`, col already holds this band's column matrix (built by a call for another block of
   output channels). Returns 1 when col holds the matrix afterwards, 0 when the product gathered it
   from the image instead (or the kernel is pointwise). */
static inline int conv4j_forward_band(const float *x, long long xoff, const float *wt, long long woff,
                                      const float *bias, long long boff, float *y, long long yoff,
                                      float *col, float *pack, int pointwise, int ready,
                                      int cg, int h, int w, int og, int kh, int kw, int oh, int ow,
                                      int sh, int sw, int pt, int pl, int dh, int dw,
                                      int oh0, int rows) {
    x += xoff; wt += woff; y += yoff;
    const int K = cg * kh * kw, P = oh * ow, cols = rows * ow;
    float *yb = y + (size_t)oh0 * ow;
    float beta = 0.f;
    if (bias) {
        bias += boff;
        for (int o = 0; o < og; o++) {
            float *row = yb + (size_t)o * P, v = bias[o];
            for (int j = 0; j < cols; j++) row[j] = v;
        }
        beta = 1.f;
    }
    if (ready && !pointwise) {
        conv4j_sgemm(0, 0, og, cols, K, wt, K, col, cols, beta, yb, P, pack);
        return 1;
    }
    if (!pointwise) {
        const conv4j_columns columns = {x, h, w, kh, kw, pt, pl, sh, sw, dh, dw, oh0, ow};
        if (conv4j_sgemm_columns(0, og, cols, K, wt, K, &columns, beta, yb, P, pack)) return 0;
    }
    int ldb;
    const float *b = conv4j_band_columns(x, col, pointwise, cg, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh0, rows, ow, &ldb);
    conv4j_sgemm(0, 0, og, cols, K, wt, K, b, ldb, beta, yb, P, pack);
    return !pointwise;
}

/* Input gradient of channels [c0, c0+cn) of one group of one image, from output rows [oh0, oh0+rows):
   dcol = W_g[:, c0*kh*kw ...]^T * gy band, added onto gx by col2im. gx points at channel c0;
   the caller clears it first unless it accumulates. A pointwise kernel writes the band of gx
   directly, scaled by beta first (0: overwrite, 1: accumulate), and needs no clearing. */
static inline void conv4j_backward_data_band(const float *gy, long long gyoff, const float *wt, long long woff,
                                             float *gx, long long gxoff, float *col, float *pack, int pointwise,
                                             int cg, int cn, int h, int w, int og, int kh, int kw, int oh, int ow,
                                             int sh, int sw, int pt, int pl, int dh, int dw,
                                             int oh0, int rows, float beta) {
    gy += gyoff; wt += woff; gx += gxoff;
    const int K = cg * kh * kw, P = oh * ow, cols = rows * ow, kb = cn * kh * kw;
    const float *gyb = gy + (size_t)oh0 * ow;
    if (pointwise) {
        /* the column matrix is gx itself: add W^T * gy straight into it */
        conv4j_sgemm(1, 0, kb, cols, og, wt, K, gyb, P, beta, gx + (size_t)oh0 * ow, h * w, pack);
        return;
    }
    conv4j_sgemm(1, 0, kb, cols, og, wt, K, gyb, P, 0.f, col, cols, pack);
    conv4j_col2im(col, cn, h, w, kh, kw, pt, pl, sh, sw, dh, dw, oh0, rows, ow, gx);
}

/* Weight gradient of channels [c0, c0+cn) of one group from one image's output rows [oh0, oh0+rows):
   gw[:, block] (og x kb, row stride K) = beta * gw + gy band * col^T. x points at channel c0. */
static inline void conv4j_backward_weights_band(const float *x, long long xoff, const float *gy, long long gyoff,
                                                float *gw, long long gwoff, float *col, float *pack, int pointwise, float beta,
                                                int cg, int cn, int h, int w, int og, int kh, int kw, int oh, int ow,
                                                int sh, int sw, int pt, int pl, int dh, int dw,
                                                int oh0, int rows) {
    x += xoff; gy += gyoff; gw += gwoff;
    const int K = cg * kh * kw, P = oh * ow, cols = rows * ow, kb = cn * kh * kw;
    if (!pointwise) {
        const conv4j_columns columns = {x, h, w, kh, kw, pt, pl, sh, sw, dh, dw, oh0, ow};
        if (conv4j_sgemm_columns(1, og, kb, cols, gy + (size_t)oh0 * ow, P, &columns, beta, gw, K, pack)) return;
    }
    int ldb;
    const float *b = conv4j_band_columns(x, col, pointwise, cn, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh0, rows, ow, &ldb);
    conv4j_sgemm(0, 1, og, kb, cols, gy + (size_t)oh0 * ow, P, b, ldb, beta, gw, K, pack);
}

/* Sets n elements of p + off to v. */
static inline void conv4j_fill(float *p, long long off, long long n, float v) {
    p += off;
    if (v == 0.f) {
        memset(p, 0, sizeof(float) * (size_t)n);
    } else {
        for (long long i = 0; i < n; i++) p[i] = v;
    }
}

/* The largest magnitude among n floats from p + off, as bits with the sign cleared: from 0x7f800000
   up, some value is infinite or NaN (see conv4j_wino_top). */
static inline int conv4j_max_bits(const float *p, long long off, long long n) {
    return (int)conv4j_wino_scan(p + off, (size_t)n);
}

/* out[i] (+)= sum over n < batch and j < plane of in[(n*channels + c0 + i)*plane + j], i < cn.
   Each plane is summed in 16 float lanes (each lane in index order, so the loop vectorizes without
   reassociating anything), the lanes and planes are then added in double in a fixed order: the
   result does not depend on how channels are split across threads. */
CONV4J_MULTIVERSION
static void conv4j_channel_sums(const float *in, int batch, int channels, int plane,
                                int c0, int cn, float *out, int accumulate) {
    for (int i = 0; i < cn; i++) {
        double s = 0;
        for (int n = 0; n < batch; n++) {
            const float *p = in + ((size_t)n * channels + c0 + i) * plane;
            float lane[16] = {0};
            int j = 0;
            for (; j + 16 <= plane; j += 16) {
                for (int l = 0; l < 16; l++) lane[l] += p[j + l];
            }
            for (int l = 0; j < plane; j++, l++) lane[l] += p[j];
            for (int l = 0; l < 16; l++) s += lane[l];
        }
        out[c0 + i] = (float)(accumulate ? out[c0 + i] + s : s);
    }
}

#endif
