package dev.conv4j.internal.nativeblas;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * The raw JNI binding of the kernels in {@code native/}, compiled by JavaCPP and linked against the
 * OpenBLAS preset. Nothing here checks its arguments: only {@link NativeKernels} calls it, after
 * checking every offset and extent against the memory it was given.
 */
@Properties(value = @Platform(include = {"cblas.h", "conv4j_kernels.h"}))
final class ConvNative {
    static {
        // The preset loads libopenblas.so.0 (and its runtime) from its own jar first, so the
        // dependency of this library on it resolves to that same, already loaded, copy.
        Loader.load(openblas_nolapack.class);
        Loader.load();
    }

    private ConvNative() {
    }

    static native int conv4j_forward_band(@Const FloatPointer x, long xoff, @Const FloatPointer w, long woff,
            @Const FloatPointer bias, long boff, FloatPointer y, long yoff, FloatPointer col, FloatPointer pack,
            int pointwise, int ready, int cg, int h, int wd, int og, int kh, int kw, int oh, int ow,
            int sh, int sw, int pt, int pl, int dh, int dw, int oh0, int rows);

    static native void conv4j_backward_data_band(@Const FloatPointer gy, long gyoff, @Const FloatPointer w, long woff,
            FloatPointer gx, long gxoff, FloatPointer col, FloatPointer pack, int pointwise,
            int cg, int cn, int h, int wd, int og, int kh, int kw, int oh, int ow,
            int sh, int sw, int pt, int pl, int dh, int dw, int oh0, int rows, float beta);

    static native void conv4j_backward_weights_band(@Const FloatPointer x, long xoff, @Const FloatPointer gy, long gyoff,
            FloatPointer gw, long gwoff, FloatPointer col, FloatPointer pack, int pointwise, float beta,
            int cg, int cn, int h, int wd, int og, int kh, int kw, int oh, int ow,
            int sh, int sw, int pt, int pl, int dh, int dw, int oh0, int rows);

    static native void conv4j_dw_forward(@Const FloatPointer x, long xoff, @Const FloatPointer w, long woff,
            @Const FloatPointer bias, long boff, FloatPointer y, long yoff,
            int h, int wd, int kh, int kw, int oh, int ow, int sh, int sw, int pt, int pl, int dh, int dw,
            int mult, int o0, int on);

    static native void conv4j_dw_backward_data(@Const FloatPointer gy, long gyoff, @Const FloatPointer w, long woff,
            FloatPointer gx, long gxoff,
            int h, int wd, int kh, int kw, int oh, int ow, int sh, int sw, int pt, int pl, int dh, int dw,
            int mult, int c0, int cn, int accumulate);

    static native void conv4j_dw_backward_weights(@Const FloatPointer x, @Const FloatPointer gy,
            FloatPointer gw, long gwoff, int batch, int channels, int outChannels,
            int h, int wd, int kh, int kw, int oh, int ow, int sh, int sw, int pt, int pl, int dh, int dw,
            int mult, int o0, int on, int accumulate);

    static native void conv4j_direct_forward(@Const FloatPointer x, long xoff, @Const FloatPointer w, long woff,
            @Const FloatPointer bias, long boff, FloatPointer y, long yoff, FloatPointer scratch,
            int cg, int h, int wd, int kh, int kw, int oh, int ow, int pt, int pl, int dh, int dw, int o0, int on);

    static native void conv4j_wino_weights(@Const FloatPointer w, int o, int c, FloatPointer u, int m, int flip,
            long j0, long jn);

    static native void conv4j_wino_tiles(@Const FloatPointer x, @Const FloatPointer u,
            @Const FloatPointer bias, FloatPointer y, FloatPointer v, FloatPointer mp, FloatPointer scratch,
            int c, int h, int wd, int o,
            int oh, int ow, int pt, int pl, int t0, int tc, int m, int transposeU, int accumulate, int o0, int on,
            @Const FloatPointer wRaw, @Cast("uint32_t") int wTop);

    static native int conv4j_max_bits(@Const FloatPointer p, long off, long n);

    static native long conv4j_gemm_pack_size();

    static native int conv4j_gemm_min_columns();

    static native int conv4j_gemm_min_transposed_rows();

    static native void conv4j_fill(FloatPointer p, long off, long n, float v);

    static native void conv4j_channel_sums(@Const FloatPointer in, int batch, int channels, int plane,
            int c0, int cn, FloatPointer out, int accumulate);

    static native @Cast("const char*") BytePointer openblas_get_config();

    static native @Cast("const char*") BytePointer openblas_get_corename();

    static native int openblas_get_num_threads();

    static native void openblas_set_num_threads(int threads);
}
