/*
 * im2col and col2im for any x86-64 CPU, and the phase-splitting paths the AVX-512 variant shares
 * (im2col.h).
 */
#include "im2col/im2col.h"
#include "im2col/im2col_rows.h"

/* im2col for a column stride sw > 1: each input row a band reads is first split into its sw
   phases (columns f, f + sw, f + 2sw, ...), once per kernel row, so every kernel column then
   copies a contiguous run instead of gathering every sw-th value (1.8x faster on ResNet-50's 7x7
   stride-2 conv1, 1.1x on its 3x3 stride-2 layer). Worth it when the kernel is wider than the
   stride, so that each phase is read more than once; needs conv4j_phases_fit. */
void conv4j_im2col_phases(const conv4j_columns *s, const conv4j_col_ranges *cr, float *__restrict col) {
    float phase[CONV4J_PHASE_MAX];
    const int h = s->h, w = s->w, kh = s->kh, kw = s->kw, sw = s->sw, ow = s->ow, rows = s->rows;
    const int pn = (w + sw - 1) / sw;
    const size_t plane = (size_t)rows * ow;
    for (int c = 0; c < s->cn; c++) {
        const float *xc = s->x + (size_t)c * h * w;
        for (int p = 0; p < kh; p++) {
            float *colp = col + (size_t)(c * kh + p) * kw * plane;
            for (int r = 0; r < rows; r++) {
                const long long ih = (long long)(s->oh0 + r) * s->sh - s->pt + (long long)p * s->dh;
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
                    int iw0 = q * s->dw - s->pl, lo, hi;
                    conv4j_col_range(s, cr, q, &lo, &hi);
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

static void conv4j_im2col_any(const conv4j_columns *s, float *col) {
    conv4j_col_ranges cr;
    conv4j_col_ranges_init(s, &cr);
    if (s->sw > 1 && s->kw > s->sw && conv4j_phases_fit(s)) {
        conv4j_im2col_phases(s, &cr, col);
    } else {
        conv4j_im2col_rows(s, &cr, col, NULL);
    }
}

/* col2im for a column stride sw > 1 (the adjoint of conv4j_im2col_phases): the entries of one input
   row from every kernel column are first summed into its sw phases with contiguous adds, then the
   phases are added back onto the row with one strided pass, instead of kw strided scatters.
   Clearing and adding back the phases costs about two scatters, so it pays when the kernel is more
   than twice as wide as the stride (1.3x on ResNet-50's conv1; 3x3 stride 2 lost). */
void conv4j_col2im_phases(const conv4j_columns *s, const conv4j_col_ranges *cr, const float *__restrict col,
                          float *__restrict x) {
    float phase[CONV4J_PHASE_MAX];
    const int h = s->h, w = s->w, kh = s->kh, kw = s->kw, sw = s->sw, ow = s->ow, rows = s->rows;
    const int pn = (w + sw - 1) / sw;
    const size_t plane = (size_t)rows * ow;
    for (int c = 0; c < s->cn; c++) {
        float *xc = x + (size_t)c * h * w;
        for (int p = 0; p < kh; p++) {
            const float *colp = col + (size_t)(c * kh + p) * kw * plane;
            for (int r = 0; r < rows; r++) {
                const long long ih = (long long)(s->oh0 + r) * s->sh - s->pt + (long long)p * s->dh;
                if (ih < 0 || ih >= h) continue;
                for (int k = 0; k < sw * pn; k++) phase[k] = 0.f;
                for (int q = 0; q < kw; q++) {
                    int iw0 = q * s->dw - s->pl, lo, hi;
                    conv4j_col_range(s, cr, q, &lo, &hi);
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

static void conv4j_col2im_any(const conv4j_columns *s, const float *col, float *x) {
    conv4j_col_ranges cr;
    conv4j_col_ranges_init(s, &cr);
    if (s->sw > 1 && s->kw > 2LL * s->sw && conv4j_phases_fit(s)) {
        conv4j_col2im_phases(s, &cr, col, x);
    } else {
        conv4j_col2im_rows(s, &cr, col, x, NULL);
    }
}

const conv4j_im2col_ops conv4j_im2col_generic = {"generic", conv4j_im2col_any, conv4j_col2im_any};
