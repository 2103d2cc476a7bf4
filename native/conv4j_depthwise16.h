/*
 * Depthwise convolution with 16 channels in a vector, for the layers the row kernels of
 * conv4j_depthwise.h serve badly: strided ones, and small planes whose rows are a vector long or
 * less (MobileNet's 28x28 to 7x7 layers ran at 1 to 9 GFLOP/s on them). The 16 channels' planes are
 * turned into one padded pixel-major image (pixel by pixel, 16 channels each, zeros where the
 * padding is), so every tap of every output pixel is one multiply-add of whole vectors, whatever the
 * stride, dilation or size; results are turned back into planes. The padding is multiplied like
 * any value, as in the definition, so non-finite weights and gradients need no other path.
 * AVX-512 only: callers check conv4j_has_avx512().
 */
#ifndef CONV4J_DEPTHWISE16_H
#define CONV4J_DEPTHWISE16_H

#include <stdlib.h>
#include <string.h>
#include "conv4j_dispatch.h"

/* Where these kernels are the faster ones (measured here on MobileNet v1's layers, one thread, in
   alternating runs against the row kernels): strided rows of fewer than 32 outputs forward (1.1x to
   5x) and of fewer than 64 backward (2x to 6x; forward at 56 outputs the row kernels won), and
   stride-1 rows of fewer than 16. At stride 1 and 28 outputs the row kernels were as fast; on larger
   planes (128 outputs a row) they were 2x faster, as the padded image no longer stays in cache. */
static inline int conv4j_dw16_suits(int ow, int sw, int backward) {
    return ow > 0 && (sw > 1 ? ow < (backward ? 64 : 32) : ow < 16);
}

#ifdef CONV4J_AVX512

/* The padded pixel-major image of 16 planes (plane[l], l < n; lanes past n are zero): dst[r][c]
   (r < hp, c < wp, 16 floats each) is plane[l][r - pt][c - pl], or 0 outside the h x w plane. */
CONV4J_AVX512
static void conv4j_dw16_pack_padded(const float *const *plane, int n, int h, int w, int hp, int wp,
                                    int pt, int pl, float *dst) {
    for (int r = 0; r < hp; r++, dst += (size_t)wp * 16) {
        long long ih = (long long)r - pt;
        if (ih < 0 || ih >= h) {
            memset(dst, 0, sizeof(float) * 16 * (size_t)wp);
            continue;
        }
        for (int c0 = 0; c0 < wp; c0 += 16) {
            long long iw0 = (long long)c0 - pl;
            __mmask16 m = conv4j_lanes(w - iw0) & (__mmask16)~conv4j_lanes(-iw0) & conv4j_lanes(wp - c0);
            __m512 v[16];
            for (int l = 0; l < 16; l++) {
                v[l] = l < n && m ? _mm512_maskz_loadu_ps(m, plane[l] + (size_t)ih * w + iw0) : _mm512_setzero_ps();
            }
            conv4j_transpose16(v);
            for (int k = 0; k < 16 && c0 + k < wp; k++) _mm512_storeu_ps(dst + (size_t)(c0 + k) * 16, v[k]);
        }
    }
}

/* 16 planes of np pixels (plane[l], l < n) into pixel-major dst[p][16]. */
CONV4J_AVX512
static void conv4j_dw16_pack(const float *const *plane, int n, long long np, float *dst) {
    for (long long p0 = 0; p0 < np; p0 += 16) {
        __mmask16 m = conv4j_lanes(np - p0);
        __m512 v[16];
        for (int l = 0; l < 16; l++) v[l] = l < n ? _mm512_maskz_loadu_ps(m, plane[l] + p0) : _mm512_setzero_ps();
        conv4j_transpose16(v);
        for (int k = 0; k < 16 && p0 + k < np; k++) _mm512_storeu_ps(dst + (size_t)(p0 + k) * 16, v[k]);
    }
}

/* Pixel-major src[p][16] (np pixels) back into planes plane[l], l < n: written, or added to with add.
   src's row stride is ld pixels, so an interior window of a padded image can be read: pixel p of
   row y is src[(y * ld + x) * 16] for the planes' width cols (np = rows * cols). */
CONV4J_AVX512
static void conv4j_dw16_unpack(const float *src, long long rows, long long cols, long long ld, float *const *plane,
                               int n, int add) {
    for (long long y = 0; y < rows; y++) {
        for (long long x0 = 0; x0 < cols; x0 += 16) {
            __mmask16 m = conv4j_lanes(cols - x0);
            __m512 v[16];
            for (int k = 0; k < 16; k++) {
                v[k] = x0 + k < cols ? _mm512_loadu_ps(src + (size_t)(y * ld + x0 + k) * 16) : _mm512_setzero_ps();
            }
            conv4j_transpose16(v);
            for (int l = 0; l < n; l++) {
                float *out = plane[l] + (size_t)(y * cols + x0);
                __m512 o = v[l];
                if (add) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(m, out));
                _mm512_mask_storeu_ps(out, m, o);
            }
        }
    }
}

/* The most floats of scratch these kernels take (16 MiB); larger padded images (a huge stride,
   dilation or padding around a small input) go to the row kernels, whose scratch follows the rows. */
#define CONV4J_DW16_MAX_SCRATCH (1LL << 22)

/* Whether a padded image of hp x wp pixels, and the rest, stays within CONV4J_DW16_MAX_SCRATCH. */
static inline int conv4j_dw16_fits(long long hp, long long wp, long long rest) {
    const long long cap = CONV4J_DW16_MAX_SCRATCH / 16;
    return hp > 0 && wp > 0 && hp <= cap && wp <= cap && rest <= cap && hp * wp <= cap - rest;
}

/* Floats of the scratch conv4j_dw16_forward and the backward passes need. */
static inline long long conv4j_dw16_scratch(int kh, int kw, int oh, int ow, int sh, int sw, int dh, int dw) {
    long long hp = (oh - 1LL) * sh + (kh - 1LL) * dh + 1, wp = (ow - 1LL) * sw + (kw - 1LL) * dw + 1;
    /* padded input (+ room for the last block of 8 outputs to read past its row), output, kernels */
    return 16 * (hp * wp + 8LL * sw + 16) + 16LL * oh * ow + 16LL * kh * kw + 16;
}

/* The output channels [o0, o0+n) (n <= 16) of one image: y = bias + the taps, from the padded image
   xs (hp x wp pixels) into ys (oh x ow pixels), 8 output pixels at a time. */
CONV4J_AVX512
static void conv4j_dw16_taps(const float *xs, long long wp, const float *ws, __m512 bias, float *ys,
                             int kh, int kw, int oh, int ow, int sh, int sw, int dh, int dw) {
    for (int i = 0; i < oh; i++) {
        for (int j0 = 0; j0 < ow; j0 += 8) {
            __m512 acc[8];
            for (int t = 0; t < 8; t++) acc[t] = bias;
            for (int p = 0; p < kh; p++) {
                const float *xr = xs + ((size_t)((long long)i * sh + (long long)p * dh) * wp + (size_t)j0 * sw) * 16;
                for (int q = 0; q < kw; q++) {
                    const __m512 wv = _mm512_loadu_ps(ws + (size_t)(p * kw + q) * 16);
                    const float *xq = xr + (size_t)q * dw * 16;
                    for (int t = 0; t < 8; t++) acc[t] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(xq + (size_t)t * sw * 16), acc[t]);
                }
            }
            for (int t = 0; t < 8 && j0 + t < ow; t++) _mm512_storeu_ps(ys + ((size_t)i * ow + j0 + t) * 16, acc[t]);
        }
    }
}

/* Depthwise forward of output channels [o0, o0+on) of one image, 16 at a time, with the same
   arguments as conv4j_dw_forward (pointers already offset). Returns 0, having written nothing, if its
   scratch would pass CONV4J_DW16_MAX_SCRATCH or could not be allocated. */
CONV4J_AVX512
static int conv4j_dw16_forward(const float *x, const float *wt, const float *bias, float *y,
                               int h, int w, int kh, int kw, int oh, int ow, int sh, int sw, int pt, int pl,
                               int dh, int dw, int mult, int o0, int on) {
    const long long hp = (oh - 1LL) * sh + (kh - 1LL) * dh + 1, wp = (ow - 1LL) * sw + (kw - 1LL) * dw + 1;
    if (!conv4j_dw16_fits(hp, wp, 8LL * sw + 16 + (long long)oh * ow + (long long)kh * kw + 1)) return 0;
    float *buf = (float *)aligned_alloc(64, sizeof(float) * (size_t)((conv4j_dw16_scratch(kh, kw, oh, ow, sh, sw, dh, dw) + 15) / 16 * 16));
    if (!buf) return 0;
    float *xs = buf, *ys = xs + 16 * (hp * wp + 8LL * sw + 16), *ws = ys + 16LL * oh * ow;
    memset(xs + 16 * hp * wp, 0, sizeof(float) * 16 * (size_t)(8LL * sw + 16));
    for (int c0 = o0; c0 < o0 + on; c0 += 16) {
        const int n = o0 + on - c0 < 16 ? o0 + on - c0 : 16;
        const float *in[16];
        float *out[16], lanes[16] = {0};
        for (int l = 0; l < n; l++) {
            in[l] = x + (size_t)((c0 + l) / mult) * h * w;
            out[l] = y + (size_t)(c0 + l) * oh * ow;
            if (bias) lanes[l] = bias[c0 + l];
        }
        for (int t = 0; t < kh * kw; t++) {
            for (int l = 0; l < 16; l++) ws[t * 16 + l] = l < n ? wt[(size_t)(c0 + l) * kh * kw + t] : 0.f;
        }
        conv4j_dw16_pack_padded(in, n, h, w, (int)hp, (int)wp, pt, pl, xs);
        conv4j_dw16_taps(xs, wp, ws, _mm512_loadu_ps(lanes), ys, kh, kw, oh, ow, sh, sw, dh, dw);
        conv4j_dw16_unpack(ys, oh, ow, ow, out, n, 0);
    }
    free(buf);
    return 1;
}

/* Weight gradient of output channels [o0, o0+on) over the batch, 16 at a time, as
   conv4j_dw_backward_weights (x and gy whole tensors, gw offset): per image and tap, four running
   vector sums over the output pixels in a fixed order, then added in double image by image.
   Returns 0, having written nothing, if its scratch would be too large or could not be allocated. */
CONV4J_AVX512
static int conv4j_dw16_backward_weights(const float *x, const float *gy, float *gw, int batch, int channels,
                                        int outChannels, int h, int w, int kh, int kw, int oh, int ow,
                                        int sh, int sw, int pt, int pl, int dh, int dw, int mult, int o0, int on,
                                        int accumulate) {
    const long long hp = (oh - 1LL) * sh + (kh - 1LL) * dh + 1, wp = (ow - 1LL) * sw + (kw - 1LL) * dw + 1;
    const int taps = kh * kw;
    if (!conv4j_dw16_fits(hp, wp, 8LL * sw + 16 + (long long)oh * ow + (long long)taps + 1)) return 0;
    float *buf = (float *)aligned_alloc(64, sizeof(float) * (size_t)((conv4j_dw16_scratch(kh, kw, oh, ow, sh, sw, dh, dw) + 15) / 16 * 16));
    double *sums = (double *)malloc(sizeof(double) * 16 * (size_t)taps);
    if (!buf || !sums) {
        free(buf);
        free(sums);
        return 0;
    }
    float *xs = buf, *gs = xs + 16 * (hp * wp + 8LL * sw + 16);
    for (int c0 = o0; c0 < o0 + on; c0 += 16) {
        const int n = o0 + on - c0 < 16 ? o0 + on - c0 : 16;
        memset(sums, 0, sizeof(double) * 16 * (size_t)taps);
        for (int b = 0; b < batch; b++) {
            const float *in[16], *g[16];
            for (int l = 0; l < n; l++) {
                in[l] = x + ((size_t)b * channels + (c0 + l) / mult) * h * w;
                g[l] = gy + ((size_t)b * outChannels + c0 + l) * oh * ow;
            }
            conv4j_dw16_pack_padded(in, n, h, w, (int)hp, (int)wp, pt, pl, xs);
            conv4j_dw16_pack(g, n, (long long)oh * ow, gs);
            for (int p = 0; p < kh; p++) {
                for (int q = 0; q < kw; q++) {
                    __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
                    int k = 0;
                    for (int i = 0; i < oh; i++) {
                        const float *xr = xs + ((size_t)((long long)i * sh + (long long)p * dh) * wp + (size_t)q * dw) * 16;
                        for (int j = 0; j < ow; j++, k++) {
                            a[k & 3] = _mm512_fmadd_ps(_mm512_loadu_ps(gs + (size_t)k * 16), _mm512_loadu_ps(xr + (size_t)j * sw * 16), a[k & 3]);
                        }
                    }
                    float lane[16];
                    _mm512_storeu_ps(lane, _mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3])));
                    for (int l = 0; l < 16; l++) sums[(p * kw + q) * 16 + l] += lane[l];
                }
            }
        }
        for (int l = 0; l < n; l++) {
            float *gk = gw + (size_t)(c0 + l) * taps;
            for (int t = 0; t < taps; t++) gk[t] = (float)(accumulate ? gk[t] + sums[t * 16 + l] : sums[t * 16 + l]);
        }
    }
    free(buf);
    free(sums);
    return 1;
}

/* Input gradient of input channels [c0, c0+cn) of one image, one output channel each (mult 1), as
   conv4j_dw_backward_data (pointers offset): every output pixel adds its taps into a padded
   pixel-major image, in a fixed order, whose window over the input is then turned back into planes
   (written, or added with accumulate); the padding's share is dropped. Returns 0, having written
   nothing, if its scratch would be too large or could not be allocated. */
CONV4J_AVX512
static int conv4j_dw16_backward_data(const float *gy, const float *wt, float *gx, int h, int w, int kh, int kw,
                                     int oh, int ow, int sh, int sw, int pt, int pl, int dh, int dw,
                                     int c0, int cn, int accumulate) {
    long long hp = (oh - 1LL) * sh + (kh - 1LL) * dh + 1, wp = (ow - 1LL) * sw + (kw - 1LL) * dw + 1;
    if (hp < (long long)pt + h) hp = (long long)pt + h;  /* the window over the input lies inside */
    if (wp < (long long)pl + w) wp = (long long)pl + w;
    const int taps = kh * kw;
    if (!conv4j_dw16_fits(hp, wp, (long long)oh * ow + taps + 1)) return 0;
    float *buf = (float *)aligned_alloc(64, sizeof(float) * (size_t)(16 * (hp * wp + (long long)oh * ow + taps + 1)));
    if (!buf) return 0;
    float *gxs = buf, *gs = gxs + 16 * hp * wp, *ws = gs + 16LL * oh * ow;
    for (int b0 = c0; b0 < c0 + cn; b0 += 16) {
        const int n = c0 + cn - b0 < 16 ? c0 + cn - b0 : 16;
        const float *g[16];
        float *out[16];
        for (int l = 0; l < n; l++) {
            g[l] = gy + (size_t)(b0 + l) * oh * ow;
            out[l] = gx + (size_t)(b0 + l) * h * w;
        }
        for (int t = 0; t < taps; t++) {
            for (int l = 0; l < 16; l++) ws[t * 16 + l] = l < n ? wt[(size_t)(b0 + l) * taps + t] : 0.f;
        }
        conv4j_dw16_pack(g, n, (long long)oh * ow, gs);
        memset(gxs, 0, sizeof(float) * 16 * (size_t)(hp * wp));
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                const __m512 v = _mm512_loadu_ps(gs + ((size_t)i * ow + j) * 16);
                for (int p = 0; p < kh; p++) {
                    float *row = gxs + ((size_t)((long long)i * sh + (long long)p * dh) * wp + (size_t)j * sw) * 16;
                    for (int q = 0; q < kw; q++) {
                        float *at = row + (size_t)q * dw * 16;
                        _mm512_storeu_ps(at, _mm512_fmadd_ps(_mm512_loadu_ps(ws + (size_t)(p * kw + q) * 16), v, _mm512_loadu_ps(at)));
                    }
                }
            }
        }
        conv4j_dw16_unpack(gxs + ((size_t)pt * wp + pl) * 16, h, w, wp, out, n, accumulate);
    }
    free(buf);
    return 1;
}

#endif
#endif
