/*
 * The entry points of conv4j's native kernels: what the JNI binding (ConvNative.java) and the
 * self-test call. Each does one unit of work that the Java side schedules (an image, a group, a band
 * of output rows, a block of channels or tiles), so that units can run on different threads without
 * sharing anything they write. A call takes its family's parameter struct (common/conv4j_params.h)
 * and the arrays; the Java side has checked every offset and extent against the arrays before.
 *
 * The kernels live in families, one folder each: im2col/ (im2col, col2im and the band passes built
 * on them), gemm/ (the products), winograd/, depthwise/, direct/, blocked/, volume/ (3-D convolution:
 * vol2col, col2vol and their band passes), and common/ (parameters, CPU dispatch, whole-array helpers).
 */
#ifndef CONV4J_H
#define CONV4J_H

#include "common/conv4j_params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CONV4J_API __attribute__((visibility("default")))

/*
 * im2col + GEMM. For group g of an image, with K = cg*kh*kw and P = oh*ow:
 *   forward          y_g (og x P)  = W_g (og x K) * col (K x P)            [+ bias]
 *   backward data    dcol (K x P)  = W_g^T * gy_g, then col2im into gx_g
 *   backward weights gw_g (og x K) += gy_g (og x P) * col^T
 * over a band of output rows. pack is a packing buffer of conv4j_gemm_pack_size() floats for
 * conv4j's own GEMM kernels, or null to leave every product to OpenBLAS.
 */

/* y band = W * col (+ bias); arrays x, w, bias, y. With p->ready, col already holds the band's
   column matrix. Returns 1 when col holds it afterwards, 0 when the product gathered it from the
   image instead (or the kernel is pointwise). */
CONV4J_API int conv4j_forward_band(const conv4j_band_params *p, const float *x, const float *w, const float *bias,
                                   float *y, float *col, float *pack);
/* Adds the input gradient of channels [c0, c0 + cn) (gx at channel c0, w at its first tap) from a
   band of gy; arrays gy, w, gx. A pointwise layer's band of gx is written directly (beta 0) or added
   to (beta 1); otherwise the caller clears gx first unless it accumulates. */
CONV4J_API void conv4j_backward_data_band(const conv4j_band_params *p, const float *gy, const float *w, float *gx,
                                          float *col, float *pack);
/* gw[:, block of cn channels] (row stride K) = beta * gw + gy band * col^T; arrays x (at channel c0),
   gy, gw. */
CONV4J_API void conv4j_backward_weights_band(const conv4j_band_params *p, const float *x, const float *gy, float *gw,
                                             float *col, float *pack);
/* Floats of the packing buffer for conv4j's own GEMM kernels, 0 where they do not run (neither AVX-512 nor AVX2). */
CONV4J_API long long conv4j_gemm_pack_size(void);
/* The fewest columns of a product that conv4j's kernels run, and the fewest rows of one with a
   transposed first factor. */
CONV4J_API int conv4j_gemm_min_columns(void);
CONV4J_API int conv4j_gemm_min_transposed_rows(void);

/* Depthwise: output channel oc reads input channel oc / mult. Forward of output channels
   [first, first + count) of one image (arrays x, w, bias, y at that image). */
CONV4J_API void conv4j_dw_forward(const conv4j_dw_params *p, const float *x, const float *w, const float *bias, float *y);
/* Input gradient of input channels [first, first + count) of one image (arrays gy, w, gx), cleared
   first unless accumulate. */
CONV4J_API void conv4j_dw_backward_data(const conv4j_dw_params *p, const float *gy, const float *w, float *gx);
/* Weight gradient of output channels [first, first + count), summed over the batch in a fixed order
   (arrays x, gy, gw: x and gy hold the whole batch). */
CONV4J_API void conv4j_dw_backward_weights(const conv4j_dw_params *p, const float *x, const float *gy, float *gw);
/* Depthwise forward with one output channel per input channel, activations in any layout
   (p->x_layout, p->y_layout, p->r_layout): output rows [oh0, oh0 + rows) of channel blocks
   [g0, g0 + gn) (16 channels each) of one image (arrays x, w, bias, res, y at p->off; bias and res may
   be null, res may be y itself), with bias, residual and clamp as conv4j_blk_forward applies them;
   scratch of conv4j_dw_layouts_scratch floats. Nothing is written where the CPU has neither AVX2
   nor AVX-512 (conv4j_isa_in_use() 0). */
CONV4J_API void conv4j_dw_forward_layouts(const conv4j_blk_params *p, const float *x, const float *w, const float *bias,
                                          const float *res, float *y, float *scratch);
/* Floats of scratch conv4j_dw_forward_layouts needs for bands of `rows` output rows (p->s). */
CONV4J_API long long conv4j_dw_layouts_scratch(const conv4j_blk_params *p, int rows);

/* The direct kernel for small stride-1 layers: output channels [first, first + count) of one group of
   one image (arrays x, w, bias, y at the group), with scratch of cg x (oh + (kh-1)·dh) x
   (ow + (kw-1)·dw) floats plus 16. */
CONV4J_API void conv4j_direct_forward(const conv4j_direct_params *p, const float *x, const float *w, const float *bias,
                                      float *y, float *scratch);

/* Winograd F(m x m, 3x3): the weight transform of weights [j0, j0 + jn) of the O·C into u, and the
   tiles [t0, t0 + tc) of the batch (see winograd/winograd.h for the workspaces). */
CONV4J_API void conv4j_wino_weights(const conv4j_wino_params *p, const float *w, float *u);
CONV4J_API void conv4j_wino_tiles(const conv4j_wino_params *p, const float *x, const float *u, const float *bias,
                                  float *y, float *v, float *mp, float *scratch, const float *w_raw);

/* The channel-blocked direct kernel (blocked/blocked.h): packs weight groups [g0, g0 + gn) of the
   OIHW weights w into wp (with p->flip, the weights of the layer whose input gradient p->s describes,
   as a convolution of its output gradient), and computes a band of one image's output (arrays x, packed weights, bias,
   res, y at p->off; bias and res may be null) with scratch for the padded input band:
   C/16 x band rows x band columns x 16 floats. */
CONV4J_API void conv4j_blk_pack(const conv4j_blk_params *p, const float *w, float *wp);
CONV4J_API void conv4j_blk_forward(const conv4j_blk_params *p, const float *x, const float *wp, const float *bias,
                                   const float *res, float *y, float *scratch);
/* The weight gradient of output channel blocks [g0, g0 + gn) by input channel blocks [oh0, oh0 + rows)
   (16 channels each), summed over the batch (x and gy whole, in p->x_layout and p->y_layout), into the
   OIHW gw, and with gb not null (and oh0 0) the bias gradient of the output blocks; p->residual adds
   to them. Scratch: the padded input of one block, one image's gy blocks and the sums of each pair of
   blocks (conv4j_blk_weights_scratch). */
CONV4J_API void conv4j_blk_weights(const conv4j_blk_params *p, const float *x, const float *gy, float *gw, float *gb,
                                   float *scratch);

/* Reorders the p->s.n images of p->s.c channels of p->s.h x p->s.w pixels of x (in p->x_layout) into y
   (in p->y_layout), which must not overlap: bit-exact copies; NCHW16C padding channels of y come out 0. */
CONV4J_API void conv4j_blk_reorder(const conv4j_blk_params *p, const float *x, float *y);

/*
 * vol2col + GEMM for 3-D convolution (volume/), the im2col passes one dimension up. For group g of an
 * image, with K = cg*kd*kh*kw and P = od*oh*ow, over a band of output rows (p->r0, p->rows, counted
 * through the od*oh rows of ow outputs of each channel):
 *   forward          y_g (og x P)  = beta * y_g + W_g (og x K) * col (K x P)   [+ bias]
 *   backward data    dcol (K x P)  = W_g^T * gy_g, then col2vol into gx_g
 *   backward weights gw_g (og x K) = beta * gw_g + gy_g (og x P) * col^T
 * pack as for the im2col passes. A 1x1x1 stride-1 unpadded kernel reads its input as the column matrix.
 */
/* y band (+)= W * col + bias; arrays x, w, bias (may be null), y. */
CONV4J_API void conv4j_vol_forward_band(const conv4j_vol_params *p, const float *x, const float *w, const float *bias,
                                        float *y, float *col, float *pack);
/* Adds the input gradient of channels [c0, c0 + cn) (gx at channel c0, w at its first tap) from a
   band of gy; arrays gy, w, gx. A pointwise layer's band of gx is written directly (beta 0) or added
   to (beta 1); otherwise the caller clears gx first unless it accumulates. */
CONV4J_API void conv4j_vol_backward_data_band(const conv4j_vol_params *p, const float *gy, const float *w, float *gx,
                                              float *col, float *pack);
/* gw[:, block of cn channels] (row stride K) = beta * gw + gy band * col^T; arrays x (at channel c0),
   gy, gw. */
CONV4J_API void conv4j_vol_backward_weights_band(const conv4j_vol_params *p, const float *x, const float *gy, float *gw,
                                                 float *col, float *pack);
/* The bias gradient of a 3-D layer: out[c0 + i] (+)= the sum of in over the batch and the volume of
   channel c0 + i, added one value at a time in double in index order (the order the Java engines
   add in, so that every engine gives the same bits). */
CONV4J_API void conv4j_vol_channel_sums(const float *in, int batch, int channels, int plane, int c0, int cn, float *out,
                                        int accumulate);

/* Whole arrays: sets n floats from p + off to v; the largest magnitude among n floats from p + off,
   as bits (from 0x7f800000 up: some value is infinite or NaN); the bias gradient out[c0 + i] (+)=
   the sum of in over the batch and the plane of channel c0 + i. */
CONV4J_API void conv4j_fill(float *p, long long off, long long n, float v);
CONV4J_API int conv4j_max_bits(const float *p, long long off, long long n);
CONV4J_API void conv4j_channel_sums(const float *in, int batch, int channels, int plane, int c0, int cn, float *out,
                                    int accumulate);

/* The size of family f's parameter struct (0 band, 1 depthwise, 2 direct, 3 Winograd, 4 blocked, 5 volume), for the Java
   side to check its layout against when it loads the library. */
CONV4J_API int conv4j_params_size(int family);
/* Makes every family run its variant for an instruction set (0 generic, 1 AVX-512, 2 AVX2: the
   families without an AVX2 variant run their generic one); 0 if this CPU cannot. For tests: not to be called while kernels run. */
CONV4J_API int conv4j_use_isa(int isa);
/* The instruction set of the variants in use. */
CONV4J_API int conv4j_isa_in_use(void);

#ifdef __cplusplus
}
#endif

#endif
