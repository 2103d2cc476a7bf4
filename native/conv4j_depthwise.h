/*
 * Direct kernels for depthwise convolution (groups == C, O = mult*C): each output channel reads
 * one input plane, so im2col + GEMM would degenerate into M=1 products. Output channel oc reads
 * input channel oc / mult. Loops run along output rows so the innermost loop is a contiguous
 * (stride 1) or strided pass over one row, without bounds tests.
 */
#ifndef CONV4J_DEPTHWISE_H
#define CONV4J_DEPTHWISE_H

#include <stddef.h>
#include "conv4j_im2col.h"

/* Output channels [o0, o0+on) of one image. */
static inline void conv4j_dw_forward(const float *x, long long xoff, const float *wt, long long woff,
                                     const float *bias, long long boff, float *y, long long yoff,
                                     int h, int w, int kh, int kw, int oh, int ow,
                                     int sh, int sw, int pt, int pl, int dh, int dw,
                                     int mult, int o0, int on) {
    x += xoff; wt += woff; y += yoff;
    if (bias) bias += boff;
    for (int oc = o0; oc < o0 + on; oc++) {
        const float *xc = x + (size_t)(oc / mult) * h * w;
        const float *wk = wt + (size_t)oc * kh * kw;
        float *yc = y + (size_t)oc * oh * ow;
        const float init = bias ? bias[oc] : 0.f;
        for (int i = 0; i < oh; i++) {
            float *yr = yc + (size_t)i * ow;
            for (int j = 0; j < ow; j++) yr[j] = init;
            for (int p = 0; p < kh; p++) {
                int ih = i * sh - pt + p * dh;
                if ((unsigned)ih >= (unsigned)h) continue;
                for (int q = 0; q < kw; q++) {
                    const float wv = wk[p * kw + q];
                    int iw0 = q * dw - pl, lo, hi;
                    conv4j_valid_cols(iw0, sw, w, ow, &lo, &hi);
                    const float *src = xc + (size_t)ih * w + iw0;
                    if (sw == 1) {
                        for (int j = lo; j < hi; j++) yr[j] += wv * src[j];
                    } else {
                        for (int j = lo; j < hi; j++) yr[j] += wv * src[(size_t)j * sw];
                    }
                }
            }
        }
    }
}

/* Input gradient of input channels [c0, c0+cn) of one image; gx is cleared first unless accumulate. */
static inline void conv4j_dw_backward_data(const float *gy, long long gyoff, const float *wt, long long woff,
                                           float *gx, long long gxoff,
                                           int h, int w, int kh, int kw, int oh, int ow,
                                           int sh, int sw, int pt, int pl, int dh, int dw,
                                           int mult, int c0, int cn, int accumulate) {
    gy += gyoff; wt += woff; gx += gxoff;
    for (int c = c0; c < c0 + cn; c++) {
        float *gxc = gx + (size_t)c * h * w;
        if (!accumulate) memset(gxc, 0, sizeof(float) * (size_t)h * w);
        for (int oc = c * mult; oc < (c + 1) * mult; oc++) {
            const float *wk = wt + (size_t)oc * kh * kw;
            const float *gyc = gy + (size_t)oc * oh * ow;
            for (int i = 0; i < oh; i++) {
                const float *gr = gyc + (size_t)i * ow;
                for (int p = 0; p < kh; p++) {
                    int ih = i * sh - pt + p * dh;
                    if ((unsigned)ih >= (unsigned)h) continue;
                    for (int q = 0; q < kw; q++) {
                        const float wv = wk[p * kw + q];
                        int iw0 = q * dw - pl, lo, hi;
                        conv4j_valid_cols(iw0, sw, w, ow, &lo, &hi);
                        float *dst = gxc + (size_t)ih * w + iw0;
                        if (sw == 1) {
                            for (int j = lo; j < hi; j++) dst[j] += wv * gr[j];
                        } else {
                            for (int j = lo; j < hi; j++) dst[(size_t)j * sw] += wv * gr[j];
                        }
                    }
                }
            }
        }
    }
}

/* Weight gradient of output channels [o0, o0+on), summed over the whole batch in a fixed order. */
static inline void conv4j_dw_backward_weights(const float *x, const float *gy, float *gw, long long gwoff,
                                              int batch, int channels, int outChannels,
                                              int h, int w, int kh, int kw, int oh, int ow,
                                              int sh, int sw, int pt, int pl, int dh, int dw,
                                              int mult, int o0, int on, int accumulate) {
    gw += gwoff;
    for (int oc = o0; oc < o0 + on; oc++) {
        float *gk = gw + (size_t)oc * kh * kw;
        for (int p = 0; p < kh; p++) {
            for (int q = 0; q < kw; q++) {
                int iw0 = q * dw - pl, lo, hi;
                conv4j_valid_cols(iw0, sw, w, ow, &lo, &hi);
                double s = 0;
                for (int n = 0; n < batch; n++) {
                    const float *xc = x + ((size_t)n * channels + oc / mult) * h * w;
                    const float *gyc = gy + ((size_t)n * outChannels + oc) * oh * ow;
                    for (int i = 0; i < oh; i++) {
                        int ih = i * sh - pt + p * dh;
                        if ((unsigned)ih >= (unsigned)h) continue;
                        const float *src = xc + (size_t)ih * w + iw0, *gr = gyc + (size_t)i * ow;
                        float r = 0.f;
                        if (sw == 1) {
                            for (int j = lo; j < hi; j++) r += gr[j] * src[j];
                        } else {
                            for (int j = lo; j < hi; j++) r += gr[j] * src[(size_t)j * sw];
                        }
                        s += r;
                    }
                }
                gk[p * kw + q] = (float)(accumulate ? gk[p * kw + q] + s : s);
            }
        }
    }
}

#endif
