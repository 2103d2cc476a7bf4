/*
 * The depthwise variant for AVX2 with FMA (depthwise.h):
 *   - the row kernels' plane loop on 8-float vectors (16 registers hold four output rows'
 *     accumulators, the nine weights of a 3x3 kernel and the input slice);
 *   - 8 channels to a vector for the forward pass of strided layers and short rows, as the AVX-512
 *     variant's 16: the 8 channels' planes are turned into one padded pixel-major image, so every tap
 *     of every output pixel is one multiply-add of whole vectors whatever the stride, and the padding
 *     is multiplied like any value, as in the definition (non-finite weights need no other path);
 * the other algorithms are the generic ones.
 */
#include <stdlib.h>
#include "common/conv4j_avx2.h"
#include "depthwise/depthwise.h"

#define CONV4J_DW_PLANE conv4j_dw_plane_avx2
#define CONV4J_DW_PLANE_ATTR CONV4J_HIDDEN
#define DW_L 8
#define DW_V 1
#include "depthwise/depthwise_plane.h"


/* The padded pixel-major image of 8 planes (plane[l], l < n; lanes past n are zero): dst[r][c]
   (r < hp, c < wp, 8 floats each) is plane[l][r - pt][c - pl], or 0 outside the h x w plane; the
   masked loads read nothing outside it. */
static void pack_padded(const float *const *plane, int n, int h, int w, int hp, int wp, int pt, int pl, float *dst) {
    for (int r = 0; r < hp; r++, dst += (size_t)wp * 8) {
        long long ih = (long long)r - pt;
        if (ih < 0 || ih >= h) {
            memset(dst, 0, sizeof(float) * 8 * (size_t)wp);
            continue;
        }
        for (int c0 = 0; c0 < wp; c0 += 8) {
            long long iw0 = (long long)c0 - pl;
            const __m256i m = _mm256_andnot_si256(conv4j_lanes8(-iw0), conv4j_lanes8(w - iw0));
            const int any = iw0 < w && iw0 + 8 > 0;
            __m256 v[8];
            for (int l = 0; l < 8; l++) {
                v[l] = l < n && any ? _mm256_maskload_ps(plane[l] + (size_t)ih * w + iw0, m) : _mm256_setzero_ps();
            }
            conv4j_transpose8(v);
            for (int k = 0; k < 8 && c0 + k < wp; k++) _mm256_storeu_ps(dst + (size_t)(c0 + k) * 8, v[k]);
        }
    }
}

/* Pixel-major src[p][8] (rows x cols pixels, row stride ld pixels, so that a window of a padded image
   can be read) back into the planes plane[l], l < n: written, or added to with add. */
static void unpack(const float *src, long long rows, long long cols, long long ld, float *const *plane, int n, int add) {
    for (long long y = 0; y < rows; y++) {
        for (long long x0 = 0; x0 < cols; x0 += 8) {
            const __m256i m = conv4j_lanes8(cols - x0);
            __m256 v[8];
            for (int k = 0; k < 8; k++) {
                v[k] = x0 + k < cols ? _mm256_loadu_ps(src + (size_t)(y * ld + x0 + k) * 8) : _mm256_setzero_ps();
            }
            conv4j_transpose8(v);
            for (int l = 0; l < n; l++) {
                float *out = plane[l] + (size_t)(y * cols + x0);
                const __m256 r = add ? _mm256_add_ps(v[l], _mm256_maskload_ps(out, m)) : v[l];
                /* masked stores are microcoded on AMD's cores (a dozen cycles each): only at a row's end */
                if (cols - x0 >= 8) _mm256_storeu_ps(out, r);
                else _mm256_maskstore_ps(out, m, r);
            }
        }
    }
}

/* The most floats of scratch the 8-channel forward pass takes (16 MiB); larger padded images (a
   huge stride, dilation or padding around a small input) go to the row kernels. */
#define MAX_SCRATCH (1LL << 22)

/* y = bias + the taps for 8 channels, from the padded image xs (hp x wp pixels) into ys (oh x ow
   pixels), 8 output pixels at a time; the last block of a row reads up to 8·sw pixels past it (the
   scratch has room). */
static void taps8(const float *xs, long long wp, const float *ws, __m256 bias, float *ys, int kh, int kw, int oh, int ow,
                  int sh, int sw, int dh, int dw) {
    for (int i = 0; i < oh; i++) {
        for (int j0 = 0; j0 < ow; j0 += 8) {
            __m256 acc[8];
            for (int t = 0; t < 8; t++) acc[t] = bias;
            for (int p = 0; p < kh; p++) {
                const float *xr = xs + ((size_t)((long long)i * sh + (long long)p * dh) * wp + (size_t)j0 * sw) * 8;
                for (int q = 0; q < kw; q++) {
                    const __m256 wv = _mm256_loadu_ps(ws + (size_t)(p * kw + q) * 8);
                    const float *xq = xr + (size_t)q * dw * 8;
                    for (int t = 0; t < 8; t++) acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xq + (size_t)t * sw * 8), acc[t]);
                }
            }
            for (int t = 0; t < 8 && j0 + t < ow; t++) _mm256_storeu_ps(ys + ((size_t)i * ow + j0 + t) * 8, acc[t]);
        }
    }
}

/* Output channels [first, first + count) of one image, 8 at a time. 0, having written nothing, when
   the scratch would pass MAX_SCRATCH or could not be allocated. */
static int forward8(const conv4j_dw_params *p, const float *x, const float *wt, const float *bias, float *y) {
    const conv4j_conv_shape *s = &p->s;
    const int h = s->h, w = s->w, kh = s->kh, kw = s->kw, oh = s->oh, ow = s->ow, taps = kh * kw;
    const long long hp = (oh - 1LL) * s->sh + (kh - 1LL) * s->dh + 1, wp = (ow - 1LL) * s->sw + (kw - 1LL) * s->dw + 1;
    const long long tail = 8LL * s->sw + 8, cap = MAX_SCRATCH / 8, rest = tail + (long long)oh * ow + taps;
    if (hp <= 0 || wp <= 0 || hp > cap || wp > cap || rest > cap || hp * wp > cap - rest) return 0;
    float *buf = (float *)aligned_alloc(32, sizeof(float) * 8 * (size_t)(hp * wp + rest));
    if (!buf) return 0;
    float *xs = buf, *ys = xs + 8 * (hp * wp + tail), *ws = ys + 8LL * oh * ow;
    memset(xs + 8 * hp * wp, 0, sizeof(float) * 8 * (size_t)tail);
    for (int c0 = p->first; c0 < p->first + p->count; c0 += 8) {
        const int n = p->first + p->count - c0 < 8 ? p->first + p->count - c0 : 8;
        const float *in[8];
        float *out[8], lanes[8] = {0};
        for (int l = 0; l < n; l++) {
            in[l] = x + (size_t)((c0 + l) / s->mult) * h * w;
            out[l] = y + (size_t)(c0 + l) * oh * ow;
            if (bias) lanes[l] = 0.f + bias[c0 + l]; /* as the row kernels start: -0 becomes +0 */
        }
        for (int t = 0; t < taps; t++)
            for (int l = 0; l < 8; l++) ws[t * 8 + l] = l < n ? wt[(size_t)(c0 + l) * taps + t] : 0.f;
        pack_padded(in, n, h, w, (int)hp, (int)wp, s->pt, s->pl, xs);
        taps8(xs, wp, ws, _mm256_loadu_ps(lanes), ys, kh, kw, oh, ow, s->sh, s->sw, s->dh, s->dw);
        unpack(ys, oh, ow, ow, out, n, 0);
    }
    free(buf);
    return 1;
}

/* The nine taps of a 3x3 kernel's weight gradient over one image's padded pixel-major x (xs, wp
   pixels a row) and gy (gs): output row by output row, each tap's sum in one vector over the row's
   pixels in order (nine independent chains; each gy pixel loaded once for all nine), then added to
   sums in double. Tap by tap with four sums (the general loop) loaded two vectors a multiply-add;
   this loads ten for nine. */
static void nine_rows(const float *xs, const float *gs, long long wp, int oh, int ow, int sh, int sw, int dh, int dw, double *sums) {
    for (int i = 0; i < oh; i++) {
        const float *x0 = xs + (size_t)((long long)i * sh * wp) * 8, *g = gs + (size_t)i * ow * 8;
        __m256 a[9];
        for (int t = 0; t < 9; t++) a[t] = _mm256_setzero_ps();
        for (int j = 0; j < ow; j++, g += 8) {
            const __m256 v = _mm256_loadu_ps(g);
            const float *xj = x0 + (size_t)j * sw * 8;
#pragma GCC unroll 3
            for (int kp = 0; kp < 3; kp++)
#pragma GCC unroll 3
                for (int kq = 0; kq < 3; kq++)
                    a[kp * 3 + kq] = _mm256_fmadd_ps(v, _mm256_loadu_ps(xj + ((size_t)kp * dh * wp + (size_t)kq * dw) * 8), a[kp * 3 + kq]);
        }
        for (int t = 0; t < 9; t++) {
            float lane[8];
            _mm256_storeu_ps(lane, a[t]);
            for (int l = 0; l < 8; l++) sums[t * 8 + l] += lane[l];
        }
    }
}

/* Weight gradient of output channels [first, first + count) over the batch (x and gy whole), 8 at a
   time, as the AVX-512 variant's 16: per image and tap, four running vector sums over the output
   pixels in a fixed order, then added in double image by image (3x3 kernels: nine_rows). 0, having written nothing, when the
   scratch would pass MAX_SCRATCH or could not be allocated. */
static int weights8(const conv4j_dw_params *p, const float *x, const float *gy, float *gw) {
    const conv4j_conv_shape *s = &p->s;
    const int h = s->h, w = s->w, kh = s->kh, kw = s->kw, oh = s->oh, ow = s->ow, sh = s->sh, sw = s->sw, dh = s->dh, dw = s->dw;
    const int taps = kh * kw;
    const long long hp = (oh - 1LL) * sh + (kh - 1LL) * dh + 1, wp = (ow - 1LL) * sw + (kw - 1LL) * dw + 1;
    const long long cap = MAX_SCRATCH / 8, rest = (long long)oh * ow + 8;
    if (hp <= 0 || wp <= 0 || hp > cap || wp > cap || rest > cap || hp * wp > cap - rest) return 0;
    float *buf = (float *)aligned_alloc(32, sizeof(float) * 8 * (size_t)(hp * wp + rest));
    double *sums = (double *)malloc(sizeof(double) * 8 * (size_t)taps);
    if (!buf || !sums) {
        free(buf);
        free(sums);
        return 0;
    }
    float *xs = buf, *gs = xs + 8 * hp * wp;
    for (int c0 = p->first; c0 < p->first + p->count; c0 += 8) {
        const int n = p->first + p->count - c0 < 8 ? p->first + p->count - c0 : 8;
        memset(sums, 0, sizeof(double) * 8 * (size_t)taps);
        for (int b = 0; b < s->n; b++) {
            const float *in[8], *g[8];
            for (int l = 0; l < n; l++) {
                in[l] = x + ((size_t)b * s->c + (c0 + l) / s->mult) * h * w;
                g[l] = gy + ((size_t)b * s->o + c0 + l) * oh * ow;
            }
            pack_padded(in, n, h, w, (int)hp, (int)wp, s->pt, s->pl, xs);
            pack_padded(g, n, oh, ow, oh, ow, 0, 0, gs);
            if (taps == 9 && kh == 3) {
                nine_rows(xs, gs, wp, oh, ow, sh, sw, dh, dw, sums);
                continue;
            }
            for (int kp = 0; kp < kh; kp++) {
                for (int kq = 0; kq < kw; kq++) {
                    __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
                    long long k = 0;
                    for (int i = 0; i < oh; i++) {
                        const float *xr = xs + ((size_t)((long long)i * sh + (long long)kp * dh) * wp + (size_t)kq * dw) * 8;
                        for (int j = 0; j < ow; j++, k++) {
                            a[k & 3] = _mm256_fmadd_ps(_mm256_loadu_ps(gs + (size_t)k * 8), _mm256_loadu_ps(xr + (size_t)j * sw * 8), a[k & 3]);
                        }
                    }
                    float lane[8];
                    _mm256_storeu_ps(lane, _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])));
                    for (int l = 0; l < 8; l++) sums[(kp * kw + kq) * 8 + l] += lane[l];
                }
            }
        }
        for (int l = 0; l < n; l++) {
            float *gk = gw + (size_t)(c0 + l) * taps;
            for (int t = 0; t < taps; t++) gk[t] = (float)(p->accumulate ? gk[t] + sums[t * 8 + l] : sums[t * 8 + l]);
        }
    }
    free(buf);
    free(sums);
    return 1;
}

/* Input gradient of input channels [first, first + count) of one image, one output channel each
   (mult 1), 8 at a time, as the AVX-512 variant's 16: every output pixel adds its taps into a padded
   pixel-major image in a fixed order, whose window over the input is then turned back into planes
   (written, or added with accumulate); the padding's share is dropped. 0, having written nothing,
   when the scratch would pass MAX_SCRATCH or could not be allocated. */
static int data8(const conv4j_dw_params *p, const float *gy, const float *wt, float *gx) {
    const conv4j_conv_shape *s = &p->s;
    const int h = s->h, w = s->w, kh = s->kh, kw = s->kw, oh = s->oh, ow = s->ow, sh = s->sh, sw = s->sw, dh = s->dh, dw = s->dw;
    if (s->mult != 1) return 0;
    long long hp = (oh - 1LL) * sh + (kh - 1LL) * dh + 1, wp = (ow - 1LL) * sw + (kw - 1LL) * dw + 1;
    if (hp < (long long)s->pt + h) hp = (long long)s->pt + h; /* the window over the input lies inside */
    if (wp < (long long)s->pl + w) wp = (long long)s->pl + w;
    const int taps = kh * kw;
    const long long cap = MAX_SCRATCH / 8, rest = (long long)oh * ow + taps + 1;
    if (hp <= 0 || wp <= 0 || hp > cap || wp > cap || rest > cap || hp * wp > cap - rest) return 0;
    float *buf = (float *)aligned_alloc(32, sizeof(float) * 8 * (size_t)(hp * wp + rest));
    if (!buf) return 0;
    float *gxs = buf, *gs = gxs + 8 * hp * wp, *ws = gs + 8LL * oh * ow;
    for (int b0 = p->first; b0 < p->first + p->count; b0 += 8) {
        const int n = p->first + p->count - b0 < 8 ? p->first + p->count - b0 : 8;
        const float *g[8];
        float *out[8];
        for (int l = 0; l < n; l++) {
            g[l] = gy + (size_t)(b0 + l) * oh * ow;
            out[l] = gx + (size_t)(b0 + l) * h * w;
        }
        for (int t = 0; t < taps; t++)
            for (int l = 0; l < 8; l++) ws[t * 8 + l] = l < n ? wt[(size_t)(b0 + l) * taps + t] : 0.f;
        pack_padded(g, n, oh, ow, oh, ow, 0, 0, gs);
        memset(gxs, 0, sizeof(float) * 8 * (size_t)(hp * wp));
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                const __m256 v = _mm256_loadu_ps(gs + ((size_t)i * ow + j) * 8);
                for (int kp = 0; kp < kh; kp++) {
                    float *row = gxs + ((size_t)((long long)i * sh + (long long)kp * dh) * wp + (size_t)j * sw) * 8;
                    for (int kq = 0; kq < kw; kq++) {
                        float *at = row + (size_t)kq * dw * 8;
                        _mm256_storeu_ps(at, _mm256_fmadd_ps(_mm256_loadu_ps(ws + (size_t)(kp * kw + kq) * 8), v, _mm256_loadu_ps(at)));
                    }
                }
            }
        }
        unpack(gxs + ((size_t)s->pt * wp + s->pl) * 8, h, w, wp, out, n, p->accumulate);
    }
    free(buf);
    return 1;
}

/* ---- the forward pass in any layout: 16-channel blocks, each as two halves of 8 channels ---- */

/* Where channel half f (channels [16 blk + 8 f, + 8)) of pixel (row, col) of an image of c channels,
   h x w, in a pixel-major layout starts, and the floats between its pixels. */
static inline const float *half_at(const float *img, int layout, int c, int h, int w, int blk, int f, long long row,
                                   long long col, long long *ps) {
    if (layout == CONV4J_LAYOUT_NCHW16C) {
        *ps = 16;
        return img + (((size_t)blk * h + (size_t)row) * w + (size_t)col) * 16 + 8 * f;
    }
    *ps = c;
    return img + ((size_t)row * w + (size_t)col) * c + 16 * blk + 8 * f;
}

/* Pixels [col0, col0 + 8) of row `row` (inside the image), channel half f of block blk, of an image
   in `layout`: v[k] is pixel k's 8 channels. Pixels outside [0, w) and channels past c read as zero;
   nothing outside the image is read. */
static inline void load_half(const float *img, int layout, int c, int h, int w, int blk, int f, long long row, long long col0,
                      __m256 *v) {
    const int n = c - 16 * blk - 8 * f; /* channels of the half, if below 8 */
    if (layout == CONV4J_LAYOUT_NCHW) {
        const size_t plane = (size_t)h * w;
        const __m256i m = _mm256_andnot_si256(conv4j_lanes8(-col0), conv4j_lanes8(w - col0));
        const int any = col0 < w && col0 + 8 > 0;
        for (int l = 0; l < 8; l++) {
            v[l] = l < n && any ? _mm256_maskload_ps(img + (size_t)(16 * blk + 8 * f + l) * plane + (size_t)(row * w) + col0, m)
                                : _mm256_setzero_ps();
        }
        conv4j_transpose8(v);
        return;
    }
    const __m256i m = conv4j_lanes8(n);
    for (int k = 0; k < 8; k++) {
        const long long col = col0 + k;
        long long ps;
        v[k] = col < 0 || col >= w || n <= 0 ? _mm256_setzero_ps()
                                             : _mm256_maskload_ps(half_at(img, layout, c, h, w, blk, f, row, col, &ps), m);
    }
}

/* Stores pixels [col0, col0 + npx) (col0 >= 0, npx <= 8) of row `row`, channel half f of block blk,
   from v (as load_half reads them) into an image in `layout`: channels past c are not written, except
   NCHW16C's padding lanes, which are written as zeros. */
__attribute__((always_inline)) static inline void store_half(float *img, int layout, int c, int h, int w, int blk, int f, long long row, long long col0, int npx,
                       __m256 *v) {
    const int n = c - 16 * blk - 8 * f;
    if (layout == CONV4J_LAYOUT_NCHW) {
        if (n <= 0) return;
        const size_t plane = (size_t)h * w;
        const __m256i m = conv4j_lanes8(npx);
        conv4j_transpose8(v);
        for (int l = 0; l < 8 && l < n; l++) {
            float *out = img + (size_t)(16 * blk + 8 * f + l) * plane + (size_t)(row * w + col0);
            if (npx == 8) _mm256_storeu_ps(out, v[l]);
            else _mm256_maskstore_ps(out, m, v[l]);
        }
        return;
    }
    const __m256i m = conv4j_lanes8(n);
    for (int k = 0; k < npx; k++) {
        long long ps;
        float *px = (float *)half_at(img, layout, c, h, w, blk, f, row, col0 + k, &ps);
        if (layout == CONV4J_LAYOUT_NCHW16C) _mm256_storeu_ps(px, _mm256_and_ps(v[k], _mm256_castsi256_ps(m)));
        else if (n >= 8) _mm256_storeu_ps(px, v[k]);
        else if (n > 0) _mm256_maskstore_ps(px, m, v[k]);
    }
}

/* One kernel row of width 3 (no dilation, stride SW) for a tile of 8 output pixels, xr the input
   pixel its first output's first tap reads, ps floats between pixels: each input pixel is loaded
   once for all the outputs that read it (10 loads for 24 multiply-adds at stride 1, 17 at stride 2),
   each output still taking its taps in the kernel's column order. */
__attribute__((always_inline)) static inline void row3w(const float *xr, long long ps, const float *wr, __m256 *acc, const int SW,
                                                        const int TW) {
    const __m256 w[3] = {_mm256_loadu_ps(wr), _mm256_loadu_ps(wr + 16), _mm256_loadu_ps(wr + 32)};
#pragma GCC unroll 17
    for (int m = 0; m < (TW - 1) * SW + 3; m++, xr += ps) { /* a stepped pointer: ten offsets m * ps would not fit in registers */
        const __m256 v = _mm256_loadu_ps(xr);
#pragma GCC unroll 8
        for (int t = 0; t < TW; t++) {
            const int q = m - t * SW;
            if (q >= 0 && q < 3) acc[t] = _mm256_fmadd_ps(w[q], v, acc[t]);
        }
    }
}

/* row3 for tiles of TW pixels (7 on rows of 7, 14 or 28: the eighth pixel of 8 would be wasted) */
__attribute__((always_inline)) static inline void row3(const float *xr, long long ps, const float *wr, __m256 *acc, const int SW) {
    row3w(xr, ps, wr, acc, SW, 8);
}

/* The taps of a tile of 8 output pixels of one half: xb is the input pixel its first output's tap
   (rlo, 0) reads, ps and kr the floats between pixels and between the rows of kernel rows p and p + 1
   read, ws the half's kernels (16 floats a tap). Kernel rows outside [rlo, rhi) lie in the padding:
   their taps multiply zeros. Each output adds its taps to acc in the order of the kernel's rows and
   columns. */
__attribute__((always_inline)) static inline void tile_taps(const float *xb, long long ps, long long kr, const float *ws, __m256 *acc,
                                                            int kh, int kw, int sw, int dw, int rlo, int rhi) {
    for (int p = 0; p < kh; p++) {
        if (p < rlo || p >= rhi) {
            for (int q = 0; q < kw; q++) {
                const __m256 wv = _mm256_loadu_ps(ws + (size_t)(p * kw + q) * 16);
                for (int t = 0; t < 8; t++) acc[t] = _mm256_fmadd_ps(wv, _mm256_setzero_ps(), acc[t]);
            }
            continue;
        }
        const float *xr = xb + (p - rlo) * kr;
        if (kw == 3 && dw == 1 && sw <= 2) {
            if (sw == 1 && ps == 16) row3(xr, 16, ws + (size_t)p * 3 * 16, acc, 1); /* NCHW16C and bands: a constant stride */
            else if (sw == 1) row3(xr, ps, ws + (size_t)p * 3 * 16, acc, 1);
            else if (ps == 16) row3(xr, 16, ws + (size_t)p * 3 * 16, acc, 2);
            else row3(xr, ps, ws + (size_t)p * 3 * 16, acc, 2);
            continue;
        }
        for (int q = 0; q < kw; q++) {
            const __m256 wv = _mm256_loadu_ps(ws + (size_t)(p * kw + q) * 16);
            const float *xq = xr + (long long)q * dw * ps;
            for (int t = 0; t < 8; t++) acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xq + t * sw * ps), acc[t]);
        }
    }
}

/* The taps of a tile whose input window passes the image's edge (or whose channels end inside the
   half), reading pixel-major input in place: a tap outside the image multiplies a zero, as the
   padded copies of the other paths do (0 times an infinite weight is NaN there too). */
__attribute__((always_inline)) static inline void border_taps(const float *x, int layout, int c, int h, int w, int blk, int f,
                                                              long long ih0, long long iw0, const float *ws, __m256 *acc, int kh,
                                                              int kw, int sw, int dh, int dw) {
    static const float zeros[8];
    const __m256i m = conv4j_lanes8(c - 16 * blk - 8 * f);
    const int whole = layout == CONV4J_LAYOUT_NCHW16C || c - 16 * blk - 8 * f >= 8; /* loads stay in the pixel's channels */
    const long long win = 7LL * sw + (kw - 1LL) * dw + 1;
    const float *col[64]; /* per column of the window: its pixel, or zeros outside the image */
    for (int p = 0; p < kh; p++) {
        const long long ih = ih0 + (long long)p * dh;
        const int in = ih >= 0 && ih < h;
        long long ps = 0;
        const float *row = in ? half_at(x, layout, c, h, w, blk, f, ih, 0, &ps) : zeros;
        if (win <= 64) {
            for (long long k = 0; k < win; k++) col[k] = in && iw0 + k >= 0 && iw0 + k < w ? row + (iw0 + k) * ps : zeros;
            for (int q = 0; q < kw; q++) {
                const __m256 wv = _mm256_loadu_ps(ws + (size_t)(p * kw + q) * 16);
                if (whole)
                    for (int t = 0; t < 8; t++) acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(col[t * sw + q * dw]), acc[t]);
                else
                    for (int t = 0; t < 8; t++) acc[t] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(col[t * sw + q * dw], m), acc[t]);
            }
            continue;
        }
        for (int q = 0; q < kw; q++) {
            const __m256 wv = _mm256_loadu_ps(ws + (size_t)(p * kw + q) * 16);
            for (int t = 0; t < 8; t++) {
                const long long iw = iw0 + (long long)t * sw + (long long)q * dw;
                const __m256 v = in && iw >= 0 && iw < w ? _mm256_maskload_ps(row + iw * ps, m) : _mm256_setzero_ps();
                acc[t] = _mm256_fmadd_ps(wv, v, acc[t]);
            }
        }
    }
}

/* Whether a tile's whole window (kh rows from ih0, win columns from iw0, one half) ends inside the
   image, which ends at xend: the last pixels of a short tile may then read past its row. */
static inline int in_image(const float *x, const float *xend, int layout, int c, int h, int w, int blk, int f, long long ih0,
                           long long iw0, int kh, int dh, long long win) {
    long long ps;
    const float *first = half_at(x, layout, c, h, w, blk, f, ih0, iw0, &ps);
    return (xend - first) - 8 >= ((kh - 1LL) * dh * w + win - 1) * ps;
}

/* A tile of 8 output pixels of one half of a block: where it lies, and how many of its pixels the
   row has. */
typedef struct {
    int blk, f, i, j0, npx;
} tile_at;

/* Residual, clamp and the store of a tile's sums. */
__attribute__((always_inline)) static inline void tile_finish(const conv4j_blk_params *p, const float *res, float *y,
                                                              const tile_at *at, __m256 *acc) {
    const conv4j_conv_shape *s = &p->s;
    if (p->residual) {
        __m256 r[8];
        load_half(res, p->r_layout, s->c, s->oh, s->ow, at->blk, at->f, at->i, at->j0, r);
        for (int t = 0; t < 8; t++) acc[t] = _mm256_add_ps(acc[t], r[t]);
    }
    if (p->clamp) {
        const __m256 lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);
        for (int t = 0; t < 8; t++) acc[t] = _mm256_min_ps(hi, _mm256_max_ps(lo, acc[t]));
    }
    store_half(y, p->y_layout, s->c, s->oh, s->ow, at->blk, at->f, at->i, at->j0, at->npx, acc);
}

/* A tile whose input is read in place (xb, ps, kr, rlo and rhi as for tile_taps), or with xb NULL
   one of no channels (bias only). One function a tile, so that its sums stay in registers. */
__attribute__((noinline)) static void tile_direct(const conv4j_blk_params *p, const float *res, float *y, const tile_at *at,
                                                  const float *xb, long long ps, long long kr, const float *ws, __m256 b, int rlo, int rhi) {
    __m256 acc[8];
    for (int t = 0; t < 8; t++) acc[t] = b;
    if (xb) tile_taps(xb, ps, kr, ws, acc, p->s.kh, p->s.kw, p->s.sw, p->s.dw, rlo, rhi);
    tile_finish(p, res, y, at, acc);
}

/* A tile whose input window passes the image's edge (border_taps). */
__attribute__((noinline)) static void tile_border(const conv4j_blk_params *p, const float *x, const float *res, float *y, const tile_at *at,
                        long long ih0, long long iw0, const float *ws, __m256 b) {
    const conv4j_conv_shape *s = &p->s;
    __m256 acc[8];
    for (int t = 0; t < 8; t++) acc[t] = b;
    border_taps(x, p->x_layout, s->c, s->h, s->w, at->blk, at->f, ih0, iw0, ws, acc, s->kh, s->kw, s->sw, s->dh, s->dw);
    tile_finish(p, res, y, at, acc);
}

/* row3 for a tile whose window passes the row's ends: only taps m in [m0, m1) read a pixel (xr is
   pixel m0's), the others multiply a zero, as the padded copies of the other paths do. */
__attribute__((always_inline)) static inline void row3_edge(const float *xr, long long ps, const float *wr, __m256 *acc, const int SW,
                                                            const int TW, int m0, int m1) {
    const __m256 w[3] = {_mm256_loadu_ps(wr), _mm256_loadu_ps(wr + 16), _mm256_loadu_ps(wr + 32)};
#pragma GCC unroll 17
    for (int m = 0; m < (TW - 1) * SW + 3; m++) {
        const __m256 v = m >= m0 && m < m1 ? _mm256_loadu_ps(xr + (m - m0) * ps) : _mm256_setzero_ps();
#pragma GCC unroll 8
        for (int t = 0; t < TW; t++) {
            const int q = m - t * SW;
            if (q >= 0 && q < 3) acc[t] = _mm256_fmadd_ps(w[q], v, acc[t]);
        }
    }
}

/* An output row of a block of 16 channels that all exist, in tiles of 8 pixels, each as its two
   halves one after the other (each line of input it brings into L1 then serves both: half by half
   over the row, the lines came twice, which bound the stride-2 layers): a 3x3 undilated kernel,
   stride SW, pixel-major input read in place (xr: column 0 of input row ih0 + rlo, ps floats between
   pixels, kr between rows; kernel rows outside [rlo, rhi) lie in the padding), y and the residual
   pixel-major (yo, ro: pixel 0 of the output row, yps and rps floats between pixels). Taps outside
   the image multiply zeros. One call a row, addresses stepped: tile_direct's call, the edge pixels one
   by one and store_half's address arithmetic per pixel took five times the taps' time on MobileNet's
   stride-2 layers. The sums, residual and clamp are tile_direct's, in its order. */
__attribute__((always_inline)) static inline void row_tiles_body(const float *xr, long long ps, long long kr, int w, int pl, int ow,
                                                                 int rlo, int rhi, const float *ws, const __m256 *b, float *yo,
                                                                 long long yps, const float *ro, long long rps, int clamp,
                                                                 float lo, float hi, const int SW, const int YN, const int RN,
                                                                 const int TW) {
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), zero = _mm256_setzero_ps();
    const int span = (TW - 1) * SW + 3; /* a tile's input columns */
    for (int j0 = 0; j0 < ow; j0 += TW) {
        const long long iw0 = (long long)j0 * SW - pl; /* the column of the tile's tap m = 0 */
        const int m0 = iw0 < 0 ? (int)-iw0 : 0, m1 = w - iw0 < span ? (int)(w - iw0) : span;
        const int npx = ow - j0 < TW ? ow - j0 : TW;
        for (int f = 0; f < 2; f++) {
            __m256 acc[8];
            for (int k = 0; k < 8; k++) acc[k] = b[f];
            for (int p = 0; p < 3; p++) {
                const float *wr = ws + p * 48 + 8 * f, *xp = xr + (p - rlo) * kr + 8 * f;
                if (p < rlo || p >= rhi) {
                    for (int q = 0; q < 3; q++) {
                        const __m256 wv = _mm256_loadu_ps(wr + 16 * q);
                        for (int t = 0; t < 8; t++) acc[t] = _mm256_fmadd_ps(wv, zero, acc[t]);
                    }
                } else if (m0 == 0 && m1 == span) {
                    row3w(xp + iw0 * ps, ps, wr, acc, SW, TW);
                } else {
                    row3_edge(xp + (iw0 + m0) * ps, ps, wr, acc, SW, TW, m0, m1);
                }
            }
            const __m256i pm = conv4j_lanes8(npx);
            if (ro && RN) {
                /* NCHW: 8 channel rows of the tile's pixels, turned into pixel vectors */
                __m256 r[8];
                for (int l = 0; l < 8; l++) {
                    const float *src = ro + (8 * f + l) * rps + j0;
                    r[l] = npx == 8 ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, pm);
                }
                conv4j_transpose8(r);
                for (int k = 0; k < 8; k++) acc[k] = _mm256_add_ps(acc[k], r[k]);
            } else if (ro) {
                for (int k = 0; k < npx; k++) acc[k] = _mm256_add_ps(acc[k], _mm256_loadu_ps(ro + (j0 + k) * rps + 8 * f));
            }
            if (clamp)
                for (int k = 0; k < 8; k++) acc[k] = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc[k]));
            if (YN) {
                /* NCHW: whole rows of 8 pixels, masked only at the row's end (masked stores are
                   microcoded on AMD's cores) */
                conv4j_transpose8(acc);
                for (int l = 0; l < 8; l++) {
                    float *dst = yo + (8 * f + l) * yps + j0;
                    if (npx == 8) _mm256_storeu_ps(dst, acc[l]);
                    else _mm256_maskstore_ps(dst, pm, acc[l]);
                }
            } else {
                for (int k = 0; k < npx; k++) _mm256_storeu_ps(yo + (j0 + k) * yps + 8 * f, acc[k]);
            }
        }
    }
}

/* yn, rn: y and the residual are NCHW, yps and rps then the floats between channels. */
__attribute__((noinline)) static void row_tiles(const float *xr, long long ps, long long kr, int w, int pl, int ow, int rlo, int rhi,
                                                const float *ws, const __m256 *b, float *yo, long long yps, int yn, const float *ro,
                                                long long rps, int rn, int sw, int clamp, float lo, float hi) {
#define ROW_TILES(PS, SW, YN, RN) row_tiles_body(xr, PS, kr, w, pl, ow, rlo, rhi, ws, b, yo, yps, ro, rps, clamp, lo, hi, SW, YN, RN, 8)
    /* a constant pixel stride (NCHW16C, and the band of NCHW input) lets the loads take it as an offset;
       rows of 7, 14 or 28 pixels go in tiles of 7 (pixel-major output: NCHW's would need masked stores) */
    if (!yn && ps == 16 && ow % 7 == 0 && ow % 8 != 0) {
        if (sw == 1) row_tiles_body(xr, 16, kr, w, pl, ow, rlo, rhi, ws, b, yo, yps, ro, rps, clamp, lo, hi, 1, 0, rn, 7);
        else row_tiles_body(xr, 16, kr, w, pl, ow, rlo, rhi, ws, b, yo, yps, ro, rps, clamp, lo, hi, 2, 0, rn, 7);
    } else if (yn) {
        if (sw == 1 && ps == 16) ROW_TILES(16, 1, 1, rn);
        else if (sw == 1) ROW_TILES(ps, 1, 1, rn);
        else if (ps == 16) ROW_TILES(16, 2, 1, rn);
        else ROW_TILES(ps, 2, 1, rn);
    } else if (sw == 1 && ps == 16) ROW_TILES(16, 1, 0, rn);
    else if (sw == 1) ROW_TILES(ps, 1, 0, rn);
    else if (ps == 16) ROW_TILES(16, 2, 0, rn);
    else ROW_TILES(ps, 2, 0, rn);
#undef ROW_TILES
}

/* Pixels [j0, j0 + npx) (npx <= 8) of output row i, one half, whose windows may pass the image's
   edge, one at a time: each tap inside reads its pixel, each outside multiplies a zero, in the
   kernel's order. */
__attribute__((noinline)) static void edge_pixels(const conv4j_blk_params *p, const float *x, const float *res, float *y, int blk,
                                                  int f, int i, int j0, int npx, long long ih0, const float *ws, __m256 b) {
    const conv4j_conv_shape *s = &p->s;
    const int whole = p->x_layout == CONV4J_LAYOUT_NCHW16C || s->c - 16 * blk - 8 * f >= 8;
    const __m256i m = conv4j_lanes8(s->c - 16 * blk - 8 * f);
    __m256 acc[8];
    for (int t = 0; t < 8; t++) {
        __m256 a = b;
        const long long iw0 = (long long)(j0 + t) * s->sw - s->pl;
        for (int kp = 0; t < npx && kp < s->kh; kp++) {
            const long long ih = ih0 + (long long)kp * s->dh;
            for (int kq = 0; kq < s->kw; kq++) {
                const long long iw = iw0 + (long long)kq * s->dw;
                __m256 v = _mm256_setzero_ps();
                if (ih >= 0 && ih < s->h && iw >= 0 && iw < s->w) {
                    long long ps;
                    const float *px = half_at(x, p->x_layout, s->c, s->h, s->w, blk, f, ih, iw, &ps);
                    v = whole ? _mm256_loadu_ps(px) : _mm256_maskload_ps(px, m);
                }
                a = _mm256_fmadd_ps(_mm256_loadu_ps(ws + (size_t)(kp * s->kw + kq) * 16), v, a);
            }
        }
        acc[t] = a;
    }
    const tile_at at = {blk, f, i, j0, npx};
    tile_finish(p, res, y, &at, acc);
}

/* Output rows [i0, i0 + R) of channel block blk. Each output is 0 + bias, then the taps'
   multiply-adds in the order of the kernel's rows and columns (the row kernels' and the 8-channel
   kernel's order, so the bits are theirs), then residual and clamp on the registers on the way to y.
   The taps read NCHW16C input, and NHWC input whose half is 8 whole channels, in place wherever the
   tile's input window lies inside the image, the other tiles of such input pixel by pixel
   (border_taps); NCHW input is first copied into a padded band of the rows the
   band reads (xs: hb x wp pixels of 16 floats), through 8 x 8 transposes. */
static void layouts_band(const conv4j_blk_params *p, const float *x, const float *w, const float *bias, const float *res,
                         float *y, int blk, int i0, int R, float *xs, float *ws) {
    const conv4j_conv_shape *s = &p->s;
    const int c = s->c, h = s->h, wd = s->w, kh = s->kh, kw = s->kw, ow = s->ow, sh = s->sh, sw = s->sw, dh = s->dh, dw = s->dw;
    const int n = c - 16 * blk < 16 ? c - 16 * blk : 16, taps = kh * kw, planar = p->x_layout == CONV4J_LAYOUT_NCHW;
    const long long hb = (R - 1LL) * sh + (kh - 1LL) * dh + 1, wp = (ow - 1LL) * sw + (kw - 1LL) * dw + 1;
    const long long win = 7LL * sw + (kw - 1LL) * dw + 1; /* a tile's input window: columns */
    const float *xend = x + conv4j_image_floats(p->x_layout, c, (size_t)h * wd);
    for (int t = 0; t < taps; t++)
        for (int l = 0; l < 16; l++) ws[t * 16 + l] = l < n ? w[(size_t)(16 * blk + l) * taps + t] : 0.f;
    if (planar) {
        for (long long r = 0; r < hb; r++) {
            const long long ih = (long long)i0 * sh - s->pt + r;
            float *dst = xs + (size_t)(r * wp) * 16;
            if (ih < 0 || ih >= h) {
                memset(dst, 0, sizeof(float) * 16 * (size_t)wp);
                continue;
            }
            for (long long c0 = 0; c0 < wp; c0 += 8)
                for (int f = 0; f < 2; f++) {
                    __m256 v[8];
                    const long long col = c0 - s->pl;
                    if (n == 16 && col >= 0 && col + 8 <= wd) {
                        /* whole vectors inside the row (load_half's masked loads cost twice the copy) */
                        const float *src = x + (size_t)(16 * blk + 8 * f) * h * wd + (size_t)ih * wd + col;
                        for (int l = 0; l < 8; l++) v[l] = _mm256_loadu_ps(src + (size_t)l * h * wd);
                        conv4j_transpose8(v);
                    } else {
                        load_half(x, CONV4J_LAYOUT_NCHW, c, h, wd, blk, f, ih, col, v);
                    }
                    for (long long k = 0; k < 8 && c0 + k < wp; k++) _mm256_storeu_ps(dst + (size_t)(c0 + k) * 16 + 8 * f, v[k]);
                }
        }
    }
    int done = 0; /* rows [i0, i0 + done) were taken by row_tiles */
    if (n == 16 && kh == 3 && kw == 3 && dh == 1 && dw == 1 && sw <= 2) {
        __m256 b[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        if (bias)
            for (int f = 0; f < 2; f++) b[f] = _mm256_add_ps(b[f], _mm256_loadu_ps(bias + 16 * blk + 8 * f));
        const int yn = p->y_layout == CONV4J_LAYOUT_NCHW, rn = p->residual && p->r_layout == CONV4J_LAYOUT_NCHW;
        const size_t oplane = (size_t)s->oh * ow;
        /* rows from i0 on, up to one whose kernel lies all in the padding (left to the general path) */
        for (; done < R; done++) {
            const int i = i0 + done;
            const long long ih0 = (long long)i * sh - s->pt;
            int rlo = ih0 >= 0 ? 0 : -ih0 < 3 ? (int)-ih0 : 3, rhi = ih0 >= h ? rlo : h - ih0 < 3 ? (int)(h - ih0) : 3;
            if (rlo >= rhi) break;
            long long ps, yps, rps = 0;
            const float *xr;
            if (planar) {
                /* the band holds the padding: its rows and columns are all read */
                xr = xs + (size_t)(done * (long long)sh) * wp * 16;
                ps = 16;
                rlo = 0;
                rhi = 3;
            } else {
                xr = half_at(x, p->x_layout, c, h, wd, blk, 0, ih0 + rlo, 0, &ps);
            }
            float *yo;
            if (yn) {
                yo = y + (size_t)16 * blk * oplane + (size_t)i * ow;
                yps = (long long)oplane;
            } else {
                yo = (float *)half_at(y, p->y_layout, s->o, s->oh, ow, blk, 0, i, 0, &yps);
            }
            const float *ro = NULL;
            if (rn) {
                ro = res + (size_t)16 * blk * oplane + (size_t)i * ow;
                rps = (long long)oplane;
            } else if (p->residual) {
                ro = half_at(res, p->r_layout, s->o, s->oh, ow, blk, 0, i, 0, &rps);
            }
            row_tiles(xr, ps, planar ? wp * 16 : ps * wd, planar ? (int)wp : wd, planar ? 0 : s->pl, ow, rlo, rhi, ws, b, yo, yps, yn,
                      ro, rps, rn, sw, p->clamp, p->lo, p->hi);
        }
    }
    for (int f = 0; f < 2; f++) {
        const int nf = n - 8 * f; /* channels of this half, if below 8 */
        __m256 b = _mm256_setzero_ps();
        if (bias && nf > 0) b = _mm256_add_ps(b, _mm256_maskload_ps(bias + 16 * blk + 8 * f, conv4j_lanes8(nf)));
        const int whole = p->x_layout == CONV4J_LAYOUT_NCHW16C || nf >= 8; /* direct reads stay in the pixel's channels */
        for (int i = i0 + done; i < i0 + R; i++) {
            const long long ih0 = (long long)i * sh - s->pt;
            /* the kernel rows inside the image: [rlo, rhi) */
            const long long lo_ = ih0 >= 0 ? 0 : (-ih0 + dh - 1) / dh, hi_ = ih0 >= h ? 0 : (h - 1 - ih0) / dh + 1;
            const int rlo = (int)(lo_ < kh ? lo_ : kh), rhi = (int)(hi_ < kh ? (hi_ > rlo ? hi_ : rlo) : kh);
            if (nf > 0 && !planar && whole && rlo < rhi) {
                /* the pixels whose window passes the row's left or right end one by one, the others in
                   tiles read in place: [jl, jr) */
                const long long jl = s->pl > 0 ? ((long long)s->pl + sw - 1) / sw : 0, last = wd - 1LL + s->pl - (kw - 1LL) * dw;
                const int L = (int)(jl < ow ? jl : ow), Rt = last < 0 ? L : (int)(last / sw + 1 < ow ? (last / sw + 1 > L ? last / sw + 1 : L) : ow);
                for (int j0 = 0; j0 < L; j0 += 8) edge_pixels(p, x, res, y, blk, f, i, j0, L - j0 < 8 ? L - j0 : 8, ih0, ws + 8 * f, b);
                for (int j0 = L; j0 < Rt; j0 += 8) {
                    const long long iw0 = (long long)j0 * sw - s->pl;
                    const tile_at at = {blk, f, i, j0, Rt - j0 < 8 ? Rt - j0 : 8};
                    const long long ir = ih0 + (long long)rlo * dh; /* the first row read */
                    if (at.npx == 8 || in_image(x, xend, p->x_layout, c, h, wd, blk, f, ir, iw0, rhi - rlo, dh, win)) {
                        /* the pixels of a short last tile past the run read further along the image, never kept */
                        long long ps;
                        const float *xb = half_at(x, p->x_layout, c, h, wd, blk, f, ir, iw0, &ps);
                        tile_direct(p, res, y, &at, xb, ps, ps * wd * dh, ws + 8 * f, b, rlo, rhi);
                    } else {
                        edge_pixels(p, x, res, y, blk, f, i, j0, at.npx, ih0, ws + 8 * f, b);
                    }
                }
                for (int j0 = Rt; j0 < ow; j0 += 8) edge_pixels(p, x, res, y, blk, f, i, j0, ow - j0 < 8 ? ow - j0 : 8, ih0, ws + 8 * f, b);
                continue;
            }
            for (int j0 = 0; j0 < ow; j0 += 8) {
                const long long iw0 = (long long)j0 * sw - s->pl;
                const tile_at at = {blk, f, i, j0, ow - j0 < 8 ? ow - j0 : 8};
                if (nf <= 0) {
                    tile_direct(p, res, y, &at, NULL, 0, 0, NULL, b, 0, 0); /* NCHW16C padding lanes: zeros */
                } else if (planar) {
                    tile_direct(p, res, y, &at, xs + ((size_t)((i - i0) * (long long)sh) * wp + (size_t)j0 * sw) * 16 + 8 * f, 16,
                                dh * wp * 16, ws + 8 * f, b, 0, kh);
                } else {
                    tile_border(p, x, res, y, &at, ih0, iw0, ws + 8 * f, b);
                }
            }
        }
    }
}

/* Output rows [oh0, oh0 + rows) of channel blocks [g0, g0 + gn) of one image (conv4j_dw_forward_layouts),
   in bands of conv4j_dw_layouts_rows rows. The AVX-512 variant takes it too. */
void conv4j_dw_forward_layouts_avx2(const conv4j_blk_params *p, const float *x, const float *w, const float *bias,
                                    const float *res, float *y, float *scratch) {
    const conv4j_conv_shape *s = &p->s;
    const int R = conv4j_dw_layouts_rows(s, p->rows); /* the scratch was sized for these (conv4j_dw_layouts_floats) */
    float *xs = scratch, *ws = xs + conv4j_dw_layouts_band(s, R);
    if (p->x_layout == CONV4J_LAYOUT_NCHW) {
        /* the last tiles of the band's last row read past it (their sums are never kept) */
        const long long hb = (R - 1LL) * s->sh + (s->kh - 1LL) * s->dh + 1, wp = (s->ow - 1LL) * s->sw + (s->kw - 1LL) * s->dw + 1;
        memset(xs + 16 * hb * wp, 0, sizeof(float) * 16 * 8 * (size_t)s->sw);
    }
    for (int blk = p->g0; blk < p->g0 + p->gn; blk++) {
        for (int i0 = p->oh0; i0 < p->oh0 + p->rows; i0 += R) {
            layouts_band(p, x, w, bias, res, y, blk, i0, p->oh0 + p->rows - i0 < R ? p->oh0 + p->rows - i0 : R, xs, ws);
        }
    }
}

const conv4j_dw_ops conv4j_dw_avx2 = {"avx2", conv4j_dw_plane_avx2, forward8, data8, weights8, {{12, 24}, {12, 1 << 30}, {1 << 30, 1 << 30}}, NULL, NULL, conv4j_dw_forward_layouts_avx2};
