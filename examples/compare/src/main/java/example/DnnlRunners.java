package example;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;

import dev.conv4j.ConvGeometry;
import dev.conv4j.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.convolution_backward_data;
import org.bytedeco.dnnl.convolution_backward_weights;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.dnnl_version_t;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_desc;
import org.bytedeco.dnnl.primitive_desc_base;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.LongPointer;

/**
 * oneDNN convolution primitives through the JavaCPP preset's C++ API, on one CPU engine and stream.
 *
 * <p>Two layouts: {@code nchw}, where source, weights and destination are plain NCHW/OIHW memory
 * (conv4j's tensors, wrapped without copying), as a library that takes and returns plain arrays
 * would run it; and {@code any}, where the primitive picks its preferred (blocked) layouts for the
 * activations and the weights (or their gradients), the inputs are reordered once before timing and
 * the output stays in the primitive's layout, so only the primitive runs: oneDNN's best case inside a
 * network that stays in blocked layouts from layer to layer. The backward primitives get the forward
 * primitive descriptor of the same layouts as their hint, as oneDNN requires; with {@code any} the
 * layouts each picks are its own (the reorders follow the descriptor of the primitive that runs).
 * Results are reordered back to plain layouts for the correctness check, outside the timing. oneDNN's
 * thread count is OpenMP's, fixed when the process starts ({@code OMP_NUM_THREADS}).
 *
 * <p>Of the other operations only the 3-D convolution runs here, on the same primitives with 5-D
 * dimensions ({@code ncdhw}/{@code oidhw}, {@code goidhw} when grouped, for the plain layouts).
 */
final class DnnlRunners {
    private static engine eng;
    private static stream strm;

    private DnnlRunners() {
    }

    static synchronized void init() {
        if (eng == null) {
            eng = new engine(engine.kind.cpu, 0);
            strm = new stream(eng);
        }
    }

    static String version() {
        dnnl_version_t v = dnnl.dnnl_version();
        String runtime = v.cpu_runtime() == dnnl.DNNL_RUNTIME_OMP ? "OpenMP" : "runtime " + v.cpu_runtime();
        return "oneDNN " + v.major() + "." + v.minor() + "." + v.patch() + " (" + v.hash().getString() + "), CPU "
                + runtime;
    }

    /**
     * oneDNN's columns of a pass: plain layouts (the reference of the comparison), and the layouts oneDNN
     * picks. They run the 2-D convolutions and, of the other operations, the 3-D convolution (on
     * ncdhw/oidhw memory); a factory returns null for the others (transposed and 1-D).
     */
    static Map<String, Compare.Factory> columns(Pass pass) {
        Map<String, Compare.Factory> m = new LinkedHashMap<>();
        switch (pass) {
            case FORWARD:
                m.put("dnnl-nchw", l -> runs(l) ? forward(l, false) : null);
                m.put("dnnl-any", l -> runs(l) ? forward(l, true) : null);
                break;
            case BACKWARD_DATA:
                m.put("dnnl-nchw", l -> runs(l) ? backwardData(l, false) : null);
                m.put("dnnl-any", l -> runs(l) ? backwardData(l, true) : null);
                break;
            default:
                m.put("dnnl-nchw", l -> runs(l) ? backwardWeights(l, false) : null);
                m.put("dnnl-any", l -> runs(l) ? backwardWeights(l, true) : null);
        }
        return m;
    }

    /** Whether these columns run the layer: a 2-D or a 3-D convolution. */
    static boolean runs(Layer l) {
        return l.conv2d() || l.shape.op.equals("conv3d");
    }

    /** Forward inference, direct algorithm, with bias. */
    static Runner forward(Layer l, boolean any) {
        Conv c = new Conv(l);
        memory.desc src = c.md(c.src, any), wei = c.md(c.wei, any), dst = c.md(c.dst, any);
        convolution_forward.primitive_desc pd = new convolution_forward.primitive_desc(eng,
                dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct, src, wei, c.md(c.bias, false), dst,
                c.strides, c.dilates, c.padL, c.padR);
        c.pick(pd);
        c.layouts(any, "src", pd.src_desc(), "wei", pd.weights_desc(), "dst", pd.dst_desc());
        c.keep(src, wei, dst, pd);
        c.arg(DNNL_ARG_SRC, c.input(pd.src_desc(), c.src, l.x));
        c.arg(DNNL_ARG_WEIGHTS, c.input(pd.weights_desc(), c.wei, l.w));
        c.arg(DNNL_ARG_BIAS, c.input(pd.bias_desc(), c.bias, l.b));
        c.arg(DNNL_ARG_DST, c.output(pd.dst_desc(), c.dst));
        c.finish(new convolution_forward(pd), pd);
        return c;
    }

    /** Backward-data, direct algorithm, with a forward-training hint. */
    static Runner backwardData(Layer l, boolean any) {
        Conv c = new Conv(l);
        convolution_forward.primitive_desc hint = c.hint(any);
        memory.desc dsrc = c.md(c.src, any), wei = c.md(c.wei, any), ddst = c.md(c.dst, any);
        convolution_backward_data.primitive_desc pd = new convolution_backward_data.primitive_desc(eng,
                dnnl.algorithm.convolution_direct, dsrc, wei, ddst, c.strides, c.dilates, c.padL, c.padR, hint);
        c.pick(pd);
        c.layouts(any, "diff_dst", pd.diff_dst_desc(), "wei", pd.weights_desc(), "diff_src", pd.diff_src_desc());
        c.keep(dsrc, wei, ddst, hint, pd);
        c.arg(DNNL_ARG_DIFF_DST, c.input(pd.diff_dst_desc(), c.dst, l.gy));
        c.arg(DNNL_ARG_WEIGHTS, c.input(pd.weights_desc(), c.wei, l.w));
        c.arg(DNNL_ARG_DIFF_SRC, c.output(pd.diff_src_desc(), c.src));
        c.finish(new convolution_backward_data(pd), pd);
        return c;
    }

    /** Backward-weights with the bias gradient, direct algorithm, with a forward-training hint. */
    static Runner backwardWeights(Layer l, boolean any) {
        Conv c = new Conv(l);
        convolution_forward.primitive_desc hint = c.hint(any);
        memory.desc src = c.md(c.src, any), dwei = c.md(c.wei, any), ddst = c.md(c.dst, any);
        convolution_backward_weights.primitive_desc pd = new convolution_backward_weights.primitive_desc(eng,
                dnnl.algorithm.convolution_direct, src, dwei, c.md(c.bias, false), ddst, c.strides, c.dilates, c.padL,
                c.padR, hint);
        c.pick(pd);
        c.layouts(any, "src", pd.src_desc(), "diff_dst", pd.diff_dst_desc(), "diff_wei", pd.diff_weights_desc());
        c.keep(src, dwei, ddst, hint, pd);
        c.arg(DNNL_ARG_SRC, c.input(pd.src_desc(), c.src, l.x));
        c.arg(DNNL_ARG_DIFF_DST, c.input(pd.diff_dst_desc(), c.dst, l.gy));
        c.arg(DNNL_ARG_DIFF_WEIGHTS, c.output(pd.diff_weights_desc(), c.wei));
        c.arg(DNNL_ARG_DIFF_BIAS, c.output(pd.diff_bias_desc(), c.bias));
        c.finish(new convolution_backward_weights(pd), pd);
        return c;
    }

    /** One primitive with its memories; everything is referenced from here so nothing is collected early. */
    private static final class Conv implements Runner {
        final long[] src, wei, bias, dst;
        final memory.format_tag srcTag, weiTag;
        final long[] strides, dilates, padL, padR;
        final List<Object> keep = new ArrayList<>();
        final IntMemoryMap args = new IntMemoryMap();
        final List<Tensor> owned = new ArrayList<>();
        primitive prim;
        String impl;
        /** The result memory as the primitive writes it, and a plain copy of it. */
        memory resultMem, plainMem;
        Tensor plain;

        Conv(Layer l) {
            ConvGeometry g = l.g;
            if (g == null) { // a 3-D convolution: NCDHW, OIDHW (GOIDHW when grouped)
                Layer.Attributes a = l.attributes();
                int groups = (int) a.groups();
                int[] w = l.shape.weight;
                src = Layer.longs(l.shape.input);
                dst = Layer.longs(l.shape.output);
                bias = new long[] {l.shape.biasLength};
                if (groups == 1) {
                    wei = Layer.longs(w);
                    weiTag = memory.format_tag.oidhw;
                } else {
                    wei = new long[] {groups, w[0] / groups, w[1], w[2], w[3], w[4]};
                    weiTag = memory.format_tag.goidhw;
                }
                srcTag = memory.format_tag.ncdhw;
                strides = a.stride();
                dilates = new long[a.rank()];
                for (int i = 0; i < a.rank(); i++) {
                    dilates[i] = a.dilation()[i] - 1;
                }
                padL = a.padBegin();
                padR = a.padEnd();
                return;
            }
            src = Layer.longs(g.inputShape());
            dst = Layer.longs(g.outputShape());
            bias = new long[] {g.o};
            if (g.groups == 1) {
                wei = Layer.longs(g.weightShape());
                weiTag = memory.format_tag.oihw;
            } else {
                wei = new long[] {g.groups, g.o / g.groups, g.cg, g.kh, g.kw};
                weiTag = memory.format_tag.goihw;
            }
            srcTag = memory.format_tag.nchw;
            strides = new long[] {g.strideH, g.strideW};
            dilates = new long[] {g.dilationH - 1, g.dilationW - 1}; // oneDNN counts the gaps: 0 is a dense kernel
            padL = new long[] {g.padTop, g.padLeft};
            padR = new long[] {g.padBottom, g.padRight};
        }

        memory.desc md(long[] dims, boolean any) {
            memory.format_tag tag = any ? memory.format_tag.any
                    : dims == wei ? weiTag : dims == bias ? memory.format_tag.x : srcTag;
            memory.desc d = new memory.desc(dims, memory.data_type.f32, tag);
            keep.add(d);
            return d;
        }

        memory.desc plainMd(long[] dims) {
            return md(dims, false);
        }

        convolution_forward.primitive_desc hint(boolean any) {
            return new convolution_forward.primitive_desc(eng, dnnl.prop_kind.forward_training,
                    dnnl.algorithm.convolution_direct, md(src, any), md(wei, any), md(bias, false), md(dst, any),
                    strides, dilates, padL, padR);
        }

        void keep(Object... objects) {
            keep.addAll(List.of(objects));
        }

        /** The input as the primitive wants it: the tensor itself when the layouts agree, else a reordered copy. */
        memory input(memory.desc want, long[] dims, Tensor t) {
            memory user = new memory(plainMd(dims), eng, t.pointer());
            keep.add(user);
            if (want.equals(user.get_desc())) {
                return user;
            }
            memory m = new memory(want, eng);
            keep.add(m);
            new reorder(user, m).execute(strm, user, m);
            strm._wait();
            return m;
        }

        /** An output in the layout the primitive wants; the runner's result is read back through a plain copy. */
        memory output(memory.desc want, long[] dims) {
            Tensor t = Tensor.zeros(toInts(dims));
            owned.add(t);
            memory user = new memory(plainMd(dims), eng, t.pointer());
            keep.add(user);
            memory m = want.equals(user.get_desc()) ? user : new memory(want, eng);
            keep.add(m);
            if (resultMem == null) { // the first output is the one compared: y, gx or gw
                resultMem = m;
                plainMem = user;
                plain = t;
            }
            return m;
        }

        void arg(int key, memory m) {
            args.put(key, m);
        }

        /**
         * Moves {@code pd} past implementations that run a reference (naive loop) kernel, which oneDNN
         * offers first for some plain-layout problems: with nchw/oihw, its first choice
         * {@code jit_uni_ncsp:conv+ref:any} reorders to nhwc around a nested reference convolution
         * (the nested optimized kernels need blocked weights) and runs at well under 1 GFLOP/s. A user
         * who looks at the implementation would do the same. Stays on the first when all are reference.
         */
        void pick(primitive_desc pd) {
            List<String> skipped = new ArrayList<>();
            String chosen = pd.impl_info_str().getString();
            while (chosen.contains("ref") && pd.next_impl()) {
                skipped.add(chosen);
                chosen = pd.impl_info_str().getString();
            }
            if (chosen.contains("ref")) {
                throw new IllegalStateException("oneDNN offers only reference implementations here: " + skipped);
            }
            impl = skipped.isEmpty() ? chosen : chosen + "  (skipped oneDNN's first choice" + (skipped.size() > 1 ? "s " : " ")
                    + String.join(", ", skipped) + ": reference kernel)";
        }

        /**
         * With {@code any}, appends the layouts the primitive picked to its description, given as
         * name, memory descriptor, name, memory descriptor, ...
         */
        void layouts(boolean any, Object... namesAndDescs) {
            if (!any) {
                return;
            }
            List<String> l = new ArrayList<>();
            for (int i = 0; i < namesAndDescs.length; i += 2) {
                memory.desc d = (memory.desc) namesAndDescs[i + 1];
                keep.add(d);
                l.add(namesAndDescs[i] + " " + format(d));
            }
            impl += "  [" + String.join(", ", l) + "]";
        }

        void finish(primitive p, primitive_desc_base pd) {
            prim = p;
            keep.add(pd);
        }

        @Override
        public void run() {
            prim.execute(strm, args);
            strm._wait();
        }

        @Override
        public float[] result() {
            if (resultMem != plainMem) {
                new reorder(resultMem, plainMem).execute(strm, resultMem, plainMem);
                strm._wait();
            }
            return plain.toArray();
        }

        @Override
        public String detail() {
            return impl;
        }

        @Override
        public void close() {
            prim.close();
            args.close();
            for (Object o : keep) {
                if (o instanceof AutoCloseable) {
                    try {
                        ((AutoCloseable) o).close();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
            owned.forEach(Tensor::close);
        }

        /**
         * A blocked memory descriptor's layout in oneDNN's notation (as its verbose log prints it): the
         * dimensions a, b, c, ... from the outermost stride to the innermost (on a tie, dimensions of size
         * 1 last), upper case where a dimension is also blocked, then the inner blocks ({@code acdb} is
         * nhwc, {@code aBcd16b} nChw16c, {@code ABcd16b16a} OIhw16i16o).
         */
        static String format(memory.desc d) {
            if (d.get_format_kind().value != memory.format_kind.blocked.value) { // JavaCPP returns enums not interned
                return String.valueOf(d.get_format_kind());
            }
            int nd = d.get_ndims(), nb = d.get_inner_nblks();
            LongPointer strides = d.get_strides(), blks = d.get_inner_blks(), idxs = d.get_inner_idxs();
            try {
                boolean[] blocked = new boolean[nd];
                StringBuilder inner = new StringBuilder();
                for (int i = 0; i < nb; i++) {
                    int dim = (int) idxs.get(i);
                    blocked[dim] = true;
                    inner.append(blks.get(i)).append((char) ('a' + dim));
                }
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < nd; i++) {
                    order.add(i);
                }
                LongPointer dims = d.get_dims();
                long[] size = new long[nd];
                dims.get(size);
                dims.close();
                // outermost first; a dimension of size 1 shares its stride with another, and comes after it, as oneDNN prints it
                order.sort((a, b) -> strides.get(a) != strides.get(b) ? Long.compare(strides.get(b), strides.get(a))
                        : Boolean.compare(size[a] == 1, size[b] == 1));
                StringBuilder b = new StringBuilder();
                for (int dim : order) {
                    char ch = (char) ('a' + dim);
                    b.append(blocked[dim] ? Character.toUpperCase(ch) : ch);
                }
                return b.append(inner).toString();
            } finally {
                for (LongPointer p : new LongPointer[] {strides, blks, idxs}) {
                    if (p != null) { // JavaCPP gives null for an empty vector: no inner blocks
                        p.close();
                    }
                }
            }
        }

        private int[] toInts(long[] dims) {
            int[] a;
            if (dims == wei && wei.length == src.length + 1) { // grouped weights G×O/G×C/G×K...: the same memory as O×C/G×K...
                a = new int[dims.length - 1];
                a[0] = (int) (dims[0] * dims[1]);
                for (int i = 2; i < dims.length; i++) {
                    a[i - 1] = (int) dims[i];
                }
            } else {
                a = new int[dims.length];
                for (int i = 0; i < dims.length; i++) {
                    a[i] = (int) dims[i];
                }
            }
            return a;
        }
    }
}
