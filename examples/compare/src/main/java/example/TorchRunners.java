package example;

import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import java.util.Map;
import org.bytedeco.javacpp.BoolPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.T_TensorTensorTensor_T;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * libtorch (ATen) through the JavaCPP preset: {@code at::conv2d} for forward, as PyTorch's
 * {@code F.conv2d} calls it, and {@code at::convolution_backward}, the op autograd calls, for the
 * two backward passes. Inputs are conv4j's tensors wrapped by {@code from_blob} (no copy); outputs
 * are allocated by libtorch on every call, as it always does, and freed after the next call.
 */
final class TorchRunners {
    private static InferenceMode inference;

    private TorchRunners() {
    }

    /** Loads libtorch and sets its thread count; throws when its natives are not on the class path. */
    static synchronized String init(int threads) {
        Loader.load(torch.class);
        torch.set_num_threads(threads);
        if (inference == null) {
            inference = new InferenceMode(); // for this (the main) thread, for the whole run
        }
        return "libtorch " + version() + ", " + torch.get_num_threads() + " thread(s), MKLDNN "
                + (torch.hasMKLDNN() ? "built in" : "absent");
    }

    private static String version() {
        String v = torch.class.getPackage().getImplementationVersion();
        return v == null ? "2.10.0" : v;
    }

    /** libtorch's column of a pass. */
    static Map<String, Compare.Factory> columns(Pass pass) {
        switch (pass) {
            case FORWARD:
                return Map.of("torch", TorchRunners::forward);
            case BACKWARD_DATA:
                return Map.of("torch", TorchRunners::backwardData);
            default:
                return Map.of("torch", TorchRunners::backwardWeights);
        }
    }

    static Runner forward(Layer l) {
        ConvGeometry g = l.g;
        Args a = new Args(l);
        TensorOptional bias = new TensorOptional(a.b);
        return new Out(l, Pass.FORWARD) {
            @Override
            public void run() {
                set(torch.conv2d(a.x, a.w, bias, a.stride, a.padding, a.dilation, g.groups));
            }
        };
    }

    static Runner backwardData(Layer l) {
        return backward(l, Pass.BACKWARD_DATA, true, false, false);
    }

    static Runner backwardWeights(Layer l) {
        return backward(l, Pass.BACKWARD_WEIGHTS, false, true, true);
    }

    private static Runner backward(Layer l, Pass pass, boolean gx, boolean gw, boolean gb) {
        ConvGeometry g = l.g;
        Args a = new Args(l);
        BoolPointer mask = new BoolPointer(3).put(0, gx).put(1, gw).put(2, gb);
        long[] biasSizes = {g.o}, outputPadding = {0, 0};
        return new Out(l, pass) {
            @Override
            public void run() {
                try (T_TensorTensorTensor_T r = torch.convolution_backward(a.gy, a.x, a.w, biasSizes, a.stride,
                        a.padding, a.dilation, false, outputPadding, g.groups, mask)) {
                    // get0()/get1() are references into the tuple: keep a tensor of our own
                    set(new org.bytedeco.pytorch.Tensor(gx ? r.get0() : r.get1()));
                }
            }
        };
    }

    /** The layer's tensors as libtorch tensors over the same memory, and its parameters. */
    private static final class Args {
        final org.bytedeco.pytorch.Tensor x, w, b, gy;
        final long[] stride, padding, dilation;

        Args(Layer l) {
            ConvGeometry g = l.g;
            if (g.padTop != g.padBottom || g.padLeft != g.padRight) {
                throw new UnsupportedOperationException("at::conv2d takes symmetric padding only");
            }
            x = wrap(l.x);
            w = wrap(l.w);
            b = wrap(l.b);
            gy = wrap(l.gy);
            stride = new long[] {g.strideH, g.strideW};
            padding = new long[] {g.padTop, g.padLeft};
            dilation = new long[] {g.dilationH, g.dilationW};
        }
    }

    static org.bytedeco.pytorch.Tensor wrap(Tensor t) {
        return torch.from_blob(t.pointer(), Layer.longs(t.shape()));
    }

    /** Holds the latest output, freeing the one before. */
    private abstract static class Out implements Runner {
        final Layer l;
        final Pass pass;
        org.bytedeco.pytorch.Tensor last;

        Out(Layer l, Pass pass) {
            this.l = l;
            this.pass = pass;
        }

        void set(org.bytedeco.pytorch.Tensor t) {
            if (last != null) {
                last.close();
            }
            last = t;
        }

        @Override
        public float[] result() {
            try (Tensor plain = Tensor.zeros(l.resultShape(pass))) {
                org.bytedeco.pytorch.Tensor view = wrap(plain);
                view.copy_(last);
                view.close();
                return plain.toArray();
            }
        }

        @Override
        public void close() {
            set(null);
        }
    }
}
