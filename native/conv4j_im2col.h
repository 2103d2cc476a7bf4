/*
 * im2col / col2im for one image of an NCHW float32 tensor, in the style of Caffe's im2col_cpu,
 * for any stride, asymmetric padding and dilation, over a band of output rows.
 *
 * The column matrix of channels [0, cn) and output rows [oh0, oh0 + rows) has
 * cn*kh*kw rows and rows*ow columns:
 *     col[(c*kh + p)*kw + q][r*ow + j] = x[c][(oh0+r)*sh - pt + p*dh][j*sw - pl + q*dw]
 * with zeros where the index falls in the padding. Every index is computed from the sizes the
 * caller passes; the Java side checks those against the tensors before calling.
 */
#ifndef CONV4J_IM2COL_H
#define CONV4J_IM2COL_H

#include <stddef.h>
#include <string.h>
#include "conv4j_dispatch.h"

/* The output columns j in [*lo, *hi) whose input column j*sw + iw0 lies inside [0, w):
   splitting the row this way leaves the inner loops without bounds tests, so they vectorize. */
static inline void conv4j_valid_cols(int iw0, int sw, int w, int ow, int *lo, int *hi) {
    /* 64-bit: with a huge padding and a huge stride, -iw0 + sw would wrap around in 32 bits */
    long long a, b, x0 = iw0;
    if (sw == 1) {  /* no division: this runs once per kernel column of every call */
        a = x0 >= 0 ? 0 : -x0;
        b = (long long)w - x0;
    } else {
        a = x0 >= 0 ? 0 : (-x0 + sw - 1) / sw;
        b = x0 > w - 1 ? 0 : ((long long)w - 1 - x0) / sw + 1;
    }
    if (a > ow) a = ow;
    if (b > ow) b = ow;
    if (b < a) b = a;
    *lo = (int)a;
    *hi = (int)b;
}

/* The valid output columns of each of the first (up to) 32 kernel columns, computed once per call
   rather than per channel and kernel row; wider kernels compute the rest as they go. */
#define CONV4J_QCACHE 32
static inline void conv4j_col_ranges(int kw, int dw, int pl, int sw, int w, int ow, int *lo, int *hi) {
    for (int q = 0; q < kw && q < CONV4J_QCACHE; q++) conv4j_valid_cols(q * dw - pl, sw, w, ow, &lo[q], &hi[q]);
}

static inline void conv4j_col_range(int q, int dw, int pl, int sw, int w, int ow, const int *los, const int *his,
                                    int *lo, int *hi) {
    if (q < CONV4J_QCACHE) {
        *lo = los[q];
        *hi = his[q];
    } else {
        conv4j_valid_cols(q * dw - pl, sw, w, ow, lo, hi);
    }
}

#ifdef CONV4J_AVX512
/* GCC's permute intrinsics start from an "undefined" vector, which g++ reports as uninitialized */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
/* One row of the column matrix for column stride 1: dst[j] = src[j + iw0] for j in [lo, hi), 0
   elsewhere in [0, ow), src being an input row. One masked load and store per 16 outputs, where the
   baseline build's loops spend most of a short row (7 or 14 columns) in scalar prologues and tails;
   the lanes masked off (outside the row) are never read. */
CONV4J_AVX512
static void conv4j_stride1_row(float *dst, const float *src, int iw0, int lo, int hi, int ow) {
    for (int j = 0; j < ow; j += 16) {
        __mmask16 in = conv4j_lanes(hi - j) & (__mmask16)~conv4j_lanes(lo - j);
        _mm512_mask_storeu_ps(dst + j, conv4j_lanes(ow - j), _mm512_maskz_loadu_ps(in, src + ((long long)j + iw0)));
    }
}

/* The adjoint of conv4j_stride1_row: row[j + iw0] += col[j] for j in [lo, hi). */
CONV4J_AVX512
static void conv4j_stride1_add_row(float *row, int iw0, const float *col, int lo, int hi) {
    for (int j = lo; j < hi; j += 16) {
        __mmask16 m = conv4j_lanes(hi - j);
        float *at = row + ((long long)j + iw0);
        _mm512_mask_storeu_ps(at, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, at), _mm512_maskz_loadu_ps(m, col + j)));
    }
}

/* One row of the column matrix for column stride 2: dst[j] = src[2j + iw0] for j in [lo, hi),
   0 elsewhere in [0, ow), src being an input row of w floats. Two loads and a permute give 16
   outputs; the lanes masked off (outside the row) are never read. */
CONV4J_AVX512
static void conv4j_stride2_row(float *dst, const float *src, int w, int iw0, int lo, int hi, int ow) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int j = 0; j < ow; j += 16) {
        long long e = 2LL * j + iw0; /* input column of lane 0 */
        __mmask16 in0 = conv4j_lanes(w - e) & (__mmask16)~conv4j_lanes(-e);
        __mmask16 in1 = conv4j_lanes(w - e - 16) & (__mmask16)~conv4j_lanes(-e - 16);
        __mmask16 out = conv4j_lanes(hi - j) & (__mmask16)~conv4j_lanes(lo - j);
        __m512 a = _mm512_maskz_loadu_ps(in0, src + e), b = _mm512_maskz_loadu_ps(in1, src + e + 16);
        _mm512_mask_storeu_ps(dst + j, conv4j_lanes(ow - j), _mm512_maskz_permutex2var_ps(out, a, even, b));
    }
}

/* The adjoint of conv4j_stride2_row: row[2j + iw0] += col[j] for j in [lo, hi). Only the lanes it
   adds to are read and written. */
CONV4J_AVX512
static void conv4j_stride2_add_row(float *row, int iw0, const float *col, int lo, int hi) {
    const __m512i first = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
    for (int j = lo; j < hi; j += 16) {
        int n = hi - j < 16 ? hi - j : 16;
        /* the even lanes of the 2n positions written */
        __mmask16 m0 = (__mmask16)(0x5555u & conv4j_lanes(2 * n)), m1 = (__mmask16)(0x5555u & conv4j_lanes(2 * n - 16));
        __m512 v = _mm512_maskz_loadu_ps(conv4j_lanes(n), col + j);
        float *at = row + 2LL * j + iw0;
        _mm512_mask_storeu_ps(at, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, at), _mm512_permutexvar_ps(first, v)));
        _mm512_mask_storeu_ps(at + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, at + 16), _mm512_permutexvar_ps(second, v)));
    }
}
#pragma GCC diagnostic pop
#endif

/* Input rows up to this many floats are split into phases on the stack. */
#define CONV4J_PHASE_MAX 4096

/* im2col for a column stride sw > 1: each input row a band reads is first split into its sw
   phases (columns f, f + sw, f + 2sw, ...), once per kernel row, so every kernel column then
   copies a contiguous run instead of gathering every sw-th value (1.8x faster on ResNet-50's 7x7
   stride-2 conv1, 1.1x on its 3x3 stride-2 layer). Worth it when the kernel is wider than the stride, so that each phase is
   read more than once; needs sw * ceil(w / sw) <= CONV4J_PHASE_MAX. */
static inline void conv4j_im2col_phases(const float *__restrict x, int cn, int h, int w, int kh, int kw,
                                        int pt, int pl, int sh, int sw, int dh, int dw,
                                        int oh0, int rows, int ow, float *__restrict col,
                                        const int *los, const int *his) {
    float phase[CONV4J_PHASE_MAX];
    const int pn = (w + sw - 1) / sw;
    const size_t plane = (size_t)rows * ow;
    for (int c = 0; c < cn; c++) {
        const float *xc = x + (size_t)c * h * w;
        for (int p = 0; p < kh; p++) {
            float *colp = col + (size_t)(c * kh + p) * kw * plane;
            for (int r = 0; r < rows; r++) {
                const long long ih = (long long)(oh0 + r) * sh - pt + (long long)p * dh;
                if (ih < 0 || ih >= h) {
                    for (int q = 0; q < kw; q++) memset(colp + q * plane + (size_t)r * ow, 0, sizeof(float) * (size_t)ow);
                    continue;
                }
                const float *src = xc + (size_t)ih * w;
                for (int f = 0; f < sw && f < w; f++) {
                    float *ph = phase + (size_t)f * pn;
                    const int n = (w - f + sw - 1) / sw;
                    for (int k = 0; k < n; k++) ph[k] = src[(size_t)k * sw + f];
                }
                for (int q = 0; q < kw; q++) {
                    int iw0 = q * dw - pl, lo, hi;
                    conv4j_col_range(q, dw, pl, sw, w, ow, los, his, &lo, &hi);
                    const int f = ((iw0 % sw) + sw) % sw;
                    /* output column j reads input column j*sw + iw0 = (j + off)*sw + f */
                    const float *ph = phase + (size_t)f * pn + (iw0 - f) / sw;
                    float *__restrict dst = colp + q * plane + (size_t)r * ow;
                    for (int j = 0; j < lo; j++) dst[j] = 0.f;
                    for (int j = lo; j < hi; j++) dst[j] = ph[j];
                    for (int j = hi; j < ow; j++) dst[j] = 0.f;
                }
            }
        }
    }
}

static inline void conv4j_im2col(const float *__restrict x, int cn, int h, int w, int kh, int kw,
                                 int pt, int pl, int sh, int sw, int dh, int dw,
                                 int oh0, int rows, int ow, float *__restrict col) {
    int los[CONV4J_QCACHE], his[CONV4J_QCACHE];
    conv4j_col_ranges(kw, dw, pl, sw, w, ow, los, his);
    /* On AVX-512, stride 2 gathers with permutes, where a kernel up to 5 wide reads each phase too
       few times to pay for splitting it (ResNet-50's 3x3 stride-2 layer: 1.25x faster this way;
       its 7x7 conv1 is 1.35x faster with phases). */
    const int avx512 = conv4j_has_avx512(), stride1 = sw == 1 && avx512, stride2 = sw == 2 && kw <= 5 && avx512;
    if (sw > 1 && kw > sw && !stride2 && (long long)sw * ((w + (long long)sw - 1) / sw) <= CONV4J_PHASE_MAX) {
        conv4j_im2col_phases(x, cn, h, w, kh, kw, pt, pl, sh, sw, dh, dw, oh0, rows, ow, col, los, his);
        return;
    }
    for (int c = 0; c < cn; c++) {
        const float *xc = x + (size_t)c * h * w;
        for (int p = 0; p < kh; p++) {
            for (int q = 0; q < kw; q++) {
                int iw0 = q * dw - pl, lo, hi;
                conv4j_col_range(q, dw, pl, sw, w, ow, los, his, &lo, &hi);
                /* the rows [r0, r1) whose input row lies inside the image; the others are padding */
                int r0, r1;
                conv4j_valid_cols(p * dh - pt + oh0 * sh, sh, h, rows, &r0, &r1);
                memset(col, 0, sizeof(float) * (size_t)r0 * ow);
                const float *__restrict src = r1 > r0 ? xc + (size_t)((oh0 + r0) * sh - pt + p * dh) * w + iw0 : xc;
                if (r1 <= r0) {
                    /* every row is padding: zeroed above and below */
                } else if (sw == 1 && sh == 1 && lo == 0 && hi == ow && ow == w) {
                    /* whole rows, consecutive in the image and in the column matrix: one copy */
                    memcpy(col + (size_t)r0 * ow, src, sizeof(float) * (size_t)(r1 - r0) * ow);
                } else {
                    for (int r = r0; r < r1; r++, src += (size_t)sh * w) {
                        float *__restrict dst = col + (size_t)r * ow;
#ifdef CONV4J_AVX512
                        if (stride1) {
                            conv4j_stride1_row(dst, src - iw0, iw0, lo, hi, ow);
                            continue;
                        }
                        if (stride2) {
                            conv4j_stride2_row(dst, src - iw0, w, iw0, lo, hi, ow);
                            continue;
                        }
#endif
                        for (int j = 0; j < lo; j++) dst[j] = 0.f;
                        if (sw == 1) {
                            for (int j = lo; j < hi; j++) dst[j] = src[j];
                        } else {
                            for (int j = lo; j < hi; j++) dst[j] = src[(size_t)j * sw];
                        }
                        for (int j = hi; j < ow; j++) dst[j] = 0.f;
                    }
                }
                memset(col + (size_t)r1 * ow, 0, sizeof(float) * (size_t)(rows - r1) * ow);
                col += (size_t)rows * ow;
            }
        }
    }
}

/* col2im for a column stride sw > 1 (the adjoint of conv4j_im2col_phases): the entries of one
   input row from every kernel column are first summed into its sw phases with contiguous adds,
   then the phases are added back onto the row with one strided pass, instead of kw strided
   scatters. Clearing and adding back the phases costs about two scatters, so it pays when the
   kernel is more than twice as wide as the stride (1.3x on ResNet-50's conv1; 3x3 stride 2 lost). */
static inline void conv4j_col2im_phases(const float *__restrict col, int cn, int h, int w, int kh, int kw,
                                        int pt, int pl, int sh, int sw, int dh, int dw,
                                        int oh0, int rows, int ow, float *__restrict x,
                                        const int *los, const int *his) {
    float phase[CONV4J_PHASE_MAX];
    const int pn = (w + sw - 1) / sw;
    const size_t plane = (size_t)rows * ow;
    for (int c = 0; c < cn; c++) {
        float *xc = x + (size_t)c * h * w;
        for (int p = 0; p < kh; p++) {
            const float *colp = col + (size_t)(c * kh + p) * kw * plane;
            for (int r = 0; r < rows; r++) {
                const long long ih = (long long)(oh0 + r) * sh - pt + (long long)p * dh;
                if (ih < 0 || ih >= h) continue;
                for (int k = 0; k < sw * pn; k++) phase[k] = 0.f;
                for (int q = 0; q < kw; q++) {
                    int iw0 = q * dw - pl, lo, hi;
                    conv4j_col_range(q, dw, pl, sw, w, ow, los, his, &lo, &hi);
                    const int f = ((iw0 % sw) + sw) % sw;
                    float *ph = phase + (size_t)f * pn + (iw0 - f) / sw;
                    const float *src = colp + q * plane + (size_t)r * ow;
                    for (int j = lo; j < hi; j++) ph[j] += src[j];
                }
                float *dst = xc + (size_t)ih * w;
                for (int f = 0; f < sw && f < w; f++) {
                    const float *ph = phase + (size_t)f * pn;
                    const int n = (w - f + sw - 1) / sw;
                    for (int k = 0; k < n; k++) dst[(size_t)k * sw + f] += ph[k];
                }
            }
        }
    }
}

#ifdef CONV4J_AVX512
/* the bits of m spread to the even bits of a 32-bit mask */
static inline unsigned conv4j_spread_bits(unsigned m) {
    m = (m | (m << 8)) & 0x00FF00FFu;
    m = (m | (m << 4)) & 0x0F0F0F0Fu;
    m = (m | (m << 2)) & 0x33333333u;
    return (m | (m << 1)) & 0x55555555u;
}

/* col2im for column stride 2 on AVX-512, for kernels wider than 4: each input row a band writes to
   is built as its even and odd columns, each the sum of the kernel columns that land on it
   (contiguous masked loads from the column matrix), then interleaved and added onto the row in one
   pass: one read and write of the row per kernel row and output row, rather than one per kernel
   column (7x7 and 5x5 kernels: about 2x faster than phases on the stack; a 3x3 kernel's three
   scatters were as fast). Only positions that receive a value are written, as in the other paths. */
CONV4J_AVX512
static void conv4j_col2im_stride2(const float *__restrict col, int cn, int h, int w, int kh, int kw,
                                  int pt, int pl, int sh, int dh, int dw, int oh0, int rows, int ow, float *__restrict x) {
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const size_t plane = (size_t)rows * ow;
    const long long half = ((long long)w + 1) / 2; /* even columns; odd ones: w / 2 */
    /* kernel column q writes input column 2j + e = 2(j + a) + f for the output columns j in [lo, hi):
       phase f, index m = j + a. Listed by phase, so the sums below need no branch. */
    int order[2][CONV4J_QCACHE], count[2] = {0, 0};
    long long shift[CONV4J_QCACHE], from[CONV4J_QCACHE], to[CONV4J_QCACHE];
    for (int q = 0; q < kw; q++) {
        long long e = (long long)q * dw - pl, f = e & 1, a = (e - f) / 2;
        int lo, hi;
        conv4j_valid_cols((int)e, 2, w, ow, &lo, &hi);
        shift[q] = a;
        from[q] = lo + a;
        to[q] = hi + a;
        order[f][count[f]++] = q;
    }
    for (int c = 0; c < cn; c++) {
        float *xc = x + (size_t)c * h * w;
        for (int p = 0; p < kh; p++) {
            const float *colp = col + (size_t)(c * kh + p) * kw * plane;
            for (int r = 0; r < rows; r++) {
                const long long ih = (long long)(oh0 + r) * sh - pt + (long long)p * dh;
                if (ih < 0 || ih >= h) continue;
                float *dst = xc + (size_t)ih * w;
                const float *colr = colp + (size_t)r * ow;
                for (long long m0 = 0; m0 < half; m0 += 16) {
                    __m512 sum[2];
                    __mmask16 in[2];
                    for (int f = 0; f < 2; f++) {
                        __m512 acc = _mm512_setzero_ps();
                        __mmask16 any = 0;
                        for (int i = 0; i < count[f]; i++) {
                            int q = order[f][i];
                            __mmask16 m = conv4j_lanes(to[q] - m0) & (__mmask16)~conv4j_lanes(from[q] - m0);
                            acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, colr + q * plane + (m0 - shift[q])));
                            any |= m;
                        }
                        sum[f] = acc;
                        in[f] = any;
                    }
                    unsigned touched = conv4j_spread_bits(in[0]) | (conv4j_spread_bits(in[1]) << 1);
                    __mmask16 t0 = (__mmask16)touched, t1 = (__mmask16)(touched >> 16);
                    float *at = dst + 2 * m0;
                    _mm512_mask_storeu_ps(at, t0, _mm512_add_ps(_mm512_maskz_loadu_ps(t0, at), _mm512_permutex2var_ps(sum[0], first, sum[1])));
                    _mm512_mask_storeu_ps(at + 16, t1, _mm512_add_ps(_mm512_maskz_loadu_ps(t1, at + 16), _mm512_permutex2var_ps(sum[0], second, sum[1])));
                }
            }
        }
    }
}
#endif

/* The adjoint of conv4j_im2col: adds every column entry back onto the input position it was
   read from (padding entries are dropped). x is not cleared first. */
static inline void conv4j_col2im(const float *__restrict col, int cn, int h, int w, int kh, int kw,
                                 int pt, int pl, int sh, int sw, int dh, int dw,
                                 int oh0, int rows, int ow, float *__restrict x) {
    int los[CONV4J_QCACHE], his[CONV4J_QCACHE];
    conv4j_col_ranges(kw, dw, pl, sw, w, ow, los, his);
#ifdef CONV4J_AVX512
    if (sw == 2 && kw > 2 * sw && kw <= CONV4J_QCACHE && conv4j_has_avx512()) {
        conv4j_col2im_stride2(col, cn, h, w, kh, kw, pt, pl, sh, dh, dw, oh0, rows, ow, x);
        return;
    }
#endif
    if (sw > 1 && kw > 2 * sw && (long long)sw * ((w + (long long)sw - 1) / sw) <= CONV4J_PHASE_MAX) {
        conv4j_col2im_phases(col, cn, h, w, kh, kw, pt, pl, sh, sw, dh, dw, oh0, rows, ow, x, los, his);
        return;
    }
    const int avx512 = conv4j_has_avx512(), stride1 = sw == 1 && avx512;
    const int stride2 = sw == 2 && avx512; /* 1.2x on ResNet-50's 3x3 stride-2 layer */
    for (int c = 0; c < cn; c++) {
        float *xc = x + (size_t)c * h * w;
        for (int p = 0; p < kh; p++) {
            for (int q = 0; q < kw; q++) {
                int iw0 = q * dw - pl, lo, hi;
                conv4j_col_range(q, dw, pl, sw, w, ow, los, his, &lo, &hi);
                for (int r = 0; r < rows; r++, col += ow) {
                    int ih = (oh0 + r) * sh - pt + p * dh;
                    if ((unsigned)ih >= (unsigned)h) continue;
#ifdef CONV4J_AVX512
                    if (stride1) {
                        conv4j_stride1_add_row(xc + (size_t)ih * w, iw0, col, lo, hi);
                        continue;
                    }
                    if (stride2) {
                        conv4j_stride2_add_row(xc + (size_t)ih * w, iw0, col, lo, hi);
                        continue;
                    }
#endif
                    float *__restrict dst = xc + (size_t)ih * w + iw0;
                    if (sw == 1) {
                        for (int j = lo; j < hi; j++) dst[j] += col[j];
                    } else {
                        for (int j = lo; j < hi; j++) dst[(size_t)j * sw] += col[j];
                    }
                }
            }
        }
    }
}

#endif
