/*
 * The channel-blocked direct kernel on AVX2 with FMA (see blocked.h), for the CPUs without AVX-512.
 * It reads the same packed weights and input band and sums in the same order as the AVX-512 kernel
 * (over channel blocks, taps, then the 16 channels of a block, one fused multiply-add each), so its
 * sums are that kernel's. The 16 ymm registers hold a tile of one 16-channel output block (two
 * vectors) by up to 6 pixels: per input channel, 2 weight loads and 6 broadcasts feed 12
 * multiply-adds. A weight group of nb blocks runs as nb such tiles over the same pixels, whose input
 * then comes from L1. The tile's pixels are the next 6 of the band in row-major order, each at its
 * own offset into the band, so one tile serves every row length and stride, and planes of 7 columns
 * leave no ragged ends but the band's last.
 */
#include "common/conv4j_avx2.h"
#include "blocked/blocked.h"

#define PX 6

typedef struct tile_ctx {
    long long cstride, hstride, wstride; /* floats between the band's channel blocks, the kernel's rows, columns */
    int cb, kh, kw;                       /* channel blocks of the chunk; taps */
    int wstep;                            /* floats between the packed weights of two input channels: the group's nb·16 */
} tile_ctx;

/* The taps of a full tile (6 pixels; 16 channels a tap, or an RGB layer's 3), written out: gcc's own schedule of the same
   loop copies registers between the multiply-adds and ran at about 75% of the FMA peak where this
   one runs at the peak of its pattern (per channel: 2 weight loads, 6 broadcasts, 12 FMA). */
#define BLK_FMA2(r, a, b) \
    "vfmadd231ps %%ymm12, %%ymm" #r ", %[" #a "]\n\t" \
    "vfmadd231ps %%ymm13, %%ymm" #r ", %[" #b "]\n\t"
#define BLK_CHANNEL(i) \
    "vmovups (%[w]), %%ymm12\n\t" \
    "vmovups 32(%[w]), %%ymm13\n\t" \
    "add %[ws], %[w]\n\t" \
    "vbroadcastss " #i "*4(%%r8), %%ymm14\n\t" BLK_FMA2(14, l0, h0) \
    "vbroadcastss " #i "*4(%%r9), %%ymm15\n\t" BLK_FMA2(15, l1, h1) \
    "vbroadcastss " #i "*4(%%r10), %%ymm14\n\t" BLK_FMA2(14, l2, h2) \
    "vbroadcastss " #i "*4(%%r11), %%ymm15\n\t" BLK_FMA2(15, l3, h3) \
    "vbroadcastss " #i "*4(%%rax), %%ymm14\n\t" BLK_FMA2(14, l4, h4) \
    "vbroadcastss " #i "*4(%%rcx), %%ymm15\n\t" BLK_FMA2(15, l5, h5)

/* The six pixels' addresses (x + off[q]) in r8 .. rcx, then `body`; sk: an operand for the body. */
#define BLK_ASM(body, skip) \
    __asm__("mov (%[o]), %%r8\n\t" \
            "mov 8(%[o]), %%r9\n\t" \
            "mov 16(%[o]), %%r10\n\t" \
            "mov 24(%[o]), %%r11\n\t" \
            "mov 32(%[o]), %%rax\n\t" \
            "mov 40(%[o]), %%rcx\n\t" \
            "lea (%[x],%%r8,4), %%r8\n\t" \
            "lea (%[x],%%r9,4), %%r9\n\t" \
            "lea (%[x],%%r10,4), %%r10\n\t" \
            "lea (%[x],%%r11,4), %%r11\n\t" \
            "lea (%[x],%%rax,4), %%rax\n\t" \
            "lea (%[x],%%rcx,4), %%rcx\n\t" body \
            : [w] "+r"(wb), [l0] "+x"(l0), [l1] "+x"(l1), [l2] "+x"(l2), [l3] "+x"(l3), [l4] "+x"(l4), [l5] "+x"(l5), \
              [h0] "+x"(h0), [h1] "+x"(h1), [h2] "+x"(h2), [h3] "+x"(h3), [h4] "+x"(h4), [h5] "+x"(h5) \
            : [ws] "r"(ws), [sk] "r"(skip), [x] "r"(x), [o] "r"(off) \
            : "r8", "r9", "r10", "r11", "rax", "rcx", "xmm12", "xmm13", "xmm14", "xmm15", "memory")

/* The channels of one tap. */
#define BLK_TAP(channels) BLK_ASM(channels, 0LL)

/* A kernel row of an RGB layer's 7 or 3 taps in one asm block (the band holds 4 floats a pixel, so
   tap k's channel i lies 4k + i floats from the pixel): the six addresses are made once per row
   rather than per tap, which left the per-tap loop issuing 85 instructions for 36 multiply-adds,
   more than the core retires in their 18 cycles. After each tap the weights skip the 13 rows of
   channels an RGB block does not have. */
#define BLK_RGB_TAP(a, b, c) BLK_CHANNEL(a) BLK_CHANNEL(b) BLK_CHANNEL(c) "add %[sk], %[w]\n\t"
#define BLK_RGB_ROW(taps) BLK_ASM(taps, 13 * ws)
#define BLK_RGB_3 BLK_RGB_TAP(0, 1, 2) BLK_RGB_TAP(4, 5, 6) BLK_RGB_TAP(8, 9, 10)
#define BLK_RGB_7 BLK_RGB_3 BLK_RGB_TAP(12, 13, 14) BLK_RGB_TAP(16, 17, 18) BLK_RGB_TAP(20, 21, 22) BLK_RGB_TAP(24, 25, 26)

__attribute__((always_inline)) static inline void tile6(const int ci, const tile_ctx *c, const float *xb,
                                                        const long long *off, const float *wb, const float *init,
                                                        float *out) {
    __m256 l0, l1, l2, l3, l4, l5, h0, h1, h2, h3, h4, h5;
    if (init) {
        l0 = _mm256_loadu_ps(init); h0 = _mm256_loadu_ps(init + 8);
        l1 = _mm256_loadu_ps(init + 16); h1 = _mm256_loadu_ps(init + 24);
        l2 = _mm256_loadu_ps(init + 32); h2 = _mm256_loadu_ps(init + 40);
        l3 = _mm256_loadu_ps(init + 48); h3 = _mm256_loadu_ps(init + 56);
        l4 = _mm256_loadu_ps(init + 64); h4 = _mm256_loadu_ps(init + 72);
        l5 = _mm256_loadu_ps(init + 80); h5 = _mm256_loadu_ps(init + 88);
    } else {
        l0 = l1 = l2 = l3 = l4 = l5 = h0 = h1 = h2 = h3 = h4 = h5 = _mm256_setzero_ps();
    }
    const long long ws = 4LL * c->wstep;
    if (ci == 3 && c->wstride == 4 && (c->kw == 7 || c->kw == 3)) {
        for (int cb = 0; cb < c->cb; cb++)
            for (int r = 0; r < c->kh; r++) {
                const float *x = xb + cb * c->cstride + r * c->hstride;
                if (c->kw == 7) BLK_RGB_ROW(BLK_RGB_7);
                else BLK_RGB_ROW(BLK_RGB_3);
            }
    } else
    for (int cb = 0; cb < c->cb; cb++)
        for (int r = 0; r < c->kh; r++)
            for (int k = 0; k < c->kw; k++) {
                const float *x = xb + cb * c->cstride + r * c->hstride + k * c->wstride;
                if (ci == 16) {
                    BLK_TAP(BLK_CHANNEL(0) BLK_CHANNEL(1) BLK_CHANNEL(2) BLK_CHANNEL(3) BLK_CHANNEL(4) BLK_CHANNEL(5)
                            BLK_CHANNEL(6) BLK_CHANNEL(7) BLK_CHANNEL(8) BLK_CHANNEL(9) BLK_CHANNEL(10) BLK_CHANNEL(11)
                            BLK_CHANNEL(12) BLK_CHANNEL(13) BLK_CHANNEL(14) BLK_CHANNEL(15));
                } else {
                    BLK_TAP(BLK_CHANNEL(0) BLK_CHANNEL(1) BLK_CHANNEL(2));
                    wb += (16 - ci) * c->wstep;
                }
            }
    _mm256_storeu_ps(out, l0); _mm256_storeu_ps(out + 8, h0);
    _mm256_storeu_ps(out + 16, l1); _mm256_storeu_ps(out + 24, h1);
    _mm256_storeu_ps(out + 32, l2); _mm256_storeu_ps(out + 40, h2);
    _mm256_storeu_ps(out + 48, l3); _mm256_storeu_ps(out + 56, h3);
    _mm256_storeu_ps(out + 64, l4); _mm256_storeu_ps(out + 72, h4);
    _mm256_storeu_ps(out + 80, l5); _mm256_storeu_ps(out + 88, h5);
}

static void tile_6_asm(const tile_ctx *c, const float *xb, const long long *off, const float *wb, const float *init,
                       float *out) {
    tile6(16, c, xb, off, wb, init, out);
}

static void rgb_6_asm(const tile_ctx *c, const float *xb, const long long *off, const float *wb, const float *init,
                      float *out) {
    tile6(3, c, xb, off, wb, init, out);
}

/* The sums of one output block at px pixels, at xb + off[q], into out[q * 16 ..] (from init, when set).
   ci: the channels of a block that count (16, or 3 for an RGB first layer). */
__attribute__((always_inline)) static inline void tile(const int px, const int ci, const tile_ctx *c, const float *xb,
                                                        const long long *off, const float *wb, const float *init,
                                                        float *out) {
    __m256 lo[PX], hi[PX];
    const float *xq[PX];
#pragma GCC unroll 6
    for (int q = 0; q < px; q++) {
        xq[q] = xb + off[q];
        lo[q] = init ? _mm256_loadu_ps(init + 16 * q) : _mm256_setzero_ps();
        hi[q] = init ? _mm256_loadu_ps(init + 16 * q + 8) : _mm256_setzero_ps();
    }
    for (int cb = 0; cb < c->cb; cb++)
        for (int r = 0; r < c->kh; r++)
            for (int k = 0; k < c->kw; k++) {
                const long long d = cb * c->cstride + r * c->hstride + k * c->wstride;
#pragma GCC unroll 16
                for (int i = 0; i < ci; i++) {
                    const __m256 w0 = _mm256_loadu_ps(wb), w1 = _mm256_loadu_ps(wb + 8);
#pragma GCC unroll 6
                    for (int q = 0; q < px; q++) {
                        const __m256 xv = _mm256_broadcast_ss(xq[q] + d + i);
                        lo[q] = _mm256_fmadd_ps(xv, w0, lo[q]);
                        hi[q] = _mm256_fmadd_ps(xv, w1, hi[q]);
                    }
                    wb += c->wstep;
                }
                wb += (16 - ci) * c->wstep;
            }
#pragma GCC unroll 6
    for (int q = 0; q < px; q++) {
        _mm256_storeu_ps(out + 16 * q, lo[q]);
        _mm256_storeu_ps(out + 16 * q + 8, hi[q]);
    }
}

typedef void (*tile_fn)(const tile_ctx *c, const float *xb, const long long *off, const float *wb, const float *init,
                        float *out);
#define TILE(px) \
    static void tile_##px(const tile_ctx *c, const float *xb, const long long *off, const float *wb, const float *init, \
                          float *out) { \
        tile(px, 16, c, xb, off, wb, init, out); \
    } \
    static void rgb_##px(const tile_ctx *c, const float *xb, const long long *off, const float *wb, const float *init, \
                         float *out) { \
        tile(px, 3, c, xb, off, wb, init, out); \
    }
TILE(1) TILE(2) TILE(3) TILE(4) TILE(5)
#undef TILE
static const tile_fn TILES[PX] = {tile_1, tile_2, tile_3, tile_4, tile_5, tile_6_asm};
static const tile_fn RGB[PX] = {rgb_1, rgb_2, rgb_3, rgb_4, rgb_5, rgb_6_asm};

/* Copies the input rows the band reads, with their zero padding, into 16-channel blocks: from NHWC
   and NCHW16C a pixel's 16 channels at a time, from NCHW 8 columns of 16 channel rows at a time
   through two 8 x 8 transposes (masked loads: the lanes outside the row are not read). */
static void band_copy(const conv4j_blk_params *p, const float *x, float *xp) {
    const conv4j_conv_shape *s = &p->s;
    const long long br = conv4j_blk_band_rows(s, p->rows), pw = conv4j_blk_band_cols(s);
    const size_t plane = (size_t)s->h * s->w;
    const int cb = (s->c + 15) / 16;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int b = 0; b < cb; b++) {
        const int cn = s->c - 16 * b < 16 ? s->c - 16 * b : 16;
        for (long long r = 0; r < br; r++) {
            const long long ih = (long long)p->oh0 * s->sh - s->pt + r;
            float *dst = xp + ((size_t)b * br + r) * pw * 16;
            if (ih < 0 || ih >= s->h) {
                for (long long k = 0; k < pw * 16; k += 8) _mm256_storeu_ps(dst + k, _mm256_setzero_ps());
                continue;
            }
            if (p->x_layout == CONV4J_LAYOUT_NCHW) {
                const float *row = x + (size_t)16 * b * plane + (size_t)ih * s->w;
                for (long long col = 0; col < pw; col += 8) {
                    /* band columns col .. col+7 are input columns iw0 ..; lane l is read where 0 <= iw0 + l < w */
                    const long long iw0 = col - s->pl;
                    const __m256i iw = _mm256_add_epi32(_mm256_set1_epi32((int)iw0), lane);
                    const __m256i m = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), iw),
                                                          _mm256_cmpgt_epi32(_mm256_set1_epi32(s->w), iw));
                    __m256 t[16];
                    for (int i = 0; i < 16; i++)
                        t[i] = i < cn ? _mm256_maskload_ps(row + (size_t)i * plane + iw0, m) : _mm256_setzero_ps();
                    conv4j_transpose8(t);
                    conv4j_transpose8(t + 8);
                    const long long n = pw - col < 8 ? pw - col : 8;
                    for (long long j = 0; j < n; j++) {
                        _mm256_storeu_ps(dst + 16 * (col + j), t[j]);
                        _mm256_storeu_ps(dst + 16 * (col + j) + 8, t[8 + j]);
                    }
                }
                continue;
            }
            for (long long col = 0; col < pw; col++) {
                const long long iw = col - s->pl;
                float *d = dst + 16 * col;
                if (iw < 0 || iw >= s->w) {
                    _mm256_storeu_ps(d, _mm256_setzero_ps());
                    _mm256_storeu_ps(d + 8, _mm256_setzero_ps());
                } else if (p->x_layout == CONV4J_LAYOUT_NCHW16C || cn == 16) {
                    const float *src = p->x_layout == CONV4J_LAYOUT_NCHW16C ? x + (((size_t)b * s->h + ih) * s->w + iw) * 16
                                                                           : x + ((size_t)ih * s->w + iw) * s->c + 16 * b;
                    _mm256_storeu_ps(d, _mm256_loadu_ps(src));
                    _mm256_storeu_ps(d + 8, _mm256_loadu_ps(src + 8));
                } else {
                    /* the last block of NHWC */
                    const float *src = x + ((size_t)ih * s->w + iw) * s->c + 16 * b;
                    for (int i = 0; i < 16; i++) d[i] = i < cn ? src[i] : 0.f;
                }
            }
        }
    }
}

/* The band of an RGB layer, 4 floats a pixel (its 3 channels and a 0) rather than a block of 16:
   the tiles read only the 3, and a quarter of the band's lines then holds them. */
static void rgb_band_copy(const conv4j_blk_params *p, const float *x, float *xp) {
    const conv4j_conv_shape *s = &p->s;
    const long long br = conv4j_blk_band_rows(s, p->rows), pw = conv4j_blk_band_cols(s);
    const size_t plane = (size_t)s->h * s->w;
    for (long long r = 0; r < br; r++) {
        const long long ih = (long long)p->oh0 * s->sh - s->pt + r;
        float *dst = xp + (size_t)r * pw * 4;
        for (long long col = 0; col < pw; col++) {
            const long long iw = col - s->pl;
            float *d = dst + 4 * col;
            if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) {
                d[0] = d[1] = d[2] = d[3] = 0.f;
                continue;
            }
            const size_t q = (size_t)ih * s->w + iw;
            for (int i = 0; i < 3; i++)
                d[i] = x[p->x_layout == CONV4J_LAYOUT_NCHW ? i * plane + q : p->x_layout == CONV4J_LAYOUT_NHWC ? q * 3 + i : q * 16 + i];
            d[3] = 0.f;
        }
    }
}

/* Offset of channel ci of pixel q of a c-channel image of plane pixels in a layout. */
static inline size_t at_pixel(int layout, int c, size_t plane, int ci, size_t q) {
    switch (layout) {
    case CONV4J_LAYOUT_NHWC: return q * c + ci;
    case CONV4J_LAYOUT_NCHW16C: return ((size_t)(ci >> 4) * plane + q) * 16 + (ci & 15);
    default: return (size_t)ci * plane + q;
    }
}

/* Bias, residual, clamp and the store of the sums v[q * 16 + j] of output block ob at the px
   consecutive output pixels from pix0 of the image. */
static void store(const conv4j_blk_params *p, const float *v, int px, int ob, size_t pix0, size_t pend,
                  const float *bias, const float *res, float *y) {
    const conv4j_conv_shape *s = &p->s;
    const size_t plane = (size_t)s->oh * s->ow;
    const int on = s->o - 16 * ob < 16 ? s->o - 16 * ob : 16, o0 = 16 * ob;
    float b[16], r[PX * 16], t[PX * 16];
    if (bias) {
        for (int j = 0; j < on; j++) b[j] = bias[o0 + j];
        for (int j = on; j < 16; j++) b[j] = 0.f;
    }
    if (res)
        for (int q = 0; q < px; q++)
            for (int j = 0; j < 16; j++) r[16 * q + j] = j < on ? res[at_pixel(p->r_layout, s->o, plane, o0 + j, pix0 + q)] : 0.f;
    const __m256 lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);
    for (int k = 0; k < 16 * px; k += 8) {
        /* the sums + 0 where there is no bias, as the AVX-512 variant: -0 comes out as +0 either way */
        __m256 u = _mm256_add_ps(_mm256_loadu_ps(v + k), bias ? _mm256_loadu_ps(b + (k & 15)) : _mm256_setzero_ps());
        if (res) u = _mm256_add_ps(u, _mm256_loadu_ps(r + k));
        /* max and min return their second operand when either is NaN: a NaN passes through */
        if (p->clamp) u = _mm256_min_ps(hi, _mm256_max_ps(lo, u));
        _mm256_storeu_ps(t + k, u);
    }
    if (p->y_layout == CONV4J_LAYOUT_NCHW16C) {
        /* the padding channels are written as 0 (their weights are 0, the bias and residual taken as 0) */
        float *d = y + ((size_t)ob * plane + pix0) * 16;
        for (int k = 0; k < 16 * px; k += 8) _mm256_storeu_ps(d + k, _mm256_loadu_ps(t + k));
    } else if (p->y_layout == CONV4J_LAYOUT_NHWC && on == 16) {
        for (int q = 0; q < px; q++) {
            float *d = y + (pix0 + q) * s->o + o0;
            _mm256_storeu_ps(d, _mm256_loadu_ps(t + 16 * q));
            _mm256_storeu_ps(d + 8, _mm256_loadu_ps(t + 16 * q + 8));
        }
    } else if (p->y_layout == CONV4J_LAYOUT_NCHW) {
        /* channel rows of px pixels through two 8 x 8 transposes */
        __m256 u[16];
        for (int q = 0; q < 8; q++) {
            u[q] = q < px ? _mm256_loadu_ps(t + 16 * q) : _mm256_setzero_ps();
            u[8 + q] = q < px ? _mm256_loadu_ps(t + 16 * q + 8) : _mm256_setzero_ps();
        }
        conv4j_transpose8(u);
        conv4j_transpose8(u + 8);
        if (pix0 + 8 <= pend && res != y) {
            /* whole vectors: the two pixels past the tile are the next tile's of the band, stored after
               this one (masked stores are microcoded on AMD's cores, a dozen cycles each; a residual
               read from y itself must not be overwritten before it is read) */
            for (int j = 0; j < on; j++) _mm256_storeu_ps(y + (size_t)(o0 + j) * plane + pix0, u[j]);
        } else {
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(px), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            for (int j = 0; j < on; j++) _mm256_maskstore_ps(y + (size_t)(o0 + j) * plane + pix0, m, u[j]);
        }
    } else {
        for (int j = 0; j < on; j++)
            for (int q = 0; q < px; q++) y[at_pixel(p->y_layout, s->o, plane, o0 + j, pix0 + q)] = t[16 * q + j];
    }
}

/* The flipped weights of the input gradient (see pack_blocks_avx2): packed input channel c (the
   layer's output channel) and output channels o (the layer's inputs) are the layer's w[c][o][tap],
   its taps turned by 180 degrees. Per c, 8 of its rows of taps (8 o) are read side by side, 8 taps
   at a time, and an 8 x 8 transpose turns them into a vector of 8 o per tap: the plain loops'
   read of every float at a stride of kh·kw took a fifth of a ResNet-50 3x3 layer's input gradient. */
static void pack_flipped(const conv4j_blk_params *p, const float *w, float *dst, int g, int b0, int bn) {
    const conv4j_conv_shape *s = &p->s;
    const int ob = p->nb * 16, taps = s->kh * s->kw;
    if ((b0 + bn) * 16 > s->c || (g + 1) * ob > s->o) {
        const size_t part = (size_t)bn * taps * 16 * ob;
        for (size_t k = 0; k < part; k += 8) _mm256_storeu_ps(dst + k, _mm256_setzero_ps());
    }
    for (int b = b0; b < b0 + bn; b++)
        for (int i = 0; i < 16 && 16 * b + i < s->c; i++) {
            const float *row = w + (size_t)(16 * b + i) * s->o * taps;
            for (int jv = 0; jv < ob && g * ob + jv < s->o; jv += 8) {
                const int o0 = g * ob + jv, on = s->o - o0 < 8 ? s->o - o0 : 8;
                for (int t0 = 0; t0 < taps; t0 += 8) {
                    const int tn = taps - t0 < 8 ? taps - t0 : 8;
                    if (tn == 1) {
                        /* a single tap (1x1: the 8 o are side by side) or a last one (3x3: the ninth), gathered */
                        __m256 v;
                        if (taps == 1) {
                            v = _mm256_maskload_ps(row + o0, conv4j_lanes8(on));
                        } else {
                            float t[8];
                            for (int k = 0; k < 8; k++) t[k] = k < on ? row[(size_t)(o0 + k) * taps + t0] : 0.f;
                            v = _mm256_loadu_ps(t);
                        }
                        _mm256_storeu_ps(dst + (((size_t)(b - b0) * taps + (taps - 1 - t0)) * 16 + i) * ob + jv, v);
                        continue;
                    }
                    const __m256i m = conv4j_lanes8(tn);
                    __m256 v[8];
                    for (int k = 0; k < 8; k++) v[k] = k < on ? _mm256_maskload_ps(row + (size_t)(o0 + k) * taps + t0, m) : _mm256_setzero_ps();
                    conv4j_transpose8(v);
                    for (int e = 0; e < tn; e++)
                        _mm256_storeu_ps(dst + (((size_t)(b - b0) * taps + (taps - 1 - t0 - e)) * 16 + i) * ob + jv, v[e]);
                }
            }
        }
}

/* Channel blocks [b0, b0 + bn) of weight group g into dst (laid out as that part of a packed group),
   as the AVX-512 packing does: sixteen OIHW rows read side by side, 8 floats of each at a time,
   through two 8 x 8 transposes. */
void conv4j_blk_pack_blocks_avx2(const conv4j_blk_params *p, const float *w, float *dst, int g, int b0, int bn) {
    if (p->flip) {
        pack_flipped(p, w, dst, g, b0, bn);
        return;
    }
    const conv4j_conv_shape *s = &p->s;
    const int ob = p->nb * 16, taps = s->kh * s->kw;
    const size_t part = (size_t)bn * taps * 16 * ob;
    const long long row = (long long)s->c * taps, end = (long long)(b0 + bn) * 16 * taps;
    if (end > row || (long long)(g + 1) * ob > s->o) {
        for (size_t k = 0; k < part; k += 8) _mm256_storeu_ps(dst + k, _mm256_setzero_ps());
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int jb = 0; jb < p->nb; jb++) {
        const int o0 = g * ob + jb * 16, on = s->o - o0 < 16 ? s->o - o0 : 16;
        if (on <= 0) break;
        int c = 16 * b0, t = 0; /* of element q + e */
        for (long long q = (long long)b0 * 16 * taps; q < row && q < end; q += 8) {
            const int n = row - q < 8 ? (int)(row - q) : 8;
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
            __m256 v[16];
            for (int k = 0; k < 16; k++) {
                /* sixteen rows are read side by side, more streams than the hardware prefetcher follows */
                if (k < on && q + 64 < end) _mm_prefetch((const char *)(w + (size_t)(o0 + k) * row + q + 64), _MM_HINT_T0);
                v[k] = k < on ? _mm256_maskload_ps(w + (size_t)(o0 + k) * row + q, m) : _mm256_setzero_ps();
            }
            conv4j_transpose8(v);
            conv4j_transpose8(v + 8);
            for (int e = 0; e < n; e++) {
                float *d = dst + (((size_t)((c >> 4) - b0) * taps + t) * 16 + (c & 15)) * ob + jb * 16;
                _mm256_storeu_ps(d, v[e]);
                _mm256_storeu_ps(d + 8, v[8 + e]);
                if (++t == taps) {
                    t = 0;
                    c++;
                }
            }
        }
    }
}

void conv4j_blk_forward_avx2(const conv4j_blk_params *p, const float *x, const float *wp, const float *bias,
                             const float *res, float *y, float *xp) {
    const conv4j_conv_shape *s = &p->s;
    const long long br = conv4j_blk_band_rows(s, p->rows), pw = conv4j_blk_band_cols(s);
    const long long ih0 = (long long)p->oh0 * s->sh - s->pt;
    const int nb = p->nb, cb = (s->c + 15) / 16;
    const float *band = xp;
    long long pitch, pix = 16; /* floats between the band's rows, its pixels */
    tile_ctx c;
    c.kh = s->kh; c.kw = s->kw; c.wstep = 16 * nb;
    if (p->x_layout == CONV4J_LAYOUT_NCHW16C && s->pl == 0 && ih0 >= 0 && ih0 + br <= s->h && pw <= s->w) {
        /* no padding reaches the band: read in place */
        band = x + (size_t)ih0 * s->w * 16;
        c.cstride = (long long)s->h * s->w * 16; pitch = (long long)s->w * 16;
    } else if (s->c == 3) {
        rgb_band_copy(p, x, xp);
        c.cstride = br * pw * 4; pitch = pw * 4; pix = 4;
    } else {
        band_copy(p, x, xp);
        c.cstride = br * pw * 16; pitch = pw * 16;
    }
    c.hstride = s->dh * pitch;
    c.wstride = s->dw * pix;
    const size_t per_block = (size_t)s->kh * s->kw * 16 * 16 * nb, group = (size_t)cb * per_block;
    /* the chunks of the AVX-512 kernel, for the same sums; a tile's partial sums take 96 floats of the
       room that kernel's (wider) tiles have */
    const int chunk = blk_chunk_blocks(s, nb);
    const size_t band_floats = (size_t)br * pw * cb * 16;
    float *partial = chunk < cb ? xp + band_floats : NULL;
    float *wbuf = p->pack_inline ? xp + band_floats + conv4j_blk_partial_floats(s, nb, p->rows) : NULL;
    const int pixels = p->rows * s->ow, rgb = s->c == 3;
    const tile_fn *tiles = rgb ? RGB : TILES;
    float acc[PX * 16];
    /* Where the reduction runs in chunks, a chunk is taken one output block and a few channel blocks
       (16 KiB of weights, in L1) at a time over all the band's tiles: the weights a tile streams
       would otherwise come from L2, a quarter of each line at nb = 4 (res5's 7x7 planes). The sums
       pass between the steps through the tiles' partial sums, exactly. */
    const int step = partial ? (int)(4096 / ((size_t)s->kh * s->kw * 256)) > 1 ? (int)(4096 / ((size_t)s->kh * s->kw * 256)) : 1 : cb;
    for (int g = p->g0; g < p->g0 + p->gn; g++) {
        for (int c0 = 0; c0 < cb; c0 += chunk) {
            const int cn = cb - c0 < chunk ? cb - c0 : chunk;
            const float *wc = wp + (size_t)g * group + (size_t)c0 * per_block;
            if (wbuf) {
                conv4j_blk_pack_blocks_avx2(p, wp, wbuf, g, c0, cn);
                wc = wbuf;
            }
            const int bn = partial ? 1 : nb; /* output blocks per pass over the tiles */
            /* prepacked weights of a chunked reduction come from L3 or memory: the next chunk's are
               brought into L2 a few lines per tile call while this one runs (packing inline puts
               them there itself) */
            const float *ahead = !partial || wbuf ? NULL
                                 : c0 + cn < cb ? wc + (size_t)cn * per_block
                                 : g + 1 < p->g0 + p->gn ? wp + (size_t)(g + 1) * group : NULL;
            const int ahead_blocks = c0 + cn < cb ? (cb - c0 - cn < chunk ? cb - c0 - cn : chunk) : (cb < chunk ? cb : chunk);
            const size_t ahead_lines = ahead ? (size_t)ahead_blocks * per_block / 16 : 0;
            const size_t calls = (size_t)nb * ((cn + step - 1) / step) * ((pixels + PX - 1) / PX);
            const size_t per_call = (ahead_lines + calls - 1) / calls;
            size_t ahead_done = 0;
            for (int b0 = 0; b0 < nb && 16 * (g * nb + b0) < s->o; b0 += bn)
                for (int s0 = c0; s0 < c0 + cn; s0 += step) {
                    tile_ctx cc = c;
                    cc.cb = c0 + cn - s0 < step ? c0 + cn - s0 : step;
                    const int last = s0 + cc.cb == cb;
                    const float *ws = wc + (size_t)(s0 - c0) * per_block;
                    /* the next pass's weights (the next channel blocks, or the next output block),
                       prefetched a slice per tile: a small plane has few tiles to hide their misses */
                    const float *next = !partial ? NULL
                                        : s0 + step < c0 + cn ? ws + per_block * (size_t)step + 16 * b0
                                        : b0 + 1 < nb ? wc + 16 * (b0 + 1) : NULL;
                    const int rest = s0 + step < c0 + cn ? c0 + cn - s0 - step : cn; /* channel blocks left for the next pass */
                    const int rows_next = (rest < step ? rest : step) * s->kh * s->kw * 16;
                    const int ntiles = (pixels + PX - 1) / PX, slice = next ? (rows_next + ntiles - 1) / ntiles : 0;
                    for (int t0 = 0, t = 0; t0 < pixels; t0 += PX, t++) {
                        const int n = pixels - t0 < PX ? pixels - t0 : PX;
                        for (int k = t * slice; k < (t + 1) * slice && k < rows_next; k++)
                            _mm_prefetch((const char *)(next + (size_t)k * c.wstep), _MM_HINT_T0);
                        for (size_t e = ahead_done + per_call; ahead_done < e && ahead_done < ahead_lines; ahead_done++)
                            _mm_prefetch((const char *)(ahead + ahead_done * 16), _MM_HINT_T1);
                        long long off[PX];
                        for (int q = 0; q < n; q++) {
                            const int r = (t0 + q) / s->ow, col = (t0 + q) % s->ow;
                            off[q] = (long long)r * s->sh * pitch + (long long)col * s->sw * pix + (long long)s0 * c.cstride;
                        }
                        for (int b = partial ? b0 : 0; b < (partial ? b0 + 1 : nb) && 16 * (g * nb + b) < s->o; b++) {
                            float *slot = partial ? partial + ((size_t)t * nb + b) * PX * 16 : NULL;
                            tiles[n - 1](&cc, band, off, ws + 16 * b, s0 ? slot : NULL, last ? acc : slot);
                            if (last)
                                store(p, acc, n, g * nb + b, (size_t)p->oh0 * s->ow + t0, (size_t)p->oh0 * s->ow + pixels, bias,
                                      res, y);
                        }
                    }
                }
        }
    }
}


/* Reorders between layouts as the AVX-512 variant does, each 16-channel block as two halves of 8:
   pixel-major to pixel-major a vector at a time, to and from NCHW 8 pixels at a time through 8 x 8
   transposes. NCHW16C's padding channels are written as 0. Stores are masked only where a vector
   holds fewer than 8 channels or pixels (masked stores are microcoded on AMD's cores, a dozen
   cycles each: every store masked ran NCHW16C to NCHW at a third of the speed). */
void conv4j_blk_reorder_avx2(const conv4j_blk_params *p, const float *x, float *y) {
    const conv4j_conv_shape *s = &p->s;
    const size_t plane = (size_t)s->h * s->w;
    const int cb = (s->c + 15) / 16, xl = p->x_layout, yl = p->y_layout;
    const size_t xi = conv4j_image_floats(xl, s->c, plane), yi = conv4j_image_floats(yl, s->c, plane);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int n = 0; n < s->n; n++) {
        const float *xn = x + n * xi;
        float *yn = y + n * yi;
        for (int b = 0; b < cb; b++)
            for (int h = 0; h < 2; h++) {
                const int c0 = 16 * b + 8 * h, hn = s->c - c0 < 0 ? 0 : s->c - c0 < 8 ? s->c - c0 : 8;
                const __m256i cm = _mm256_cmpgt_epi32(_mm256_set1_epi32(hn), lane);
                /* where pixel q's 8 channels from c0 are in a pixel-major layout */
                const size_t xblk = xl == CONV4J_LAYOUT_NHWC ? (size_t)c0 : (size_t)b * plane * 16 + 8 * h;
                const size_t yblk = yl == CONV4J_LAYOUT_NHWC ? (size_t)c0 : (size_t)b * plane * 16 + 8 * h;
                const size_t xpix = xl == CONV4J_LAYOUT_NHWC ? s->c : 16, ypix = yl == CONV4J_LAYOUT_NHWC ? s->c : 16;
                if (hn == 0 && yl != CONV4J_LAYOUT_NCHW16C) continue; /* nothing of these channels to write */
                if (xl != CONV4J_LAYOUT_NCHW && yl != CONV4J_LAYOUT_NCHW) {
                    for (size_t q = 0; q < plane; q++) {
                        const __m256 v = _mm256_maskload_ps(xn + xblk + q * xpix, cm);
                        if (yl == CONV4J_LAYOUT_NCHW16C || hn == 8) _mm256_storeu_ps(yn + yblk + q * ypix, v);
                        else _mm256_maskstore_ps(yn + yblk + q * ypix, cm, v);
                    }
                    continue;
                }
                for (size_t q = 0; q < plane; q += 8) {
                    const int pn = plane - q < 8 ? (int)(plane - q) : 8;
                    const __m256i pm = _mm256_cmpgt_epi32(_mm256_set1_epi32(pn), lane);
                    __m256 t[8];
                    if (xl == CONV4J_LAYOUT_NCHW) {
                        for (int i = 0; i < 8; i++)
                            t[i] = i < hn ? _mm256_maskload_ps(xn + (size_t)(c0 + i) * plane + q, pm) : _mm256_setzero_ps();
                        conv4j_transpose8(t);
                        for (int k = 0; k < pn; k++) {
                            if (yl == CONV4J_LAYOUT_NCHW16C || hn == 8) _mm256_storeu_ps(yn + yblk + (q + k) * ypix, t[k]);
                            else _mm256_maskstore_ps(yn + yblk + (q + k) * ypix, cm, t[k]);
                        }
                    } else {
                        for (int k = 0; k < 8; k++)
                            t[k] = k < pn ? _mm256_maskload_ps(xn + xblk + (q + k) * xpix, cm) : _mm256_setzero_ps();
                        conv4j_transpose8(t);
                        for (int i = 0; i < hn; i++) {
                            if (pn == 8) _mm256_storeu_ps(yn + (size_t)(c0 + i) * plane + q, t[i]);
                            else _mm256_maskstore_ps(yn + (size_t)(c0 + i) * plane + q, pm, t[i]);
                        }
                    }
                }
            }
    }
}
