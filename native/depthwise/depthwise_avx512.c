/*
 * The depthwise algorithms of the AVX-512 variant (depthwise.h).
 *
 * 16 channels in a vector, for the layers the row kernels serve badly: strided ones, and small
 * planes whose rows are a vector long or less (MobileNet's 28x28 to 7x7 layers ran at 1 to 9 GFLOP/s
 * on them). The 16 channels' planes are turned into one padded pixel-major image (pixel by pixel, 16
 * channels each, zeros where the padding is), so every tap of every output pixel is one multiply-add
 * of whole vectors, whatever the stride, dilation or size; results are turned back into planes. The
 * padding is multiplied like any value, as in the definition, so non-finite weights and gradients
 * need no other path.
 *
 * The weight gradient of 3x3 kernels in one pass over the image for all nine taps, and tap by tap
 * as vector dot products.
 */
#include <stdlib.h>
#include "common/conv4j_avx512.h"
#include "depthwise/depthwise.h"

/* g++ and gcc report the "undefined" start vectors of some intrinsics as uninitialized */
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

/* The padded pixel-major image of 16 planes (plane[l], l < n; lanes past n are zero): dst[r][c]
   (r < hp, c < wp, 16 floats each) is plane[l][r - pt][c - pl], or 0 outside the h x w plane. */
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

/* Depthwise forward of output channels [o0, o0+on) of one image, 16 at a time (arrays at the image,
   the geometry of conv4j_dw_params as scalars). Returns 0, having written nothing, if its
   scratch would pass CONV4J_DW16_MAX_SCRATCH or could not be allocated. */
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
            if (bias) lanes[l] = 0.f + bias[c0 + l]; /* as the row kernels start: -0 becomes +0 */
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

/* One kernel tap's weight gradient over one image, stride 1: the sum over output rows i and columns
   j in [lo, hi) of gy[i][j] * x[i*sh + ih0][j + iw0], in four vector sums (a fixed order). */
static double conv4j_dw_image_dot(const float *xc, const float *gyc, int h, int w, int oh, int ow, int sh,
                                  int ih0, int iw0, int lo, int hi) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int i = 0; i < oh; i++) {
        long long ih = (long long)i * sh + ih0;
        if (ih < 0 || ih >= h) continue;
        const float *src = xc + (size_t)ih * w + iw0, *gr = gyc + (size_t)i * ow;
        int j = lo;
        for (; j + 64 <= hi; j += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(gr + j), _mm512_loadu_ps(src + j), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(gr + j + 16), _mm512_loadu_ps(src + j + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(gr + j + 32), _mm512_loadu_ps(src + j + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(gr + j + 48), _mm512_loadu_ps(src + j + 48), a3);
        }
        for (; j + 16 <= hi; j += 16) {
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(gr + j), _mm512_loadu_ps(src + j), a1);
        }
        __mmask16 m = conv4j_lanes(hi - j);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, gr + j), _mm512_maskz_loadu_ps(m, src + j), a2);
    }
    return (double)_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

/* The rows of input plane xc into pad for conv4j_dw_weights3: each as s phases of len floats. */
static void conv4j_dw_nine_rows(const float *xc, float *pad, long long len, int h, int w, int s, int pl) {
    int lo[2] = {0, 0}, hi[2] = {0, 0}; /* stride 2: the columns of each phase inside the row */
    for (int f = 0; s == 2 && f < 2; f++) conv4j_valid_cols(f - pl, 2, w, (int)len, &lo[f], &hi[f]);
    for (int r = 0; r < h; r++) {
        float *row = pad + (size_t)r * s * len;
        const float *src = xc + (size_t)r * w;
        if (s == 2) {
            for (int f = 0; f < 2; f++) conv4j_stride2_row(row + f * len, src, w, f - pl, lo[f], hi[f], (int)len);
            continue;
        }
        /* masked loads, which read nothing outside the row (library calls per row took as long as the sums) */
        for (long long k = 0; k < len; k += 16) {
            long long at = k - pl; /* x column of lane 0 */
            __mmask16 m = conv4j_lanes(w - at) & (__mmask16)~conv4j_lanes(-at);
            _mm512_store_ps(row + k, _mm512_maskz_loadu_ps(m, src + (m ? at : 0)));
        }
    }
}

/* The nine weight gradients of a 3x3 kernel, stride s = 1 or 2, over one image: out[p*3+q] += the
   sum over output rows i and columns j of gy[i][j] * x[i*s - pt + p*dh][j*s - pl + q*dw]. x's rows
   are first copied into pad, each as s phases of len floats (phase f holds columns f - pl, f - pl + s,
   ...; zero where that is padding), so that each 16 columns of gy meet nine plain loads in nine
   accumulators: one pass over the image for all taps, where tap by tap read it nine times. Each
   accumulator sums in a fixed order. Padding reads zeros, and zero rows (zero), which add exact
   zeros while gy is finite; the caller checks the sums for that. */
static void conv4j_dw_weights3(const float *xc, const float *gyc, float *pad, const float *zero, long long len,
                               int h, int w, int oh, int ow, int s, int pt, int pl, int dh, int dw, double *out) {
    const long long rowlen = s * len;
    conv4j_dw_nine_rows(xc, pad, len, h, w, s, pl);
    /* where kernel column q reads in a row: its phase and offset */
    const long long o0 = 0, o1 = (long long)(dw % s) * len + dw / s, o2 = (long long)(2 * dw % s) * len + 2 * dw / s;
    /* named accumulators: with an array, GCC stored all nine to the stack on every step */
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0;
    for (int i = 0; i < oh; i++) {
        const float *rp[3];
        for (int p = 0; p < 3; p++) {
            long long ih = (long long)i * s - pt + (long long)p * dh;
            rp[p] = ih >= 0 && ih < h ? pad + (size_t)ih * rowlen : zero;
        }
        const float *gr = gyc + (size_t)i * ow;
        /* plain loads for whole vectors (masked ones that cross a cache line are slower); past ow,
           x is not read either: a value there, outside every window, may be infinite */
#define CONV4J_DW_W3_STEP(LOAD)                                            \
        {                                                                  \
            __m512 g = LOAD(gr + j);                                       \
            const float *r0 = rp[0] + j, *r1 = rp[1] + j, *r2 = rp[2] + j; \
            a0 = _mm512_fmadd_ps(g, LOAD(r0 + o0), a0);                    \
            a1 = _mm512_fmadd_ps(g, LOAD(r0 + o1), a1);                    \
            a2 = _mm512_fmadd_ps(g, LOAD(r0 + o2), a2);                    \
            a3 = _mm512_fmadd_ps(g, LOAD(r1 + o0), a3);                    \
            a4 = _mm512_fmadd_ps(g, LOAD(r1 + o1), a4);                    \
            a5 = _mm512_fmadd_ps(g, LOAD(r1 + o2), a5);                    \
            a6 = _mm512_fmadd_ps(g, LOAD(r2 + o0), a6);                    \
            a7 = _mm512_fmadd_ps(g, LOAD(r2 + o1), a7);                    \
            a8 = _mm512_fmadd_ps(g, LOAD(r2 + o2), a8);                    \
        }
#define CONV4J_DW_W3_MASKED(p) _mm512_maskz_loadu_ps(m, (p))
        int j = 0;
        for (; j + 16 <= ow; j += 16) CONV4J_DW_W3_STEP(_mm512_loadu_ps)
        if (j < ow) {
            __mmask16 m = conv4j_lanes(ow - j);
            CONV4J_DW_W3_STEP(CONV4J_DW_W3_MASKED)
        }
#undef CONV4J_DW_W3_MASKED
#undef CONV4J_DW_W3_STEP
    }
    const __m512 acc[9] = {a0, a1, a2, a3, a4, a5, a6, a7, a8};
    for (int t = 0; t < 9; t++) out[t] += (double)_mm512_reduce_add_ps(acc[t]);
}

/* The 16-channel kernels with the parameters of the passes (arrays already offset). */
static int conv4j_dw16_forward_p(const conv4j_dw_params *p, const float *x, const float *w, const float *bias, float *y) {
    const conv4j_conv_shape *s = &p->s;
    return conv4j_dw16_forward(x, w, bias, y, s->h, s->w, s->kh, s->kw, s->oh, s->ow, s->sh, s->sw, s->pt, s->pl, s->dh,
                               s->dw, s->mult, p->first, p->count);
}

static int conv4j_dw16_data_p(const conv4j_dw_params *p, const float *gy, const float *w, float *gx) {
    const conv4j_conv_shape *s = &p->s;
    return s->mult == 1 && conv4j_dw16_backward_data(gy, w, gx, s->h, s->w, s->kh, s->kw, s->oh, s->ow, s->sh, s->sw, s->pt,
                                                     s->pl, s->dh, s->dw, p->first, p->count, p->accumulate);
}

static int conv4j_dw16_weights_p(const conv4j_dw_params *p, const float *x, const float *gy, float *gw) {
    const conv4j_conv_shape *s = &p->s;
    return conv4j_dw16_backward_weights(x, gy, gw, s->n, s->c, s->o, s->h, s->w, s->kh, s->kw, s->oh, s->ow, s->sh, s->sw,
                                        s->pt, s->pl, s->dh, s->dw, s->mult, p->first, p->count, p->accumulate);
}

/* The weight gradient of output channel oc tap by tap, column stride 1: a vector dot product per
   image (conv4j_dw_image_dot), added image by image in double. */
static void conv4j_dw_weights_dot(const conv4j_dw_params *p, const float *x, const float *gy, float *gk, int oc) {
    const conv4j_conv_shape *s = &p->s;
    for (int kp = 0; kp < s->kh; kp++) {
        for (int kq = 0; kq < s->kw; kq++) {
            int iw0 = kq * s->dw - s->pl, lo, hi;
            conv4j_valid_cols(iw0, 1, s->w, s->ow, &lo, &hi);
            double sum = 0;
            for (int n = 0; n < s->n; n++) {
                sum += conv4j_dw_image_dot(x + ((size_t)n * s->c + oc / s->mult) * s->h * s->w,
                                           gy + ((size_t)n * s->o + oc) * s->oh * s->ow, s->h, s->w, s->oh, s->ow, s->sh,
                                           kp * s->dh - s->pt, iw0, lo, hi);
            }
            gk[kp * s->kw + kq] = (float)(p->accumulate ? gk[kp * s->kw + kq] + sum : sum);
        }
    }
}

/* The weight gradient of 3x3 kernels by conv4j_dw_weights3, on a padded copy of the input plane and
   a zero row. Every value of gy meets every tap, padding included, so one that is not finite leaves
   all nine sums non-finite: only then does the channel need the definition. That is found from the
   sums, so gy is read once (checking it first cost a third of the time). */
static int conv4j_dw_weights_nine(const conv4j_dw_params *p, const float *x, const float *gy, float *gw) {
    const conv4j_conv_shape *s = &p->s;
    const long long len = conv4j_dw_nine_len(s->ow, s->sw, s->dw), rowlen = (long long)s->sw * len;
    float *pad = (float *)aligned_alloc(64, sizeof(float) * (size_t)((s->h + 1LL) * rowlen));
    if (!pad) return 0;
    memset(pad + (size_t)s->h * rowlen, 0, sizeof(float) * (size_t)rowlen);
    for (int oc = p->first; oc < p->first + p->count; oc++) {
        float *gk = gw + (size_t)oc * 9;
        double sums[9] = {0};
        for (int n = 0; n < s->n; n++) {
            conv4j_dw_weights3(x + ((size_t)n * s->c + oc / s->mult) * s->h * s->w, gy + ((size_t)n * s->o + oc) * s->oh * s->ow,
                               pad, pad + (size_t)s->h * rowlen, len, s->h, s->w, s->oh, s->ow, s->sw, s->pt, s->pl, s->dh,
                               s->dw, sums);
        }
        int finite = 1;
        for (int t = 0; t < 9; t++) finite &= sums[t] - sums[t] == 0.;
        if (!finite) {
            conv4j_dw_weights_channel(p, x, gy, gk, oc, s->sw == 1 ? conv4j_dw_weights_dot : conv4j_dw_weights_lanes);
            continue;
        }
        for (int t = 0; t < 9; t++) gk[t] = (float)(p->accumulate ? gk[t] + sums[t] : sums[t]);
    }
    free(pad);
    return 1;
}

const conv4j_dw_ops conv4j_dw_avx512 = {"avx512", conv4j_dw_plane_multi, conv4j_dw16_forward_p, conv4j_dw16_data_p, conv4j_dw16_weights_p,
                                        {{16, 32}, {16, 64}, {16, 64}}, conv4j_dw_weights_nine, conv4j_dw_weights_dot,
                                        conv4j_dw_forward_layouts_avx2};
