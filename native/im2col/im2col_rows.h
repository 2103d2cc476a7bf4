/*
 * The row-by-row loops of im2col and col2im, included by both variants: each passes its own rows for
 * column strides 1 and 2 (null: plain loops), known where the loop is inlined, so a row is not a call
 * through a pointer (small layers do hundreds of rows per call).
 */
#ifndef CONV4J_IM2COL_ROWS_H
#define CONV4J_IM2COL_ROWS_H

#include "im2col/im2col.h"

/* One row of the column matrix: dst[j] = src[j*sw + iw0] for j in [lo, hi), 0 elsewhere in [0, ow). */
static inline void conv4j_copy_row(float *__restrict dst, const float *__restrict src, int sw, int lo, int hi, int ow) {
    for (int j = 0; j < lo; j++) dst[j] = 0.f;
    if (sw == 1) {
        for (int j = lo; j < hi; j++) dst[j] = src[j];
    } else {
        for (int j = lo; j < hi; j++) dst[j] = src[(size_t)j * sw];
    }
    for (int j = hi; j < ow; j++) dst[j] = 0.f;
}

/* im2col row by row; row, when given, copies the rows (of column stride 1 or 2, which the variant
   chose it for). Inlined where it is called with its row function, so that the rows are not calls. */
__attribute__((always_inline)) static inline void conv4j_im2col_rows(const conv4j_columns *s, const conv4j_col_ranges *cr,
                                                                 float *__restrict col, conv4j_copy_row_fn row) {
    const int h = s->h, w = s->w, sh = s->sh, sw = s->sw, ow = s->ow, rows = s->rows;
    for (int c = 0; c < s->cn; c++) {
        const float *xc = s->x + (size_t)c * h * w;
        for (int p = 0; p < s->kh; p++) {
            /* the rows [r0, r1) whose input row lies inside the image; the others are padding */
            int r0, r1;
            conv4j_valid_cols(p * s->dh - s->pt + s->oh0 * sh, sh, h, rows, &r0, &r1);
            for (int q = 0; q < s->kw; q++, col += (size_t)rows * ow) {
                int iw0 = q * s->dw - s->pl, lo, hi;
                conv4j_col_range(s, cr, q, &lo, &hi);
                memset(col, 0, sizeof(float) * (size_t)r0 * ow);
                memset(col + (size_t)r1 * ow, 0, sizeof(float) * (size_t)(rows - r1) * ow);
                if (r1 <= r0) continue; /* every row is padding */
                const float *__restrict src = xc + (size_t)((s->oh0 + r0) * sh - s->pt + p * s->dh) * w + iw0;
                if (sw == 1 && sh == 1 && lo == 0 && hi == ow && ow == w) {
                    /* whole rows, consecutive in the image and in the column matrix: one copy */
                    memcpy(col + (size_t)r0 * ow, src, sizeof(float) * (size_t)(r1 - r0) * ow);
                    continue;
                }
                for (int r = r0; r < r1; r++, src += (size_t)sh * w) {
                    if (row) {
                        row(col + (size_t)r * ow, src - iw0, w, iw0, lo, hi, ow);
                    } else {
                        conv4j_copy_row(col + (size_t)r * ow, src, sw, lo, hi, ow);
                    }
                }
            }
        }
    }
}

/* col2im row by row; row, when given, adds the rows (of column stride 1 or 2). */
__attribute__((always_inline)) static inline void conv4j_col2im_rows(const conv4j_columns *s, const conv4j_col_ranges *cr,
                                                                 const float *__restrict col, float *__restrict x,
                                                                 conv4j_add_row_fn row) {
    const int h = s->h, w = s->w, sw = s->sw, ow = s->ow;
    for (int c = 0; c < s->cn; c++) {
        float *xc = x + (size_t)c * h * w;
        for (int p = 0; p < s->kh; p++) {
            for (int q = 0; q < s->kw; q++) {
                int iw0 = q * s->dw - s->pl, lo, hi;
                conv4j_col_range(s, cr, q, &lo, &hi);
                for (int r = 0; r < s->rows; r++, col += ow) {
                    long long ih = (long long)(s->oh0 + r) * s->sh - s->pt + (long long)p * s->dh;
                    if (ih < 0 || ih >= h) continue;
                    if (row) {
                        row(xc + (size_t)ih * w, iw0, col, lo, hi);
                        continue;
                    }
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
