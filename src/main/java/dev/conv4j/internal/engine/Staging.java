package dev.conv4j.internal.engine;

import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;

/**
 * The tensors a pass stages its activations in when the engine does not run their layouts: x, y, gy
 * and gx, each in the layout the engine runs. A plan owns one and keeps its tensors from call to call,
 * so that its steady state allocates nothing; an engine's per-call path makes one only when a call
 * needs it, and closes it (and with it every tensor) before the call returns.
 */
final class Staging implements AutoCloseable {
    static final int X = 0, Y = 1, GY = 2, GX = 3;
    private static final Layout[] LAYOUTS = Layout.values();

    /** By role and layout. */
    private final Tensor[] tensors = new Tensor[4 * LAYOUTS.length];

    /**
     * The staging tensor of {@code role} in {@code layout} for geometry g: x and gx have the input's
     * shape, y and gy the output's. Its contents are whatever the last use left.
     */
    Tensor tensor(int role, Layout layout, ConvGeometry g) {
        int slot = role * LAYOUTS.length + layout.ordinal();
        Tensor t = tensors[slot];
        if (t == null) {
            t = Tensor.zeros(layout, role == X || role == GX ? g.inputShape() : g.outputShape());
            tensors[slot] = t;
        }
        return t;
    }

    /** Bytes of the tensors held. */
    long bytes() {
        long b = 0;
        for (Tensor t : tensors) {
            b += t == null ? 0 : 4L * t.storageSize();
        }
        return b;
    }

    @Override
    public void close() {
        for (int i = 0; i < tensors.length; i++) {
            if (tensors[i] != null) {
                tensors[i].close();
                tensors[i] = null;
            }
        }
    }
}
