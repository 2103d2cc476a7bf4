/*
 * im2col and col2im on AVX-512: rows of column stride 1 and 2 as masked vector loads and permutes
 * (short rows: 1.5x on ResNet-50's 7x7 planes; stride 2: 1.25x and 1.3x on its 3x3 stride-2 layer),
 * and col2im of stride-2 rows of kernels wider than 4 summed by phase in registers (about 2x).
 * Other strides take the generic loops (im2col_generic.c).
 */
#include "common/conv4j_avx512.h"
#include "im2col/im2col.h"
#include "im2col/im2col_rows.h"

/* GCC's permute intrinsics start from an "undefined" vector, which it may report as uninitialized */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

/* One row of the column matrix for column stride 1: dst[j] = src[j + iw0] for j in [lo, hi), 0
   elsewhere in [0, ow), src being an input row. One masked load and store per 16 outputs, where the
   baseline build's loops spend most of a short row (7 or 14 columns) in scalar prologues and tails;
   the lanes masked off (outside the row) are never read. */
static void conv4j_stride1_row(float *dst, const float *src, int w, int iw0, int lo, int hi, int ow) {
    for (int j = 0; j < ow; j += 16) {
        __mmask16 in = conv4j_lanes(hi - j) & (__mmask16)~conv4j_lanes(lo - j);
        _mm512_mask_storeu_ps(dst + j, conv4j_lanes(ow - j), _mm512_maskz_loadu_ps(in, src + ((long long)j + iw0)));
    }
}

/* The adjoint of conv4j_stride1_row: row[j + iw0] += col[j] for j in [lo, hi). */
static void conv4j_stride1_add_row(float *row, int iw0, const float *col, int lo, int hi) {
    for (int j = lo; j < hi; j += 16) {
        __mmask16 m = conv4j_lanes(hi - j);
        float *at = row + ((long long)j + iw0);
        _mm512_mask_storeu_ps(at, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, at), _mm512_maskz_loadu_ps(m, col + j)));
    }
}

void conv4j_stride2_row(float *dst, const float *src, int w, int iw0, int lo, int hi, int ow) {
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

/* On AVX-512, stride 2 gathers with permutes, where a kernel up to 5 wide reads each phase too few
   times to pay for splitting it (ResNet-50's 3x3 stride-2 layer: 1.25x faster this way; its 7x7
   conv1 is 1.35x faster with phases). */
static void conv4j_im2col_avx512_any(const conv4j_columns *s, float *col) {
    conv4j_col_ranges cr;
    conv4j_col_ranges_init(s, &cr);
    const int stride2 = s->sw == 2 && s->kw <= 5;
    if (s->sw > 1 && s->kw > s->sw && !stride2 && conv4j_phases_fit(s)) {
        conv4j_im2col_phases(s, &cr, col);
        return;
    }
    /* one inlined loop per row kind: the rows are not calls */
    if (s->sw == 1) {
        conv4j_im2col_rows(s, &cr, col, conv4j_stride1_row);
    } else if (stride2) {
        conv4j_im2col_rows(s, &cr, col, conv4j_stride2_row);
    } else {
        conv4j_im2col_rows(s, &cr, col, NULL);
    }
}

/* the bits of m spread to the even bits of a 32-bit mask */
static inline unsigned conv4j_spread_bits(unsigned m) {
    m = (m | (m << 8)) & 0x00FF00FFu;
    m = (m | (m << 4)) & 0x0F0F0F0Fu;
    m = (m | (m << 2)) & 0x33333333u;
    return (m | (m << 1)) & 0x55555555u;
}

/* Where each kernel column of a stride-2 col2im lands: kernel column q writes input column
   2j + e = 2(j + a) + f for the output columns j in [lo, hi): phase f, index m = j + a. Listed by
   phase, so the sums need no branch. */
typedef struct {
    int order[2][CONV4J_QCACHE], count[2];
    long long shift[CONV4J_QCACHE], from[CONV4J_QCACHE], to[CONV4J_QCACHE];
} conv4j_stride2_taps;

static void conv4j_stride2_taps_init(const conv4j_columns *s, conv4j_stride2_taps *t) {
    t->count[0] = t->count[1] = 0;
    for (int q = 0; q < s->kw; q++) {
        long long e = (long long)q * s->dw - s->pl, f = e & 1, a = (e - f) / 2;
        int lo, hi;
        conv4j_valid_cols((int)e, 2, s->w, s->ow, &lo, &hi);
        t->shift[q] = a;
        t->from[q] = lo + a;
        t->to[q] = hi + a;
        t->order[f][t->count[f]++] = q;
    }
}

/* Adds the entries of one output row of the column matrix (colr; kernel columns plane floats
   apart) onto input row dst of w floats: its even and odd columns, each the sum of the kernel
   columns that land on it (contiguous masked loads), interleaved and added in one pass. Only
   positions that receive a value are written. */
static void conv4j_stride2_add_taps(const conv4j_stride2_taps *t, const float *colr, size_t plane, float *dst, int w) {
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const long long half = ((long long)w + 1) / 2; /* even columns; odd ones: w / 2 */
    for (long long m0 = 0; m0 < half; m0 += 16) {
        __m512 sum[2];
        __mmask16 in[2];
        for (int f = 0; f < 2; f++) {
            __m512 acc = _mm512_setzero_ps();
            __mmask16 any = 0;
            for (int i = 0; i < t->count[f]; i++) {
                int q = t->order[f][i];
                __mmask16 m = conv4j_lanes(t->to[q] - m0) & (__mmask16)~conv4j_lanes(t->from[q] - m0);
                acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, colr + q * plane + (m0 - t->shift[q])));
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

/* col2im for column stride 2 and kernels wider than 4 (up to CONV4J_QCACHE): each input row a band
   writes to is built as its even and odd columns (conv4j_stride2_add_taps): one read and write of
   the row per kernel row and output row, rather than one per kernel column (7x7 and 5x5 kernels:
   about 2x faster than phases on the stack; a 3x3 kernel's three scatters were as fast). */
static void conv4j_col2im_stride2(const conv4j_columns *s, const float *__restrict col, float *__restrict x) {
    conv4j_stride2_taps t;
    conv4j_stride2_taps_init(s, &t);
    const size_t plane = (size_t)s->rows * s->ow;
    for (int c = 0; c < s->cn; c++) {
        float *xc = x + (size_t)c * s->h * s->w;
        for (int p = 0; p < s->kh; p++) {
            const float *colp = col + (size_t)(c * s->kh + p) * s->kw * plane;
            for (int r = 0; r < s->rows; r++) {
                const long long ih = (long long)(s->oh0 + r) * s->sh - s->pt + (long long)p * s->dh;
                if (ih < 0 || ih >= s->h) continue;
                conv4j_stride2_add_taps(&t, colp + (size_t)r * s->ow, plane, xc + (size_t)ih * s->w, s->w);
            }
        }
    }
}

static void conv4j_col2im_avx512_any(const conv4j_columns *s, const float *col, float *x) {
    if (s->sw == 2 && s->kw > 2LL * s->sw && s->kw <= CONV4J_QCACHE) {
        conv4j_col2im_stride2(s, col, x);
        return;
    }
    conv4j_col_ranges cr;
    conv4j_col_ranges_init(s, &cr);
    if (s->sw > 1 && s->kw > 2LL * s->sw && conv4j_phases_fit(s)) {
        conv4j_col2im_phases(s, &cr, col, x);
        return;
    }
    /* stride 2: 1.2x on ResNet-50's 3x3 stride-2 layer */
    if (s->sw == 1) {
        conv4j_col2im_rows(s, &cr, col, x, conv4j_stride1_add_row);
    } else if (s->sw == 2) {
        conv4j_col2im_rows(s, &cr, col, x, conv4j_stride2_add_row);
    } else {
        conv4j_col2im_rows(s, &cr, col, x, NULL);
    }
}

const conv4j_im2col_ops conv4j_im2col_avx512 = {"avx512", conv4j_im2col_avx512_any, conv4j_col2im_avx512_any};
