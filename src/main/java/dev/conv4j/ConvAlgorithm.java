package dev.conv4j;

/**
 * How the blas engine computes the forward and the input-gradient (backward-data) passes; the
 * input gradient of a 3x3 stride-1 layer is itself such a convolution (of the output gradient with
 * the kernels turned by 180 degrees). The weight gradient always uses im2col + GEMM, and the naive
 * and java engines always compute the definition directly or by im2col; they accept any choice
 * that is valid for the shape.
 *
 * <p>Winograd F(m x m, 3x3) computes each m x m block of outputs from an (m+2) x (m+2) input patch
 * with (m+2)² multiplications per channel pair instead of 9m², trading multiplications for a
 * larger rounding error. Its tolerances below are the bounds conv4j's tests hold it to, as the
 * scale-free error {@code max|y - ref| / max|ref|} over every golden case it applies to and over
 * randomized layers; integer-valued inputs and weights small enough to stay exact in float32 give
 * exact results with either tile size.
 */
public enum ConvAlgorithm {
    /**
     * The engine picks: on CPUs with AVX-512 or AVX2, the channel-blocked direct kernel ({@link #DIRECT}) for
     * dense layers of at least 16 input and 32 output channels (on AVX-512, its weight gradient too, on
     * planes of 392 pixels or more); a direct kernel for small stride-1 layers (at most 16
     * output channels per group); Winograd for 3x3, stride-1, dense, single-group layers wide enough
     * for its products to pay off where the blocked kernel does not run (F(4x4, 3x3) where there are
     * enough 4x4 output blocks, else F(2x2, 3x3)); im2col + GEMM otherwise. Its error is at most
     * {@link #WINOGRAD_4X4_TOLERANCE}.
     */
    AUTO,
    /** im2col + GEMM (a direct kernel for depthwise layers): exact to float32 rounding of a dot product. */
    IM2COL,
    /**
     * Winograd F(2x2, 3x3): 2.25x fewer multiplications than im2col; its transforms only add and
     * halve, so its error stays close to im2col's ({@link #WINOGRAD_2X2_TOLERANCE}).
     */
    WINOGRAD_2X2,
    /**
     * Winograd F(4x4, 3x3): 4x fewer multiplications than im2col; its transform constants (up to 8
     * and 1/6) raise the error to about 1e-5 ({@link #WINOGRAD_4X4_TOLERANCE}).
     */
    WINOGRAD_4X4,
    /**
     * The channel-blocked direct kernel (forward pass) where the blas engine has it: dense layers with a
     * stride width of 1 or 2 on CPUs with AVX-512 or AVX2; elsewhere as {@link #IM2COL}. Exact to float32
     * rounding of a dot product.
     */
    DIRECT;

    /** Bound on the scale-free error of {@link #WINOGRAD_2X2}; the worst seen in the tests is 3.7e-7. */
    public static final double WINOGRAD_2X2_TOLERANCE = 1e-5;

    /**
     * Bound on the scale-free error of {@link #WINOGRAD_4X4} (and AUTO); the worst seen in the tests
     * is 7.6e-6, and 1.2e-5 on a ResNet-50 layer with 256 channels (the error grows with the channel count).
     */
    public static final double WINOGRAD_4X4_TOLERANCE = 1e-4;

    /** True for the Winograd choices, which apply only where {@link #winogradApplies} holds. */
    public boolean isWinograd() {
        return this == WINOGRAD_2X2 || this == WINOGRAD_4X4;
    }

    /** True when Winograd can compute this convolution: a 3x3 kernel, stride 1, dilation 1, one group. */
    public static boolean winogradApplies(ConvGeometry g) {
        return g.kh == 3 && g.kw == 3 && g.strideH == 1 && g.strideW == 1 && g.dilationH == 1 && g.dilationW == 1
                && g.groups == 1 && g.oh < (1 << 30) && g.ow < (1 << 30) && (long) g.o * g.c < (1L << 31) - 64;
    }
}
