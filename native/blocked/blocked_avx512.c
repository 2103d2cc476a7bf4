/*
 * The channel-blocked direct kernel on AVX-512 (see blocked.h). A tile holds nb x px accumulators
 * (2 x 14 or 4 x 7: 28 of the 32 registers): per input channel of a tap it loads nb weight vectors
 * and broadcasts one input value per pixel, so 16 + 2 loads feed 28 multiply-adds. The accumulators
 * stay in registers over the whole reduction (all input channels and taps); the tile is then stored
 * once through the epilogue. Tile widths below px (a row's last pixels) are variants of their own,
 * fixed at compile time like the stride (1 or 2) so that every address is a constant offset.
 */
#include "common/conv4j_avx512.h"
#include "blocked/blocked.h"


typedef struct blk_ctx {
    long long cstride;          /* floats between the input's channel blocks */
    long long hstride, wstride; /* floats between the kernel's rows, columns (dilation included) */
    long long cs;               /* floats between the channels of a block: 1 in a blocked band, the plane in NCHW */
    int cb, kh, kw;             /* channel blocks; taps */
    /* Where y is set, the tile applies the epilogue and stores itself (NCHW16C or NHWC, a group of
       whole blocks): bias (or null) and residual (or null, at the same offsets as y) and the clamp. */
    float *y;
    const float *bias, *res;
    long long yblock, ypix;     /* floats between the output's channel blocks, between its pixels */
    int clamp;
    float lo, hi;
} blk_ctx;

/* out: the tile's sums, acc[b * 14 + q] (unless c->y is set); init: null, or sums to start from (a
   previous chunk's out) */
typedef void (*blk_tile_fn)(const blk_ctx *c, const float *xb, const float *wb, const __m512 *init, __m512 *out);

/* ps: floats between the tile's pixels (16·stride in a blocked band, the stride in an NCHW plane);
   ci: the channels of a block that count (16, or 3 for an RGB first layer, whose 13 zero channels
   would otherwise be most of the work) */
__attribute__((always_inline)) static inline void blk_tile(const int nb, const int px, const int ps, const int ci,
                                                            const blk_ctx *c,
                                                            const float *xb, const float *wb, const __m512 *init,
                                                            __m512 *out) {
    __m512 acc[4][14];
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++)
#pragma GCC unroll 14
        for (int q = 0; q < px; q++) acc[b][q] = init ? _mm512_loadu_ps((const float *)(init + b * 14 + q)) : _mm512_setzero_ps();
    for (int cb = 0; cb < c->cb; cb++) {
        for (int r = 0; r < c->kh; r++) {
            const float *xr = xb + cb * c->cstride + r * c->hstride;
            for (int k = 0; k < c->kw; k++) {
                const float *xi = xr + k * c->wstride;
#pragma GCC unroll 16
                /* in a blocked band the channels of a block are adjacent: a constant lets every
                   address of the 16 channels be a constant offset from one register */
                for (int i = 0; i < ci; i++, xi += (ps >= 16 ? 1 : c->cs)) {
                    __m512 wv[4];
#pragma GCC unroll 4
                    for (int b = 0; b < nb; b++) wv[b] = _mm512_loadu_ps(wb + 16 * b);
#pragma GCC unroll 14
                    for (int q = 0; q < px; q++) {
                        const __m512 xv = _mm512_set1_ps(xi[q * ps]);
#pragma GCC unroll 4
                        for (int b = 0; b < nb; b++) acc[b][q] = _mm512_fmadd_ps(xv, wv[b], acc[b][q]);
                    }
                    wb += 16 * nb;
                }
                wb += (16 - ci) * 16 * nb;
            }
        }
    }
    if (c->y) {
        /* on the registers, sparing a layer whose reduction is short (1x1) a round trip through out */
        const __m512 lo = _mm512_set1_ps(c->lo), hi = _mm512_set1_ps(c->hi);
#pragma GCC unroll 4
        for (int b = 0; b < nb; b++) {
            const __m512 bv = c->bias ? _mm512_loadu_ps(c->bias + 16 * b) : _mm512_setzero_ps();
#pragma GCC unroll 14
            for (int q = 0; q < px; q++) {
                const long long at = b * c->yblock + q * c->ypix;
                __m512 v = _mm512_add_ps(acc[b][q], bv);
                if (c->res) v = _mm512_add_ps(v, _mm512_loadu_ps(c->res + at));
                if (c->clamp) v = _mm512_min_ps(hi, _mm512_max_ps(lo, v)); /* as blk_store: a NaN passes */
                _mm512_storeu_ps(c->y + at, v);
            }
        }
        return;
    }
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++)
#pragma GCC unroll 14
        for (int q = 0; q < px; q++) _mm512_storeu_ps((float *)(out + b * 14 + q), acc[b][q]);
}

#define BLK_TILE(nb, px, ps) \
    static void blk_tile_##nb##_##px##_##ps(const blk_ctx *c, const float *xb, const float *wb, const __m512 *init, \
                                            __m512 *out) { \
        blk_tile(nb, px, ps, 16, c, xb, wb, init, out); \
    } \
    static void blk_rgb_##nb##_##px##_##ps(const blk_ctx *c, const float *xb, const float *wb, const __m512 *init, \
                                           __m512 *out) { \
        blk_tile(nb, px, ps, 3, c, xb, wb, init, out); \
    }
#define BLK_TILES7(nb, ps) BLK_TILE(nb, 1, ps) BLK_TILE(nb, 2, ps) BLK_TILE(nb, 3, ps) BLK_TILE(nb, 4, ps) \
    BLK_TILE(nb, 5, ps) BLK_TILE(nb, 6, ps) BLK_TILE(nb, 7, ps)
#define BLK_TILES14(nb, ps) BLK_TILES7(nb, ps) BLK_TILE(nb, 8, ps) BLK_TILE(nb, 9, ps) BLK_TILE(nb, 10, ps) \
    BLK_TILE(nb, 11, ps) BLK_TILE(nb, 12, ps) BLK_TILE(nb, 13, ps) BLK_TILE(nb, 14, ps)
BLK_TILES14(2, 16) BLK_TILES14(2, 32) BLK_TILES14(2, 1) BLK_TILES14(2, 2)
BLK_TILES7(4, 16) BLK_TILES7(4, 32) BLK_TILES7(4, 1) BLK_TILES7(4, 2)

#define BLK_ROW7(nb, ps) {blk_tile_##nb##_1_##ps, blk_tile_##nb##_2_##ps, blk_tile_##nb##_3_##ps, blk_tile_##nb##_4_##ps, \
    blk_tile_##nb##_5_##ps, blk_tile_##nb##_6_##ps, blk_tile_##nb##_7_##ps}
#define BLK_ROW14(nb, ps) {blk_tile_##nb##_1_##ps, blk_tile_##nb##_2_##ps, blk_tile_##nb##_3_##ps, blk_tile_##nb##_4_##ps, \
    blk_tile_##nb##_5_##ps, blk_tile_##nb##_6_##ps, blk_tile_##nb##_7_##ps, blk_tile_##nb##_8_##ps, \
    blk_tile_##nb##_9_##ps, blk_tile_##nb##_10_##ps, blk_tile_##nb##_11_##ps, blk_tile_##nb##_12_##ps, \
    blk_tile_##nb##_13_##ps, blk_tile_##nb##_14_##ps}
/* [blocked band stride 1, 2; NCHW plane stride 1, 2][pixels - 1], for 16 channels a block and for 3 */
static const blk_tile_fn BLK_NB2[4][14] = {BLK_ROW14(2, 16), BLK_ROW14(2, 32), BLK_ROW14(2, 1), BLK_ROW14(2, 2)};
static const blk_tile_fn BLK_NB4[4][7] = {BLK_ROW7(4, 16), BLK_ROW7(4, 32), BLK_ROW7(4, 1), BLK_ROW7(4, 2)};
#undef BLK_ROW7
#undef BLK_ROW14
#define BLK_ROW7(nb, ps) {blk_rgb_##nb##_1_##ps, blk_rgb_##nb##_2_##ps, blk_rgb_##nb##_3_##ps, blk_rgb_##nb##_4_##ps, \
    blk_rgb_##nb##_5_##ps, blk_rgb_##nb##_6_##ps, blk_rgb_##nb##_7_##ps}
#define BLK_ROW14(nb, ps) {blk_rgb_##nb##_1_##ps, blk_rgb_##nb##_2_##ps, blk_rgb_##nb##_3_##ps, blk_rgb_##nb##_4_##ps, \
    blk_rgb_##nb##_5_##ps, blk_rgb_##nb##_6_##ps, blk_rgb_##nb##_7_##ps, blk_rgb_##nb##_8_##ps, \
    blk_rgb_##nb##_9_##ps, blk_rgb_##nb##_10_##ps, blk_rgb_##nb##_11_##ps, blk_rgb_##nb##_12_##ps, \
    blk_rgb_##nb##_13_##ps, blk_rgb_##nb##_14_##ps}
static const blk_tile_fn BLK_RGB2[4][14] = {BLK_ROW14(2, 16), BLK_ROW14(2, 32), BLK_ROW14(2, 1), BLK_ROW14(2, 2)};
static const blk_tile_fn BLK_RGB4[4][7] = {BLK_ROW7(4, 16), BLK_ROW7(4, 32), BLK_ROW7(4, 1), BLK_ROW7(4, 2)};

/* Copies the input rows that output rows [oh0, oh0 + rows) read, of channel blocks [b0, b1), into
   16-channel blocks with their zero padding: from NCHW sixteen channel rows at a time through a
   16 x 16 transpose, from NHWC and NCHW16C a pixel at a time. */
static void blk_band(const conv4j_blk_params *p, const float *x, float *xp, int oh0, int rows, int b0, int b1) {
    const conv4j_conv_shape *s = &p->s;
    const long long br = conv4j_blk_band_rows(s, rows), pw = conv4j_blk_band_cols(s);
    const size_t plane = (size_t)s->h * s->w;
    for (int b = b0; b < b1; b++) {
        const int cn = s->c - 16 * b < 16 ? s->c - 16 * b : 16;
        const __mmask16 cm = conv4j_lanes(cn);
        for (long long r = 0; r < br; r++) {
            const long long ih = (long long)oh0 * s->sh - s->pt + r;
            float *dst = xp + ((size_t)(b - b0) * br + r) * pw * 16;
            if (ih < 0 || ih >= s->h) {
                for (long long col = 0; col < pw; col++) _mm512_storeu_ps(dst + 16 * col, _mm512_setzero_ps());
                continue;
            }
            if (p->x_layout == CONV4J_LAYOUT_NCHW) {
                const float *row = x + (size_t)16 * b * plane + (size_t)ih * s->w;
                for (long long col = 0; col < pw; col += 16) {
                    /* columns col .. col+15 of the band are input columns col - pl ..; lanes outside the row stay 0 */
                    const long long iw0 = col - s->pl;
                    const long long lo = iw0 < 0 ? -iw0 : 0, hi = s->w - iw0 < 16 ? s->w - iw0 : 16;
                    const __mmask16 m = hi > lo ? (__mmask16)(conv4j_lanes(hi) & ~conv4j_lanes(lo)) : 0;
                    __m512 t[16];
                    for (int i = 0; i < 16; i++)
                        t[i] = i < cn && m ? _mm512_maskz_loadu_ps(m, row + (size_t)i * plane + iw0) : _mm512_setzero_ps();
                    conv4j_transpose16(t);
                    const long long n = pw - col < 16 ? pw - col : 16;
                    for (long long j = 0; j < n; j++) _mm512_storeu_ps(dst + 16 * (col + j), t[j]);
                }
            } else {
                for (long long col = 0; col < pw; col++) {
                    const long long iw = col - s->pl;
                    __m512 v = _mm512_setzero_ps();
                    if (iw >= 0 && iw < s->w) {
                        v = p->x_layout == CONV4J_LAYOUT_NHWC
                                ? _mm512_maskz_loadu_ps(cm, x + ((size_t)ih * s->w + iw) * s->c + 16 * b)
                                : _mm512_loadu_ps(x + (((size_t)b * s->h + ih) * s->w + iw) * 16);
                    }
                    _mm512_storeu_ps(dst + 16 * col, v);
                }
            }
        }
    }
}

/* A strided pointwise layer reads only the input pixels (oh·sh, ow·sw): the band of output rows
   [oh0, oh0 + rows) holds just those, rows x ow pixels of 16-channel blocks, and the layer then runs
   as a stride-1 one on it. From NCHW sixteen channel rows at a time through a 16 x 16 transpose (a
   stride-2 row by two loads and a permute), from NHWC and NCHW16C a pixel at a time. */
static void blk_band_strided(const conv4j_blk_params *p, const float *x, float *xp, int oh0, int rows) {
    const conv4j_conv_shape *s = &p->s;
    const size_t plane = (size_t)s->h * s->w;
    const int cb = (s->c + 15) / 16;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i cols = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(s->sw));
    for (int b = 0; b < cb; b++) {
        const int cn = s->c - 16 * b < 16 ? s->c - 16 * b : 16;
        const __mmask16 cm = conv4j_lanes(cn);
        for (int r = 0; r < rows; r++) {
            const size_t ih = (size_t)(oh0 + r) * s->sh;
            float *dst = xp + ((size_t)b * rows + r) * s->ow * 16;
            if (p->x_layout != CONV4J_LAYOUT_NCHW) {
                for (int j = 0; j < s->ow; j++) {
                    const size_t iw = (size_t)j * s->sw;
                    _mm512_storeu_ps(dst + 16 * j, p->x_layout == CONV4J_LAYOUT_NHWC
                                                       ? _mm512_maskz_loadu_ps(cm, x + (ih * s->w + iw) * s->c + 16 * b)
                                                       : _mm512_loadu_ps(x + (((size_t)b * s->h + ih) * s->w + iw) * 16));
                }
                continue;
            }
            const float *row = x + (size_t)16 * b * plane + ih * s->w;
            for (int j = 0; j < s->ow; j += 16) {
                /* output columns j .. j+15 read input columns (j + lane)·sw, all inside the row for the
                   lanes below n; for stride 2 the pair of loads covers 2n - 1 columns */
                const int n = s->ow - j < 16 ? s->ow - j : 16;
                const long long e = (long long)j * s->sw;
                __m512 t[16];
                for (int i = 0; i < 16; i++) {
                    const float *src = row + (size_t)i * plane + e;
                    if (i >= cn) {
                        t[i] = _mm512_setzero_ps();
                    } else if (s->sw == 2) {
                        const int m = 2 * n - 1;
                        t[i] = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(conv4j_lanes(m), src), even,
                                                      _mm512_maskz_loadu_ps(conv4j_lanes(m - 16), src + 16));
                    } else {
                        t[i] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), conv4j_lanes(n), cols, src, 4);
                    }
                }
                conv4j_transpose16(t);
                for (int k = 0; k < n; k++) _mm512_storeu_ps(dst + 16 * (j + k), t[k]);
            }
        }
    }
}

/* Bias, residual, clamp and the store of one tile: px pixels from (oh, ow0) by nb blocks of 16
   output channels from o0; acc[b * 14 + q] holds block b at pixel q. */
static void blk_store(const conv4j_blk_params *p, __m512 *acc, int nb, int px, int o0, int oh, int ow0,
                      const float *bias, const float *res, float *y) {
    const conv4j_conv_shape *s = &p->s;
    const size_t plane = (size_t)s->oh * s->ow, pix = (size_t)oh * s->ow + ow0;
    const int blocks = (s->o + 15) / 16;
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
    for (int b = 0; b < nb; b++) {
        const int ob = o0 / 16 + b, on = s->o - 16 * ob;
        if (ob >= blocks) break;
        const __mmask16 om = conv4j_lanes(on);
        __m512 *v = acc + 14 * b;
        if (bias) {
            const __m512 bv = _mm512_maskz_loadu_ps(om, bias + 16 * ob);
            for (int q = 0; q < px; q++) v[q] = _mm512_add_ps(v[q], bv);
        }
        if (res) {
            __m512 t[16];
            if (p->r_layout == CONV4J_LAYOUT_NCHW) {
                const __mmask16 pm = conv4j_lanes(px);
                for (int j = 0; j < 16; j++)
                    t[j] = j < on ? _mm512_maskz_loadu_ps(pm, res + (size_t)(16 * ob + j) * plane + pix) : _mm512_setzero_ps();
                conv4j_transpose16(t);
            } else {
                for (int q = 0; q < px; q++)
                    t[q] = p->r_layout == CONV4J_LAYOUT_NHWC ? _mm512_maskz_loadu_ps(om, res + (pix + q) * s->o + 16 * ob)
                                                             : _mm512_loadu_ps(res + ((size_t)ob * plane + pix + q) * 16);
            }
            for (int q = 0; q < px; q++) v[q] = _mm512_add_ps(v[q], t[q]);
        }
        if (p->clamp) {
            /* max and min return their second operand when either is NaN: a NaN passes through */
            for (int q = 0; q < px; q++) v[q] = _mm512_min_ps(hi, _mm512_max_ps(lo, v[q]));
        }
        if (p->y_layout == CONV4J_LAYOUT_NCHW16C) {
            for (int q = 0; q < px; q++) _mm512_storeu_ps(y + ((size_t)ob * plane + pix + q) * 16, _mm512_maskz_mov_ps(om, v[q]));
        } else if (p->y_layout == CONV4J_LAYOUT_NHWC) {
            for (int q = 0; q < px; q++) _mm512_mask_storeu_ps(y + (pix + q) * s->o + 16 * ob, om, v[q]);
        } else {
            __m512 t[16];
            for (int q = 0; q < 16; q++) t[q] = q < px ? v[q] : _mm512_setzero_ps();
            conv4j_transpose16(t);
            const __mmask16 pm = conv4j_lanes(px);
            for (int j = 0; j < on && j < 16; j++) _mm512_mask_storeu_ps(y + (size_t)(16 * ob + j) * plane + pix, pm, t[j]);
        }
    }
}

static void blk_pack_blocks(const conv4j_blk_params *p, const float *w, float *dst, int g, int b0, int bn);
static void blk_pack_flip_blocks(const conv4j_blk_params *p, const float *w, float *dst, int g, int b0, int bn);

/* Points c at the output tile of group g from (oh, ow) for the tile to store itself, or clears c->y. */
static inline void blk_tile_ctx(const conv4j_blk_params *p, blk_ctx *c, int self_store, int g, int oh, int ow,
                                const float *bias, const float *res, float *y) {
    if (!self_store) {
        c->y = NULL;
        return;
    }
    const conv4j_conv_shape *s = &p->s;
    const size_t at = (size_t)g * p->nb * c->yblock + ((size_t)oh * s->ow + ow) * c->ypix;
    c->y = y + at;
    c->res = res ? res + at : NULL;
    c->bias = bias ? bias + (size_t)g * p->nb * 16 : NULL;
}

void conv4j_blk_forward_avx512(const conv4j_blk_params *p, const float *x, const float *wp, const float *bias,
                               const float *res, float *y, float *xp) {
    const conv4j_conv_shape *s = &p->s;
    const long long br = conv4j_blk_band_rows(s, p->rows), pw = conv4j_blk_band_cols(s);
    const long long ih0 = (long long)p->oh0 * s->sh - s->pt;
    const int nb = p->nb, ob = 16 * nb, px = CONV4J_BLK_PIXELS(nb), cb = (s->c + 15) / 16;
    /* where no padding reaches the band, a blocked input is read in place, and so is an NCHW one whose
       channels fill their blocks; otherwise the band is copied into 16-channel blocks */
    const int inside = s->pl == 0 && ih0 >= 0 && ih0 + br <= s->h && pw <= s->w;
    const float *band = xp;
    long long pitch, pix; /* floats between rows, between pixels of a row */
    int sh = s->sh, sw = s->sw; /* of the tiles on the band */
    const int strided_pointwise = s->kh == 1 && s->kw == 1 && s->pt == 0 && s->pl == 0 && (sh > 1 || sw > 1)
                                 && (long long)(s->oh - 1) * sh < s->h && (long long)(s->ow - 1) * sw < s->w; /* no padding read */
    blk_ctx c;
    c.cb = cb; c.kh = s->kh; c.kw = s->kw;
    if (inside && p->x_layout == CONV4J_LAYOUT_NCHW16C) {
        band = x + (size_t)ih0 * s->w * 16;
        c.cstride = (long long)s->h * s->w * 16; pitch = (long long)s->w * 16; pix = 16; c.cs = 1;
    } else if (inside && p->x_layout == CONV4J_LAYOUT_NCHW && s->c % 16 == 0 && s->sw == 1) {
        /* (with a stride, the 16 channel planes a tile reads at once are too many streams to prefetch) */
        band = x + (size_t)ih0 * s->w;
        c.cs = (long long)s->h * s->w; c.cstride = 16 * c.cs; pitch = s->w; pix = 1;
    } else if (strided_pointwise) {
        blk_band_strided(p, x, xp, p->oh0, p->rows);
        c.cstride = (long long)p->rows * s->ow * 16; pitch = (long long)s->ow * 16; pix = 16; c.cs = 1;
        sh = sw = 1;
    } else {
        blk_band(p, x, xp, p->oh0, p->rows, 0, cb);
        c.cstride = br * pw * 16; pitch = pw * 16; pix = 16; c.cs = 1;
    }
    c.hstride = s->dh * pitch;
    c.wstride = s->dw * pix;
    const int variant = (pix == 1 ? 2 : 0) + sw - 1;
    const size_t per_block = (size_t)s->kh * s->kw * 16 * ob, group = (size_t)cb * per_block;
    /* A group's weights are read once per tile: where they pass an L2 share, the reduction goes in chunks
       of channel blocks over all the band's tiles, the sums kept between chunks in the tail of the
       scratch (blk_chunk_blocks), so each chunk of weights stays in cache across the tiles. */
    const int chunk = blk_chunk_blocks(s, nb);
    __m512 *partial = chunk < cb ? (__m512 *)(xp + conv4j_blk_band_rows(s, p->rows) * conv4j_blk_band_cols(s) * cb * 16) : NULL;
    const int tiles_per_row = (s->ow + px - 1) / px, rgb = s->c == 3;
    /* Groups of whole output blocks stored in NCHW16C or NHWC (the residual alike) are stored by the
       tile itself; the others through blk_store. */
    const size_t plane = (size_t)s->oh * s->ow;
    const int self_store = (p->y_layout == CONV4J_LAYOUT_NCHW16C || p->y_layout == CONV4J_LAYOUT_NHWC)
                           && (!p->residual || p->r_layout == p->y_layout);
    const int whole_groups = s->o / ob; /* groups below this one have all their blocks */
    c.yblock = p->y_layout == CONV4J_LAYOUT_NHWC ? 16 : (long long)plane * 16;
    c.ypix = p->y_layout == CONV4J_LAYOUT_NHWC ? s->o : 16;
    c.clamp = p->clamp; c.lo = p->lo; c.hi = p->hi;
    c.y = NULL; c.bias = NULL; c.res = NULL;
    __m512 acc[56];
    /* with inline packing, each chunk of a group's weights is packed into scratch after the partial
       sums just before its tiles run, and read from cache: per call, the packed weights of a layer
       whose weights outweigh its input never go to memory and back */
    float *wbuf = p->pack_inline ? xp + conv4j_blk_band_rows(s, p->rows) * conv4j_blk_band_cols(s) * cb * 16
                                           + conv4j_blk_partial_floats(s, nb, p->rows)
                                 : NULL;
    if (!partial && !wbuf && (size_t)p->gn * group <= 65536) {
        /* The weights of every group fit 256 KiB: each tile's input is read once, from L1, for all
           the groups (with the groups outermost, a 1x1 layer would stream its input once per group). */
        for (int oh = p->oh0; oh < p->oh0 + p->rows; oh++) {
            const float *xrow = band + (size_t)(oh - p->oh0) * sh * pitch;
            for (int ow = 0; ow < s->ow; ow += px) {
                const int n = s->ow - ow < px ? s->ow - ow : px;
                const blk_tile_fn tile = nb == 4 ? (rgb ? BLK_RGB4 : BLK_NB4)[variant][n - 1]
                                                 : (rgb ? BLK_RGB2 : BLK_NB2)[variant][n - 1];
                for (int g = p->g0; g < p->g0 + p->gn; g++) {
                    blk_tile_ctx(p, &c, self_store && g < whole_groups, g, oh, ow, bias, res, y);
                    tile(&c, xrow + (size_t)ow * sw * pix, wp + (size_t)g * group, NULL, acc);
                    if (!c.y) blk_store(p, acc, nb, n, g * ob, oh, ow, bias, res, y);
                }
            }
        }
        return;
    }
    for (int g = p->g0; g < p->g0 + p->gn; g++) {
        for (int c0 = 0; c0 < cb; c0 += chunk) {
            const int cn = cb - c0 < chunk ? cb - c0 : chunk, last = c0 + cn == cb;
            const float *wc = wp + (size_t)g * group + (size_t)c0 * per_block;
            if (wbuf) {
                if (p->flip) blk_pack_flip_blocks(p, wp, wbuf, g, c0, cn);
                else blk_pack_blocks(p, wp, wbuf, g, c0, cn);
                wc = wbuf;
            }
            for (int oh = p->oh0; oh < p->oh0 + p->rows; oh++) {
                const float *xrow = band + (size_t)(oh - p->oh0) * sh * pitch + (size_t)c0 * c.cstride;
                for (int ow = 0, t = (oh - p->oh0) * tiles_per_row; ow < s->ow; ow += px, t++) {
                    const int n = s->ow - ow < px ? s->ow - ow : px;
                    const float *xb = xrow + (size_t)ow * sw * pix;
                    __m512 *sums = last ? acc : partial + (size_t)t * 56;
                    const __m512 *init = c0 ? partial + (size_t)t * 56 : NULL;
                    const blk_tile_fn tile = nb == 4 ? (rgb ? BLK_RGB4 : BLK_NB4)[variant][n - 1]
                                                     : (rgb ? BLK_RGB2 : BLK_NB2)[variant][n - 1];
                    blk_ctx cc = c;
                    cc.cb = cn;
                    blk_tile_ctx(p, &cc, last && self_store && g < whole_groups, g, oh, ow, bias, res, y);
                    tile(&cc, xb, wc, init, sums);
                    if (last && !cc.y) blk_store(p, acc, nb, n, g * ob, oh, ow, bias, res, y);
                }
            }
        }
    }
}

/* The weight packing of blocked.c. The layer's own weights go sixteen output channels at a time
   through a 16 x 16 transpose of their rows (each read in sequence); the flipped ones of the input
   gradient gather each vector from one row of the layer's weights, a few cache lines. */
/* Channel blocks [b0, b0 + bn) of weight group g into dst (laid out as that part of a packed group). */
static void blk_pack_blocks(const conv4j_blk_params *p, const float *w, float *dst, int g, int b0, int bn) {
    const conv4j_conv_shape *s = &p->s;
    const int ob = p->nb * 16, taps = s->kh * s->kw;
    const size_t part = (size_t)bn * taps * 16 * ob;
    const long long row = (long long)s->c * taps, end = (long long)(b0 + bn) * 16 * taps;
    if (end > row || (long long)(g + 1) * ob > s->o) {
        for (size_t k = 0; k < part; k += 16) _mm512_storeu_ps(dst + k, _mm512_setzero_ps());
    }
    for (int jb = 0; jb < p->nb; jb++) {
        const int o0 = g * ob + jb * 16, on = s->o - o0 < 16 ? s->o - o0 : 16;
        if (on <= 0) break;
        int c = 16 * b0, t = 0; /* of element q + k */
        for (long long q = (long long)b0 * 16 * taps; q < row && q < end; q += 16) {
            const int n = row - q < 16 ? (int)(row - q) : 16;
            const __mmask16 m = conv4j_lanes(n);
            __m512 v[16];
            for (int k = 0; k < 16; k++) {
                /* sixteen rows are read side by side, more streams than the hardware prefetcher follows */
                if (k < on && q + 128 < end) _mm_prefetch((const char *)(w + (size_t)(o0 + k) * row + q + 128), _MM_HINT_T0);
                v[k] = k < on ? _mm512_maskz_loadu_ps(m, w + (size_t)(o0 + k) * row + q) : _mm512_setzero_ps();
            }
            conv4j_transpose16(v);
            for (int k = 0; k < n; k++) {
                _mm512_storeu_ps(dst + (((size_t)((c >> 4) - b0) * taps + t) * 16 + (c & 15)) * ob + jb * 16, v[k]);
                if (++t == taps) {
                    t = 0;
                    c++;
                }
            }
        }
    }
}

/* The flipped weights of channel blocks [b0, b0 + bn) of group g into dst (as blk_pack_blocks). */
static void blk_pack_flip_blocks(const conv4j_blk_params *p, const float *w, float *dst, int g, int b0, int bn) {
    const conv4j_conv_shape *s = &p->s;
    const int ob = p->nb * 16, taps = s->kh * s->kw;
    /* lane j reads the layer's input channel o0 + j of output channel c, a tap apart */
    const __m512i lane = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(taps));
    for (int b = b0; b < b0 + bn; b++)
        for (int t = 0; t < taps; t++)
            for (int i = 0; i < 16; i++) {
                const int c = b * 16 + i;
                for (int jb = 0; jb < p->nb; jb++, dst += 16) {
                    const int o0 = g * ob + jb * 16;
                    const __mmask16 m = c < s->c ? conv4j_lanes(s->o - o0) : 0;
                    if (!m) {
                        _mm512_storeu_ps(dst, _mm512_setzero_ps());
                        continue;
                    }
                    const float *base = w + ((size_t)c * s->o + o0) * taps + (taps - 1 - t);
                    _mm512_storeu_ps(dst, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, lane, base, 4));
                }
            }
}

void conv4j_blk_pack_avx512(const conv4j_blk_params *p, const float *w, float *wp) {
    const conv4j_conv_shape *s = &p->s;
    const int cb = (s->c + 15) / 16;
    const size_t group = (size_t)cb * s->kh * s->kw * 16 * 16 * p->nb;
    for (int g = p->g0; g < p->g0 + p->gn; g++) {
        if (p->flip) blk_pack_flip_blocks(p, w, wp + (size_t)g * group, g, 0, cb);
        else blk_pack_blocks(p, w, wp + (size_t)g * group, g, 0, cb);
    }
}

/*
 * The weight gradient. A unit owns a 16 x 16 block of (output, input) channels and sums over the
 * whole batch, so nothing is reduced across units. Per image it copies its input channel block
 * (padded, as the forward pass does) and its 16 channels of gy as pixel vectors, then for each kernel
 * row and group of `ics` input channels keeps kw x ics accumulators of 16 output channels in
 * registers over every output pixel: one gy vector load feeds kw·ics multiply-adds with the
 * broadcast inputs. The sums are kept between images in a small buffer, in the same order whatever
 * thread runs the unit.
 */

/* Output channel block ob of one image of gy as pixel vectors of 16 channels (in place when gy is NCHW16C). */
static const float *blk_gy_block(const conv4j_blk_params *p, const float *gy, float *dst, int ob) {
    const conv4j_conv_shape *s = &p->s;
    const size_t plane = (size_t)s->oh * s->ow;
    if (p->y_layout == CONV4J_LAYOUT_NCHW16C) return gy + (size_t)ob * plane * 16;
    const int on = s->o - 16 * ob < 16 ? s->o - 16 * ob : 16;
    const __mmask16 om = conv4j_lanes(on);
    if (p->y_layout == CONV4J_LAYOUT_NHWC) {
        for (size_t q = 0; q < plane; q++) _mm512_storeu_ps(dst + 16 * q, _mm512_maskz_loadu_ps(om, gy + q * s->o + 16 * ob));
        return dst;
    }
    for (size_t q = 0; q < plane; q += 16) {
        const int n = plane - q < 16 ? (int)(plane - q) : 16;
        __m512 t[16];
        for (int i = 0; i < 16; i++)
            t[i] = i < on ? _mm512_maskz_loadu_ps(conv4j_lanes(n), gy + (size_t)(16 * ob + i) * plane + q) : _mm512_setzero_ps();
        conv4j_transpose16(t);
        for (int k = 0; k < n; k++) _mm512_storeu_ps(dst + 16 * (q + k), t[k]);
    }
    return dst;
}

/* acc[(ic * ld + k) * 16] += sum over the image's output pixels of x(ic, tap k) * gy: xb at the
   band's first row of this kernel row and at input channel ic0, xrow floats between the band rows
   of consecutive output rows. */
__attribute__((always_inline)) static inline void blk_wsum(const int kw, const int ics, const float *xb, long long xrow,
                                                            const float *dy, int oh, int ow, long long sw16, long long dw16,
                                                            float *acc, long long ld) {
    __m512 a[16][7];
#pragma GCC unroll 16
    for (int i = 0; i < ics; i++)
#pragma GCC unroll 7
        for (int k = 0; k < kw; k++) a[i][k] = _mm512_loadu_ps(acc + (i * ld + k) * 16);
    for (int r = 0; r < oh; r++) {
        const float *xr = xb + r * xrow, *d = dy + (size_t)r * ow * 16;
        for (int q = 0; q < ow; q++, xr += sw16) {
            const __m512 dv = _mm512_loadu_ps(d + 16 * q);
#pragma GCC unroll 16
            for (int i = 0; i < ics; i++)
#pragma GCC unroll 7
                for (int k = 0; k < kw; k++) a[i][k] = _mm512_fmadd_ps(_mm512_set1_ps(xr[k * dw16 + i]), dv, a[i][k]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < ics; i++)
#pragma GCC unroll 7
        for (int k = 0; k < kw; k++) _mm512_storeu_ps(acc + (i * ld + k) * 16, a[i][k]);
}

/* blk_wsum for a kernel one tap wide over two output blocks at once: per pixel two gy vector loads
   and eight broadcasts feed 16 multiply-adds (a block alone takes one load and sixteen broadcasts for
   as many, more loads than a core issues per multiply-add). Each sum takes the same terms in the same
   order as in blk_wsum. */
static void blk_wsum_pair(const float *xb, long long xrow, const float *dy0, const float *dy1, int oh, int ow, long long sw16,
                          float *acc0, float *acc1, long long ld) {
    __m512 a[2][8];
    for (int i = 0; i < 8; i++) {
        a[0][i] = _mm512_loadu_ps(acc0 + i * ld * 16);
        a[1][i] = _mm512_loadu_ps(acc1 + i * ld * 16);
    }
    for (int r = 0; r < oh; r++) {
        const float *xr = xb + r * xrow, *d0 = dy0 + (size_t)r * ow * 16, *d1 = dy1 + (size_t)r * ow * 16;
        for (int q = 0; q < ow; q++, xr += sw16) {
            const __m512 v0 = _mm512_loadu_ps(d0 + 16 * q), v1 = _mm512_loadu_ps(d1 + 16 * q);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                const __m512 xv = _mm512_set1_ps(xr[i]);
                a[0][i] = _mm512_fmadd_ps(xv, v0, a[0][i]);
                a[1][i] = _mm512_fmadd_ps(xv, v1, a[1][i]);
            }
        }
    }
    for (int i = 0; i < 8; i++) {
        _mm512_storeu_ps(acc0 + i * ld * 16, a[0][i]);
        _mm512_storeu_ps(acc1 + i * ld * 16, a[1][i]);
    }
}

typedef void (*blk_wsum_fn)(const float *xb, long long xrow, const float *dy, int oh, int ow, long long sw16, long long dw16,
                            float *acc, long long ld);
#define BLK_WSUM(kw, ics) \
    static void blk_wsum_##kw(const float *xb, long long xrow, const float *dy, int oh, int ow, long long sw16, long long dw16, \
                              float *acc, long long ld) { \
        /* dilation 1 as a constant: every input a pixel reads is then at a constant offset (with a \
           run-time dilation the 24 offsets do not fit the general registers) */ \
        if (dw16 == 16) blk_wsum(kw, ics, xb, xrow, dy, oh, ow, sw16, 16, acc, ld); \
        else blk_wsum(kw, ics, xb, xrow, dy, oh, ow, sw16, dw16, acc, ld); \
    }
BLK_WSUM(1, 16) BLK_WSUM(2, 8) BLK_WSUM(3, 8) BLK_WSUM(4, 4) BLK_WSUM(5, 4) BLK_WSUM(6, 4) BLK_WSUM(7, 4)
/* by kernel width: the function and its input channels per call (at most 28 accumulators) */
static const blk_wsum_fn BLK_WSUMS[7] = {blk_wsum_1, blk_wsum_2, blk_wsum_3, blk_wsum_4, blk_wsum_5, blk_wsum_6, blk_wsum_7};
static const int BLK_WICS[7] = {16, 8, 8, 4, 4, 4, 4};

/* The sums of one (input block cb, output block ob) pair written to gw (acc: a vector of the 16 output
   channels per (ic, tap), in the order of a row of gw: sixteen of them transposed give sixteen rows'
   runs of 16 weights). */
static void blk_weights_store(const conv4j_blk_params *p, const float *acc, float *gw, int cb, int ob) {
    const conv4j_conv_shape *s = &p->s;
    const int taps = s->kh * s->kw;
    const int on = s->o - 16 * ob < 16 ? s->o - 16 * ob : 16, cn = s->c - 16 * cb < 16 ? s->c - 16 * cb : 16;
    const size_t run = (size_t)cn * taps, rowlen = (size_t)s->c * taps;
    float *dst = gw + (size_t)16 * ob * rowlen + (size_t)16 * cb * taps;
    for (size_t q = 0; q < run; q += 16) {
        const __mmask16 m = conv4j_lanes((long long)(run - q));
        __m512 t[16];
        for (int k = 0; k < 16; k++) t[k] = _mm512_loadu_ps(acc + (q + k) * 16); /* past run: sums of padding channels, cut */
        conv4j_transpose16(t);
        for (int j = 0; j < on; j++) {
            float *row = dst + (size_t)j * rowlen + q;
            _mm512_mask_storeu_ps(row, m, p->residual ? _mm512_add_ps(t[j], _mm512_maskz_loadu_ps(m, row)) : t[j]);
        }
    }
}

/* Input channel blocks [p->oh0, p->oh0 + p->rows) by output channel blocks [p->g0, p->g0 + p->gn): per
   image each gy block is made a run of pixel vectors once (in place when gy is NCHW16C) and each input
   block copied once, and each (input, output) pair of blocks sums into its own part of the scratch. */
void conv4j_blk_weights_avx512(const conv4j_blk_params *p, const float *x, const float *gy, float *gw, float *gb,
                               float *scratch) {
    const conv4j_conv_shape *s = &p->s;
    const int taps = s->kh * s->kw, cb0 = p->oh0, cbn = p->rows, ob0 = p->g0, obn = p->gn;
    const long long br = conv4j_blk_band_rows(s, s->oh), pw = conv4j_blk_band_cols(s);
    const size_t plane = (size_t)s->oh * s->ow, accn = (size_t)16 * taps * 16;
    float *xb = scratch, *dyb = xb + br * pw * 16, *acc0 = dyb + obn * plane * 16, *bsum = acc0 + accn * obn * cbn;
    for (size_t k = 0; k < accn * obn * cbn + 16 * (size_t)obn; k += 16) _mm512_storeu_ps(acc0 + k, _mm512_setzero_ps());
    const blk_wsum_fn sum = BLK_WSUMS[s->kw - 1];
    const int ics = BLK_WICS[s->kw - 1], bias = gb && cb0 == 0;
    const long long xrow = (long long)s->sh * pw * 16;
    /* gy block ob of image gyn, made pixel vectors below */
#define BLK_DY(ob) (p->y_layout == CONV4J_LAYOUT_NCHW16C ? gyn + (size_t)(ob) * plane * 16 : dyb + (size_t)((ob) - ob0) * plane * 16)
    for (int n = 0; n < s->n; n++) {
        const float *gyn = gy + (size_t)n * conv4j_image_floats(p->y_layout, s->o, plane);
        for (int ob = ob0; ob < ob0 + obn; ob++) {
            const float *d = blk_gy_block(p, gyn, dyb + (size_t)(ob - ob0) * plane * 16, ob);
            if (bias) {
                __m512 b = _mm512_loadu_ps(bsum + 16 * (ob - ob0));
                for (size_t q = 0; q < plane; q++) b = _mm512_add_ps(b, _mm512_loadu_ps(d + 16 * q));
                _mm512_storeu_ps(bsum + 16 * (ob - ob0), b);
            }
        }
        for (int cb = cb0; cb < cb0 + cbn; cb++) {
            blk_band(p, x + (size_t)n * conv4j_image_floats(p->x_layout, s->c, (size_t)s->h * s->w), xb, 0, s->oh, cb, cb + 1);
            for (int ob = ob0; ob < ob0 + obn;) {
                /* kernels one tap wide take output blocks two at a time (blk_wsum_pair) */
                const int two = s->kw == 1 && ob + 1 < ob0 + obn;
                const float *d0 = BLK_DY(ob), *d1 = two ? BLK_DY(ob + 1) : NULL;
                float *acc = acc0 + ((size_t)(cb - cb0) * obn + (ob - ob0)) * accn;
                for (int r = 0; r < s->kh; r++) {
                    const float *xr = xb + ((size_t)r * s->dh * pw) * 16;
                    if (two) {
                        for (int i0 = 0; i0 < 16; i0 += 8)
                            blk_wsum_pair(xr + i0, xrow, d0, d1, s->oh, s->ow, (long long)s->sw * 16,
                                          acc + ((size_t)i0 * taps + r) * 16, acc + accn + ((size_t)i0 * taps + r) * 16, taps);
                    } else {
                        for (int i0 = 0; i0 < 16; i0 += ics)
                            sum(xr + i0, xrow, d0, s->oh, s->ow, (long long)s->sw * 16, (long long)s->dw * 16,
                                acc + ((size_t)i0 * taps + (size_t)r * s->kw) * 16, taps);
                    }
                }
                ob += 1 + two;
            }
        }
    }
#undef BLK_DY
    for (int cb = cb0; cb < cb0 + cbn; cb++)
        for (int ob = ob0; ob < ob0 + obn; ob++) blk_weights_store(p, acc0 + ((size_t)(cb - cb0) * obn + (ob - ob0)) * accn, gw, cb, ob);
    if (bias) {
        for (int ob = ob0; ob < ob0 + obn; ob++) {
            const __mmask16 om = conv4j_lanes(s->o - 16 * ob);
            __m512 b = _mm512_loadu_ps(bsum + 16 * (ob - ob0));
            if (p->residual) b = _mm512_add_ps(b, _mm512_maskz_loadu_ps(om, gb + 16 * ob));
            _mm512_mask_storeu_ps(gb + 16 * ob, om, b);
        }
    }
}

/*
 * Reorders between layouts, 16 channels by 16 pixels at a time: NCHW to or from either of the others
 * through a 16 x 16 transpose (the NCHW side read or written as 16 channel rows), NHWC to or from
 * NCHW16C a pixel vector at a time.
 */
void conv4j_blk_reorder_avx512(const conv4j_blk_params *p, const float *x, float *y) {
    const conv4j_conv_shape *s = &p->s;
    const size_t plane = (size_t)s->h * s->w;
    const int cb = (s->c + 15) / 16, xl = p->x_layout, yl = p->y_layout;
    const size_t xi = conv4j_image_floats(xl, s->c, plane), yi = conv4j_image_floats(yl, s->c, plane);
    for (int n = 0; n < s->n; n++) {
        const float *xn = x + n * xi;
        float *yn = y + n * yi;
        for (int b = 0; b < cb; b++) {
            const int cn = s->c - 16 * b < 16 ? s->c - 16 * b : 16;
            const __mmask16 cm = conv4j_lanes(cn);
            /* where pixel q's 16 channels of block b are in a pixel-major layout */
            const size_t xblk = xl == CONV4J_LAYOUT_NHWC ? 16 * (size_t)b : (size_t)b * plane * 16;
            const size_t yblk = yl == CONV4J_LAYOUT_NHWC ? 16 * (size_t)b : (size_t)b * plane * 16;
            const size_t xpix = xl == CONV4J_LAYOUT_NHWC ? s->c : 16, ypix = yl == CONV4J_LAYOUT_NHWC ? s->c : 16;
            if (xl != CONV4J_LAYOUT_NCHW && yl != CONV4J_LAYOUT_NCHW) {
                for (size_t q = 0; q < plane; q++) {
                    const __m512 v = _mm512_maskz_loadu_ps(cm, xn + xblk + q * xpix);
                    if (yl == CONV4J_LAYOUT_NCHW16C) _mm512_storeu_ps(yn + yblk + q * 16, v);
                    else _mm512_mask_storeu_ps(yn + yblk + q * ypix, cm, v);
                }
                continue;
            }
            for (size_t q = 0; q < plane; q += 16) {
                const int pn = plane - q < 16 ? (int)(plane - q) : 16;
                const __mmask16 pm = conv4j_lanes(pn);
                __m512 t[16];
                if (xl == CONV4J_LAYOUT_NCHW) {
                    for (int i = 0; i < 16; i++)
                        t[i] = i < cn ? _mm512_maskz_loadu_ps(pm, xn + (size_t)(16 * b + i) * plane + q) : _mm512_setzero_ps();
                    conv4j_transpose16(t);
                    for (int k = 0; k < pn; k++) {
                        if (yl == CONV4J_LAYOUT_NCHW16C) _mm512_storeu_ps(yn + yblk + (q + k) * 16, t[k]);
                        else _mm512_mask_storeu_ps(yn + yblk + (q + k) * ypix, cm, t[k]);
                    }
                } else {
                    for (int k = 0; k < 16; k++)
                        t[k] = k < pn ? _mm512_maskz_loadu_ps(cm, xn + xblk + (q + k) * xpix) : _mm512_setzero_ps();
                    conv4j_transpose16(t);
                    for (int i = 0; i < cn; i++) _mm512_mask_storeu_ps(yn + (size_t)(16 * b + i) * plane + q, pm, t[i]);
                }
            }
        }
    }
}
