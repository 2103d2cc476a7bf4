/*
 * Winograd F(m x m, 3x3), m = 2 or 4, for 3x3 convolutions with stride 1, dilation 1 and one group
 * (Lavin & Gray, arXiv:1509.09308). Each m x m block of outputs (a tile) comes from an a x a input
 * patch d, a = m + 2:
 *     Y = Aᵀ [ U ⊙ V ] A,  U = G g Gᵀ (per weight), V = Bᵀ d B (per patch),
 * and the sum over input channels of U ⊙ V is, for each of the a² positions xi of the transform
 * domain, one matrix product M[xi] (O x T) = U[xi] (O x C) · V[xi] (C x T) over T tiles: a² sgemm
 * calls doing a²·O·C·T multiply-adds where im2col does 9·m²·O·C·T (2.25x fewer for m = 2, 4x for
 * m = 4). Tiles are numbered across the batch (tile t = (n·th + ty)·tw + tx), so small images still
 * give wide products.
 *
 * F(2x2, 3x3), points 0, ±1, ∞:
 *   Bᵀ = | 1  0 -1  0 |   G = |  1    0    0  |   Aᵀ = | 1  1  1  0 |
 *        | 0  1  1  0 |       | 1/2  1/2  1/2 |        | 0  1 -1 -1 |
 *        | 0 -1  1  0 |       | 1/2 -1/2  1/2 |
 *        | 0  1  0 -1 |       |  0    0    1  |
 *
 * F(4x4, 3x3), points 0, ±1, ±2, ∞ (its constants grow, so its rounding error is larger; the code
 * uses 24 G and divides the result by 576, see conv4j_wino_g):
 *   Bᵀ = | 4  0 -5  0  1  0 |   G = |  1/4     0     0  |   Aᵀ = | 1  1  1  1  1  0 |
 *        | 0 -4 -4  1  1  0 |       | -1/6  -1/6  -1/6  |        | 0  1 -1  2 -2  0 |
 *        | 0  4 -4 -1  1  0 |       | -1/6   1/6  -1/6  |        | 0  1  1  4  4  0 |
 *        | 0 -2 -1  2  1  0 |       | 1/24  1/12   1/6  |        | 0  1 -1  8 -8  1 |
 *        | 0  2 -1 -2  1  0 |       | 1/24 -1/12   1/6  |
 *        | 0  4  0 -5  0  1 |       |   0     0     1   |
 *
 * Non-finite values break the identity behind these transforms: one NaN input pixel reaches every
 * output of the tiles whose a x a patch holds it (a 5x5 block for m = 2, up to 8x8 for m = 4, where
 * the definition makes a 3x3 block NaN), and an infinity meets its own negation and becomes NaN.
 * Given the untransformed weights (conv4j_wino_repair), the output transform recomputes every tile
 * that came out non-finite from the definition, so results match the direct methods everywhere. The
 * caller passes the largest magnitude of the weights (conv4j_max_bits) and the tile kernel finds that
 * of the input rows of its tiles before it transforms them (a vectorized pass that leaves them in
 * cache), so the check runs only where something is non-finite or large enough to overflow.
 */
#ifndef CONV4J_WINOGRAD_H
#define CONV4J_WINOGRAD_H

#include <stddef.h>

/* The distance between the planes of a transform holding n floats each: n rounded up, plus 16.
   Planes exactly a multiple of 4 KiB apart would map the streams of a transform onto the same
   L1 sets and thrash them. NativeKernels.winogradPlane computes the same. */
static inline size_t conv4j_wino_plane(size_t n) {
    return ((n + 15) & ~(size_t)15) + 16;
}

/* The row length of the V and M planes of tc tiles: tc rounded up to 16, so every row of the
   products starts aligned (an odd tc made OpenBLAS's kernels up to 1.7x slower). */
static inline size_t conv4j_wino_ld(int tc) {
    return ((size_t)tc + 15) & ~(size_t)15;
}

#endif
