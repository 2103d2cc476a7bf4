/*
 * The native self-test (bash cppbuild.sh): every variant of every kernel family against the
 * definition in double, on random geometries with odd sizes, padding, stride, dilation, groups,
 * channel multipliers and rows whose length is no multiple of 16. Outputs that a kernel overwrites
 * start as NaN, so an output it leaves unwritten fails. Exits non-zero on any mismatch.
 */
#ifndef CONV4J_SELFTEST_H
#define CONV4J_SELFTEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv4j.h"
#include "common/conv4j_dispatch.h"
#include "im2col/im2col.h"
#include "gemm/gemm.h"
#include "depthwise/depthwise.h"

/* mismatches so far; every check stops at its first */
extern int failures;

/* a random int in [lo, hi] */
int rnd_int(int lo, int hi);
/* n random floats in [-1, 1], n NaNs (an output nothing may leave unwritten), or a copy */
float *rnd(size_t n);
float *nans(size_t n);
float *copy(const float *p, size_t n);

/* 0 when got matches ref to tol (relative, plus tol absolute); NaN and infinities must match exactly in kind */
int differs(double got, double ref, double tol);

/* Compares n outputs with their reference; reports the first mismatch under `what` and counts it. */
int check_all(const char *what, int test, const float *got, const double *ref, size_t n, double tol);

/* A convolution: x (n, c, h, w), weights (o, c / groups, kh, kw), y (n, o, oh, ow). */
typedef struct {
    int n, c, h, w, o, groups, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, oh, ow;
} conv;

/* Fills in oh and ow; 0 when the output would be empty. */
int conv_resolve(conv *g);
/* The shape of one image as the kernels see it (c and o as given). */
conv4j_conv_shape conv_shape(const conv *g, int c, int o);
/* The input value a tap reads for output (i, j) of image n, channel c (0 in the padding). */
double conv_input(const conv *g, const float *x, int n, int c, long long i, long long j, int p, int q);
/* y of image n, output channel o, position (i, j), by the definition in double (no bias). */
double conv_forward(const conv *g, const float *x, const float *w, int n, int o, int i, int j);
/* The input gradient of all of gx (n, c, h, w) from gy, and the weight gradient of all of gw, in double. */
void conv_input_gradient(const conv *g, const float *gy, const float *w, double *gx);
void conv_weight_gradient(const conv *g, const float *x, const float *gy, double *gw);

/* Activations in a layout (CONV4J_LAYOUT_*): the index of an element of one image, the floats of one
   image, and an NCHW batch copied into a layout (padding channels 0). */
size_t at(int layout, int c, int h, int w, int ci, int hi, int wi);
size_t image(int layout, int c, int h, int w);
float *relayout(const float *src, int layout, int n, int c, int h, int w);

/* The checks of each family, for one variant (or, for the families without a table, the library as
   it stands after conv4j_use_isa). Each returns the number of cases it ran. */
int check_im2col(const conv4j_im2col_ops *ops);
int check_index_wrap(const conv4j_im2col_ops *ops);
int check_gemm(const conv4j_gemm_ops *ops);
int check_gemm_columns(const conv4j_gemm_ops *ops);
int check_bands(void);
int check_depthwise_forward(const conv4j_dw_ops *ops);
int check_depthwise_data(const conv4j_dw_ops *ops);
int check_depthwise_weights(const conv4j_dw_ops *ops);
int check_depthwise_layouts(const conv4j_dw_ops *ops);
int check_direct(void);
int check_winograd(void);
int check_vector(void);
int check_blocked(void);
int check_volume(void);

#endif
