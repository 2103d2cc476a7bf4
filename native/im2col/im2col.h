/*
 * im2col / col2im for one image of an NCHW float32 tensor, in the style of Caffe's im2col_cpu, for
 * any stride, asymmetric padding and dilation, over a band of output rows. The column matrix of
 * channels [0, cn) and output rows [oh0, oh0 + rows) has cn*kh*kw rows and rows*ow columns:
 *     col[(c*kh + p)*kw + q][r*ow + j] = x[c][(oh0+r)*sh - pt + p*dh][j*sw - pl + q*dw]
 * with zeros where the index falls in the padding. Every index is computed from the sizes the
 * caller passes; the Java side checks those against the tensors before calling.
 *
 * Two variants: im2col_generic.c, and im2col_avx512.c, whose rows of stride 1 and 2 are masked
 * vector loads and permutes (see conv4j_dispatch.h for how one is chosen).
 */
#ifndef CONV4J_IM2COL_H
#define CONV4J_IM2COL_H

#include "common/conv4j_common.h"

/* The column matrix of a band of output rows of one image: channels [0, cn) of x (planes of h x w),
   output rows [oh0, oh0 + rows) of width ow. */
typedef struct conv4j_columns {
    const float *x;
    int cn, h, w, kh, kw, pt, pl, sh, sw, dh, dw, oh0, rows, ow;
} conv4j_columns;

typedef struct conv4j_im2col_ops {
    const char *isa;
    /* the column matrix of s into col (cn*kh*kw x rows*ow) */
    void (*im2col)(const conv4j_columns *s, float *col);
    /* the adjoint: adds every entry of col back onto the input position it was read from (s->x is
       ignored; x is written, and not cleared first) */
    void (*col2im)(const conv4j_columns *s, const float *col, float *x);
} conv4j_im2col_ops;

extern const conv4j_im2col_ops conv4j_im2col_generic, conv4j_im2col_avx512;

/* The valid output columns of each of the first (up to) 32 kernel columns, computed once per call
   rather than per channel and kernel row; wider kernels compute the rest as they go. */
#define CONV4J_QCACHE 32
typedef struct {
    int lo[CONV4J_QCACHE], hi[CONV4J_QCACHE];
} conv4j_col_ranges;

static inline void conv4j_col_ranges_init(const conv4j_columns *s, conv4j_col_ranges *r) {
    for (int q = 0; q < s->kw && q < CONV4J_QCACHE; q++)
        conv4j_valid_cols(q * s->dw - s->pl, s->sw, s->w, s->ow, &r->lo[q], &r->hi[q]);
}

static inline void conv4j_col_range(const conv4j_columns *s, const conv4j_col_ranges *r, int q, int *lo, int *hi) {
    if (q < CONV4J_QCACHE) {
        *lo = r->lo[q];
        *hi = r->hi[q];
    } else {
        conv4j_valid_cols(q * s->dw - s->pl, s->sw, s->w, s->ow, lo, hi);
    }
}

/* Input rows up to this many floats are split into phases on the stack. */
#define CONV4J_PHASE_MAX 4096

/* Whether an input row of s fits the phases on the stack. */
static inline int conv4j_phases_fit(const conv4j_columns *s) {
    return (long long)s->sw * ((s->w + (long long)s->sw - 1) / s->sw) <= CONV4J_PHASE_MAX;
}

/* Shared by both variants (im2col_generic.c): im2col and col2im by phases of the input rows, for
   column strides above 1. The row-by-row loops are in im2col_rows.h. */
void conv4j_im2col_phases(const conv4j_columns *s, const conv4j_col_ranges *r, float *col);
void conv4j_col2im_phases(const conv4j_columns *s, const conv4j_col_ranges *r, const float *col, float *x);
/* a variant's row of a column matrix for column stride 1 or 2, and its adjoint */
typedef void (*conv4j_copy_row_fn)(float *dst, const float *src, int w, int iw0, int lo, int hi, int ow);
typedef void (*conv4j_add_row_fn)(float *row, int iw0, const float *col, int lo, int hi);

#endif
