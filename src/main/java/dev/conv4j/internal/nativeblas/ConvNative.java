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
 * The raw JNI binding of the kernels in {@code native/} (their entry points are declared in
 * {@code native/conv4j.h}), linked with the kernels' static library and against the OpenBLAS preset.
 * Each kernel takes its family's parameter struct ({@link NativeParams}) and its arrays. Nothing here
 * checks its arguments: only {@link NativeKernels} calls it, after checking every offset and extent
 * against the memory it was given.
 */
@Properties(value = @Platform(include = {"cblas.h", "conv4j.h"}))
final class ConvNative {
    static {
        // The preset loads libopenblas.so.0 (and its runtime) from its own jar first, so the
        // dependency of this library on it resolves to that same, already loaded, copy.
        Loader.load(openblas_nolapack.class);
        Loader.load();
    }

    private ConvNative() {
    }

    static native int conv4j_forward_band(@Cast("const conv4j_band_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y, FloatPointer col, FloatPointer pack);

    static native void conv4j_backward_data_band(@Cast("const conv4j_band_params*") FloatPointer p, @Const FloatPointer gy,
            @Const FloatPointer w, FloatPointer gx, FloatPointer col, FloatPointer pack);

    static native void conv4j_backward_weights_band(@Cast("const conv4j_band_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer gy, FloatPointer gw, FloatPointer col, FloatPointer pack);

    static native void conv4j_dw_forward(@Cast("const conv4j_dw_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y);

    static native void conv4j_dw_forward_layouts(@Cast("const conv4j_blk_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer w, @Const FloatPointer bias, @Const FloatPointer res, FloatPointer y, FloatPointer scratch);

    static native long conv4j_dw_layouts_scratch(@Cast("const conv4j_blk_params*") FloatPointer p, int rows);

    static native void conv4j_dw_backward_data(@Cast("const conv4j_dw_params*") FloatPointer p, @Const FloatPointer gy,
            @Const FloatPointer w, FloatPointer gx);

    static native void conv4j_dw_backward_weights(@Cast("const conv4j_dw_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer gy, FloatPointer gw);

    static native void conv4j_direct_forward(@Cast("const conv4j_direct_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y, FloatPointer scratch);

    static native void conv4j_wino_weights(@Cast("const conv4j_wino_params*") FloatPointer p, @Const FloatPointer w,
            FloatPointer u);

    static native void conv4j_wino_tiles(@Cast("const conv4j_wino_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer u, @Const FloatPointer bias, FloatPointer y, FloatPointer v, FloatPointer mp,
            FloatPointer scratch, @Const FloatPointer wRaw);

    static native void conv4j_blk_pack(@Cast("const conv4j_blk_params*") FloatPointer p, @Const FloatPointer w,
            FloatPointer wp);

    static native void conv4j_blk_forward(@Cast("const conv4j_blk_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer wp, @Const FloatPointer bias, @Const FloatPointer res, FloatPointer y, FloatPointer scratch);

    static native void conv4j_blk_weights(@Cast("const conv4j_blk_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer gy, FloatPointer gw, FloatPointer gb, FloatPointer scratch);

    static native void conv4j_blk_reorder(@Cast("const conv4j_blk_params*") FloatPointer p, @Const FloatPointer x,
            FloatPointer y);

    static native void conv4j_vol_forward_band(@Cast("const conv4j_vol_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y, FloatPointer col, FloatPointer pack);

    static native void conv4j_vol_backward_data_band(@Cast("const conv4j_vol_params*") FloatPointer p, @Const FloatPointer gy,
            @Const FloatPointer w, FloatPointer gx, FloatPointer col, FloatPointer pack);

    static native void conv4j_vol_backward_weights_band(@Cast("const conv4j_vol_params*") FloatPointer p, @Const FloatPointer x,
            @Const FloatPointer gy, FloatPointer gw, FloatPointer col, FloatPointer pack);

    static native void conv4j_vol_channel_sums(@Const FloatPointer in, int batch, int channels, int plane,
            int c0, int cn, FloatPointer out, int accumulate);

    static native int conv4j_max_bits(@Const FloatPointer p, long off, long n);

    static native long conv4j_gemm_pack_size();

    static native int conv4j_gemm_min_columns();

    static native int conv4j_gemm_min_transposed_rows();

    static native void conv4j_fill(FloatPointer p, long off, long n, float v);

    static native void conv4j_channel_sums(@Const FloatPointer in, int batch, int channels, int plane,
            int c0, int cn, FloatPointer out, int accumulate);

    static native int conv4j_params_size(int family);

    static native int conv4j_isa_in_use();

    static native @Cast("const char*") BytePointer openblas_get_config();

    static native @Cast("const char*") BytePointer openblas_get_corename();

    static native int openblas_get_num_threads();

    static native void openblas_set_num_threads(int threads);
}
