package dev.conv4j.internal;

import dev.conv4j.Activation;
import dev.conv4j.Conv2dParams;
import dev.conv4j.Conv2dPlan;
import dev.conv4j.Conv3dParams;
import dev.conv4j.ConvEngine;
import dev.conv4j.Tensor;
import dev.conv4j.internal.blas.BlasEngine;
import dev.conv4j.internal.engine.Adapters;
import dev.conv4j.internal.engine.GenericPlan;
import dev.conv4j.internal.engine.JavaGemmEngine;
import dev.conv4j.internal.engine.NaiveEngine;
import dev.conv4j.internal.engine.Reorder;
import dev.conv4j.internal.engine.TensorMemory;
import dev.conv4j.internal.nativeblas.NativeLibrary;
import dev.conv4j.internal.nativeblas.NativeMemory;
import dev.conv4j.internal.volume.Volumes;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.function.Function;
import java.util.function.ToLongFunction;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The seam between the public API ({@code dev.conv4j}) and its implementation: the API reaches the
 * engines, the native binding and native memory only through this class (and the memory backend
 * beside it in this package, {@link DirectMemory} and {@link Escapes}), so that the engines and the
 * binding can change without the API noticing. A build check ({@code LayeringTest}) holds it to that.
 * Not for users: this package is not part of the API and is not exported.
 */
public final class Backend {
    private Backend() {
    }

    /** The reference engine (one instance). */
    public static ConvEngine naive() {
        return new NaiveEngine();
    }

    /** The pure-Java engine with at most {@code threads} threads per call. */
    public static ConvEngine java(int threads) {
        return new JavaGemmEngine(threads);
    }

    /**
     * The native engine with at most {@code threads} threads per call.
     *
     * @throws UnsupportedOperationException saying what failed to load when the native library is unavailable
     */
    public static ConvEngine blas(int threads) {
        return new BlasEngine(threads);
    }

    /** The plan of an engine that has no plan of its own: checks once, then calls the engine. */
    public static Conv2dPlan genericPlan(ConvEngine engine, Conv2dParams p, int[] inputShape, int[] weightShape) {
        return new GenericPlan(engine, p, inputShape, weightShape);
    }

    /** Lets the engines read a tensor's own pointer, buffer and address; called once, by {@link Tensor}. */
    public static void installTensorMemory(Function<Tensor, FloatPointer> pointer, Function<Tensor, FloatBuffer> buffer,
                                           ToLongFunction<Tensor> address) {
        TensorMemory.install(pointer, buffer, address);
    }

    /** Copies src's elements into dst (same shape, any layouts, no shared memory; both acquired and checked by the caller). */
    public static void reorder(Tensor src, Tensor dst) {
        Reorder.copy(src, dst);
    }

    /** Writes zeros into the padding channels of an NCHW16C tensor (nothing for other layouts). */
    public static void zeroPadding(Tensor t) {
        Reorder.zeroPadding(t);
    }

    /** The fused, any-layout forward pass of an engine that implements only the NCHW one. */
    public static void forward(ConvEngine engine, Conv2dParams p, Tensor x, Tensor w, Tensor bias, Tensor residual,
                               Activation act, Tensor y) {
        Adapters.forward(engine, p, x, w, bias, residual, act, y);
    }

    /** The fused, any-layout forward pass of a plan that implements only the NCHW one ({@code w} null: prepacked). */
    public static void forward(Conv2dPlan plan, Tensor x, Tensor w, Tensor bias, boolean withWeights, Tensor residual,
                               Activation act, Tensor y) {
        Adapters.forward(plan, x, w, bias, withWeights, residual, act, y);
    }

    /** @throws UnsupportedOperationException saying what failed when the native library is unavailable */
    public static void requireNative() {
        NativeLibrary.require();
    }

    /** True when the native library and OpenBLAS loaded and passed their self-test. */
    public static boolean nativeAvailable() {
        return NativeLibrary.isAvailable();
    }

    /** Why the native library is unavailable, or null. */
    public static Throwable nativeFailure() {
        return NativeLibrary.failure();
    }

    /** Why JavaCPP's own native library (and so native tensor memory) is unavailable, or null. */
    public static Throwable javacppFailure() {
        return NativeLibrary.javacppFailure();
    }

    /** A failure as one line: its class and message, and its causes'. */
    public static String describe(Throwable t) {
        return NativeLibrary.describe(t);
    }

    /** What a support engineer needs when the native library does not load, one item a line. */
    public static List<String> diagnosis() {
        return NativeLibrary.diagnosis();
    }

    /** {@code floats} floats of conv4j's own native memory, immune to JavaCPP scopes. */
    public static FloatPointer allocate(long floats) {
        return NativeMemory.allocate(floats);
    }

    /** Frees memory from {@link #allocate}; null is ignored. */
    public static void free(FloatPointer p) {
        NativeMemory.free(p);
    }

    /*
     * 3-D convolution: every engine's passes through one checked entry (Volumes), the naive ones for an
     * engine that is not one of conv4j's. The forward pass can add into y (accumulate), which the input
     * gradient of a 3-D transposed convolution is.
     */

    /** {@code y = conv(x, w) + bias} of a 3-D layer, or {@code y += conv(x, w) + bias} with {@code accumulate}; bias may be null. */
    public static void forward3d(ConvEngine engine, Conv3dParams p, Tensor x, Tensor w, Tensor bias, Tensor y,
                                 boolean accumulate) {
        Volumes.forward(engine, p, x, w, bias, y, accumulate);
    }

    /** The 3-D forward pass into a new tensor. */
    public static Tensor forward3d(ConvEngine engine, Conv3dParams p, Tensor x, Tensor w, Tensor bias) {
        return Volumes.forward(engine, p, x, w, bias);
    }

    /** The input gradient of a 3-D layer, added to gx with {@code accumulate}. */
    public static void backwardData3d(ConvEngine engine, Conv3dParams p, Tensor gy, Tensor w, Tensor gx, boolean accumulate) {
        Volumes.backwardData(engine, p, gy, w, gx, accumulate);
    }

    /** The weight and bias gradients of a 3-D layer (gbias may be null), added with {@code accumulate}. */
    public static void backwardWeights3d(ConvEngine engine, Conv3dParams p, Tensor x, Tensor gy, Tensor gw, Tensor gbias,
                                         boolean accumulate) {
        Volumes.backwardWeights(engine, p, x, gy, gw, gbias, accumulate);
    }
}
