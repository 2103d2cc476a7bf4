package dev.conv4j;

/**
 * How the blas engine computes a forward pass. The backward passes always use im2col + GEMM, and
 * the naive and java engines always compute the definition directly or by im2col; they accept any
 * choice that is valid for the shape.
 */
public enum ConvAlgorithm {
    /**
     * The engine picks: Winograd F(2x2, 3x3) for 3x3, stride-1, dense, single-group layers wide enough
     * for its products to pay off; im2col + GEMM otherwise.
     */
    AUTO,
    /** im2col + GEMM (a direct kernel for depthwise layers): exact to float32 rounding of a dot product. */
    IM2COL,
    /**
     * Winograd F(2x2, 3x3): 2.25x fewer multiplications than im2col. Only for 3x3 kernels with stride 1,
     * dilation 1 and one group; asking for it on another shape throws {@link IllegalArgumentException}.
     * Its rounding error is somewhat larger than im2col's (see {@link #WINOGRAD_TOLERANCE}).
     */
    WINOGRAD;

    /**
     * The bound conv4j's tests hold Winograd forward results to: {@code max|y - ref| / max|ref|} over
     * every golden case it applies to and over randomized layers. The worst error seen there is about
     * 3e-7 (im2col: about 1e-7); F(2x2, 3x3) adds only additions and halvings to the data path, so
     * its error grows little with channel count.
     */
    public static final double WINOGRAD_TOLERANCE = 1e-5;

    /** True when Winograd F(2x2, 3x3) can compute this convolution. */
    public static boolean winogradApplies(ConvGeometry g) {
        return g.kh == 3 && g.kw == 3 && g.strideH == 1 && g.strideW == 1 && g.dilationH == 1 && g.dilationW == 1
                && g.groups == 1;
    }
}
