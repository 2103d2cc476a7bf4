package example;

import dev.conv4j.Tensor;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.javacpp.BoolPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.T_TensorTensorTensor_T;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * libtorch (ATen) through the JavaCPP preset: {@code at::conv2d} for forward, as PyTorch's
 * {@code F.conv2d} calls it, and {@code at::convolution_backward}, the op autograd calls, for the
 * two backward passes. The other operations the same way: forward {@code at::conv_transpose2d},
 * {@code at::conv1d}, {@code at::conv3d} (and {@code conv_transpose1d}, {@code conv_transpose3d}), as
 * {@code F.conv_transpose2d} and the others call them; backward {@code at::convolution_backward}
 * (with {@code transposed} for the transposed ones). Inputs are conv4j's tensors wrapped by {@code from_blob} (no copy); outputs
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
        Args a = new Args(l);
        Layer.Attributes t = a.attr;
        long groups = t.groups();
        TensorOptional bias = new TensorOptional(a.b);
        Supplier<org.bytedeco.pytorch.Tensor> call; // chosen once, outside the timed call
        switch (l.shape.op) {
            case "conv2d":
                call = () -> torch.conv2d(a.x, a.w, bias, t.stride(), a.padding, t.dilation(), groups);
                break;
            case "conv1d":
                call = () -> torch.conv1d(a.x, a.w, bias, t.stride(), a.padding, t.dilation(), groups);
                break;
            case "conv3d":
                call = () -> torch.conv3d(a.x, a.w, bias, t.stride(), a.padding, t.dilation(), groups);
                break;
            case "conv_transpose1d":
                call = () -> torch.conv_transpose1d(a.x, a.w, bias, t.stride(), a.padding, t.outputPadding(), groups, t.dilation());
                break;
            case "conv_transpose2d":
                call = () -> torch.conv_transpose2d(a.x, a.w, bias, t.stride(), a.padding, t.outputPadding(), groups, t.dilation());
                break;
            case "conv_transpose3d":
                call = () -> torch.conv_transpose3d(a.x, a.w, bias, t.stride(), a.padding, t.outputPadding(), groups, t.dilation());
                break;
            default:
                throw new UnsupportedOperationException("no libtorch call for " + l.shape.op);
        }
        return new Out(l, Pass.FORWARD) {
            @Override
            public void run() {
                set(call.get());
            }
        };
    }

    static Runner backwardData(Layer l) {
        return backward(l, Pass.BACKWARD_DATA, true, false, false);
    }

    static Runner backwardWeights(Layer l) {
        return backward(l, Pass.BACKWARD_WEIGHTS, false, true, true);
    }

    /**
     * {@code at::convolution_backward}, the op autograd calls for every convolution of the family: the
     * 2-D, 1-D and 3-D convolutions, and with {@code transposed} set, their transposed forms (whose
     * weights are C_in×C_out/groups×K..., as conv4j's).
     */
    private static Runner backward(Layer l, Pass pass, boolean gx, boolean gw, boolean gb) {
        Args a = new Args(l);
        Layer.Attributes t = a.attr;
        BoolPointer mask = new BoolPointer(3).put(0, gx).put(1, gw).put(2, gb);
        long[] biasSizes = {l.shape.biasLength};
        return new Out(l, pass) {
            @Override
            public void run() {
                try (T_TensorTensorTensor_T r = torch.convolution_backward(a.gy, a.x, a.w, biasSizes, t.stride(),
                        a.padding, t.dilation(), t.transposed(), t.outputPadding(), t.groups(), mask)) {
                    // get0()/get1() are references into the tuple: keep a tensor of our own
                    set(new org.bytedeco.pytorch.Tensor(gx ? r.get0() : r.get1()));
                }
            }
        };
    }

    /** The layer's tensors as libtorch tensors over the same memory, and its parameters. */
    private static final class Args {
        final org.bytedeco.pytorch.Tensor x, w, b, gy;
        final Layer.Attributes attr;
        final long[] padding;

        Args(Layer l) {
            attr = l.attributes();
            if (!attr.symmetric()) {
                throw new UnsupportedOperationException("at::" + l.shape.op + " takes symmetric padding only");
            }
            padding = attr.padBegin();
            if (!l.conv2d()) {
                checkOutput(l, attr);
            }
            x = wrap(l.x);
            w = wrap(l.w);
            b = wrap(l.b);
            gy = wrap(l.gy);
        }
    }

    /**
     * Throws when libtorch's output size, from the attributes, differs from the layer's (a transposed
     * operation whose output size was asked for rather than following from its padding).
     */
    private static void checkOutput(Layer l, Layer.Attributes a) {
        int[] in = l.shape.input, k = l.shape.weight, out = l.shape.output;
        for (int i = 0; i < a.rank(); i++) {
            long span = a.dilation()[i] * (k[2 + i] - 1) + 1;
            long size = a.transposed()
                    ? (in[2 + i] - 1) * a.stride()[i] - 2 * a.padBegin()[i] + span + a.outputPadding()[i]
                    : (in[2 + i] + 2 * a.padBegin()[i] - span) / a.stride()[i] + 1;
            if (size != out[2 + i]) {
                throw new UnsupportedOperationException("at::" + l.shape.op + " would give size " + size + " on axis " + i
                        + ", the layer has " + out[2 + i]);
            }
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
