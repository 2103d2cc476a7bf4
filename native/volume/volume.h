/*
 * vol2col / col2vol for one image of an NCDHW float32 tensor: im2col one dimension up, for any
 * stride, asymmetric padding and dilation, over a band of output rows. A band counts rows of ow
 * outputs through the od x oh rows of each output channel (row t is output plane t / oh, row t % oh),
 * so a band may span several output planes and its columns are contiguous in y. The column matrix of
 * channels [0, cn) and output rows [r0, r0 + rows) has cn*kd*kh*kw rows and rows*ow columns:
 *     col[((c*kd + a)*kh + p)*kw + q][(t - r0)*ow + j]
 *         = x[c][(t/oh)*sd - pf + a*dd][(t%oh)*sh - pt + p*dh][j*sw - pl + q*dw]
 * with zeros where the index falls in the padding. Every index is computed from the sizes the caller
 * passes; the Java side checks those against the tensors before calling.
 *
 * One variant for every CPU: the rows are copies gcc vectorizes (a stride-1 row is a memcpy), and
 * the products they feed, not the copies, take the time of a pass.
 */
#ifndef CONV4J_VOLUME_H
#define CONV4J_VOLUME_H

#include "common/conv4j_common.h"

/* The column matrix of a band of output rows of one image: channels [0, cn) of x (volumes of
   d x h x w), output rows [r0, r0 + rows) of the od x oh rows of width ow. */
typedef struct conv4j_volume {
    const float *x;
    int cn, d, h, w;    /* channels and the input volume */
    int kd, kh, kw;     /* kernel */
    int pf, pt, pl;     /* padding in front, at the top, on the left */
    int sd, sh, sw;     /* stride */
    int dd, dh, dw;     /* dilation */
    int oh, ow;         /* output rows per plane, outputs per row */
    int r0, rows;       /* the band */
} conv4j_volume;

/* The column matrix of s into col (cn*kd*kh*kw x rows*ow). */
void conv4j_vol2col(const conv4j_volume *s, float *col);
/* The adjoint: adds every entry of col back onto the input position it was read from (s->x is
   ignored; x is written, and not cleared first). */
void conv4j_col2vol(const conv4j_volume *s, const float *col, float *x);

#endif
