package example;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import dev.conv4j.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * ONNX Runtime (the Java API of {@code com.microsoft.onnxruntime:onnxruntime}, CPU execution
 * provider), forward only: per layer, a session over a one-node model {@code Y = Conv(X, W, B)} built
 * in code ({@link OnnxModel}) with W and B as initializers, so that the graph optimizer at
 * {@code ALL_OPT} may rewrite the node into its NCHWc (channel-blocked) kernels, with reorders of X
 * and Y around it, as it would for a model that takes and returns plain NCHW tensors.
 *
 * <p>X is an {@link OnnxTensor} over the layer's input tensor itself (a direct buffer, which ONNX
 * Runtime uses without copying), Y a preallocated tensor bound as a pinned output, so that a call
 * allocates no output: the timed call is {@code session.run(inputs, pinnedOutputs)} and closing its
 * {@code Result} (which owns nothing then). This class is compiled only when ONNX Runtime is a
 * dependency (not with {@code -DskipOrt}); {@link Compare} creates it by name.
 */
final class OrtRunners implements Compare.Peer {
    static final String COLUMN = "ort";

    private OrtEnvironment env;
    private int threads;
    private boolean spin;

    OrtRunners() {
    }

    @Override
    public String init(int threads, boolean spin) {
        this.threads = threads;
        this.spin = spin;
        env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "conv4j-compare");
        return "ONNX Runtime " + env.getVersion() + ", CPU execution provider, ALL_OPT, intra-op " + threads
                + " thread(s), sequential, inter-op 1, spinning " + (spin ? "on" : "off");
    }

    @Override
    public Map<Pass, Map<String, Compare.Factory>> columns() {
        Map<Pass, Map<String, Compare.Factory>> m = new EnumMap<>(Pass.class);
        m.put(Pass.FORWARD, Map.of(COLUMN, this::forward));
        return m;
    }

    /** The session options of every session: the graph optimizer's full level, and the run's threads. */
    private SessionOptions options() throws OrtException {
        SessionOptions o = new SessionOptions();
        o.setOptimizationLevel(SessionOptions.OptLevel.ALL_OPT); // includes the NCHWc layout transformer
        o.setExecutionMode(SessionOptions.ExecutionMode.SEQUENTIAL);
        o.setIntraOpNumThreads(threads); // the calling thread and threads - 1 pool threads
        o.setInterOpNumThreads(1);
        // whether idle pool threads spin, as OMP_WAIT_POLICY says for oneDNN's and libtorch's (see README.md)
        o.addConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
        o.addConfigEntry("session.inter_op.allow_spinning", spin ? "1" : "0");
        return o;
    }

    Runner forward(Layer l) {
        try {
            return new Forward(l);
        } catch (OrtException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** One session of one layer, with its input and its pinned output. */
    private final class Forward implements Runner {
        final SessionOptions opts;
        final OrtSession session;
        final OnnxTensor x, yOrt;
        final Tensor y;
        final Map<String, OnnxTensor> inputs, outputs;
        final String nodes;

        Forward(Layer l) throws OrtException {
            byte[] model = OnnxModel.conv(l.g, l.w.toArray(), l.b.toArray());
            nodes = String.join(" -> ", optimizedNodes(model));
            opts = options();
            session = env.createSession(model, opts);
            x = OnnxTensor.createTensor(env, l.x.buffer(), Layer.longs(l.g.inputShape()));
            y = Tensor.zeros(l.g.outputShape());
            yOrt = OnnxTensor.createTensor(env, y.buffer(), Layer.longs(l.g.outputShape()));
            inputs = Map.of("X", x);
            outputs = Map.of("Y", yOrt);
        }

        @Override
        public void run() {
            try (OrtSession.Result r = session.run(inputs, outputs)) {
                // the output is the pinned tensor y; the result owns nothing
            } catch (OrtException e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
        }

        @Override
        public float[] result() {
            return y.toArray();
        }

        @Override
        public String detail() {
            return "nodes after optimization: " + nodes;
        }

        @Override
        public void close() {
            try {
                x.close();
                yOrt.close();
                session.close();
                opts.close();
            } catch (OrtException e) {
                throw new IllegalStateException(e.getMessage(), e);
            } finally {
                y.close();
            }
        }
    }

    /**
     * The nodes ONNX Runtime runs for {@code model} after optimization, from the optimized model that a
     * probe session with the same options writes (the timed session writes nothing).
     */
    private List<String> optimizedNodes(byte[] model) throws OrtException {
        Path file = null;
        try {
            file = Files.createTempFile("conv4j-compare-ort", ".onnx");
            try (SessionOptions o = options()) {
                o.setOptimizedModelFilePath(file.toString());
                o.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR); // not its warning that NCHWc is machine-specific
                env.createSession(model, o).close();
            }
            return OnnxModel.nodes(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException e) {
                    // a temporary file left behind
                }
            }
        }
    }
}
