package dev.conv4j.internal.engine;

import dev.conv4j.ConvGeometry;
import dev.conv4j.Layout;
import dev.conv4j.Tensor;

/**
 * The tensors a pass stages its activations in when the engine does not run their layouts: x, y, gy
 * and gx, each in the layout the engine runs. Each role has one block of memory, grown when a call
 * needs more and never shrunk, and the tensor handed out is a view of it, kept while calls ask for the
 * same layout and shape. A plan owns one; an engine's per-call path checks one out of a pool for the
 * calls that need it. Either way the steady state allocates nothing: before, the per-call path made,
 * zeroed and freed a tensor per staged activation on every call (a 3 MB output of a pointwise layer
 * cost more than its reorder).
 */
final class Staging implements AutoCloseable {
    static final int X = 0, Y = 1, GY = 2, GX = 3;

    /** By role: the memory its views share. */
    private final Tensor[] memory = new Tensor[4];
    /** By role: the last view handed out. */
    private final Tensor[] views = new Tensor[4];

    /**
     * The staging tensor of {@code role} in {@code layout} for geometry g: x and gx have the input's
     * shape, y and gy the output's. Its contents are whatever the last use left.
     */
    Tensor tensor(int role, Layout layout, ConvGeometry g) {
        boolean input = role == X || role == GX;
        int c = input ? g.c : g.o, h = input ? g.h : g.oh, w = input ? g.w : g.ow;
        Tensor v = views[role];
        if (v != null && v.layout() == layout && v.dim(0) == g.n && v.dim(1) == c && v.dim(2) == h && v.dim(3) == w) {
            return v;
        }
        int[] shape = {g.n, c, h, w};
        long floats = layout.storageSize(shape);
        Tensor m = memory[role];
        if (m == null || m.storageSize() < floats) {
            views[role] = null;
            memory[role] = null;
            if (m != null) {
                m.close();
            }
            m = Tensor.zeros(Math.toIntExact(floats));
            memory[role] = m;
        }
        v = m.view(0, layout, shape);
        views[role] = v;
        return v;
    }

    /** Bytes of the memory held. */
    long bytes() {
        long b = 0;
        for (Tensor t : memory) {
            b += t == null ? 0 : 4L * t.storageSize();
        }
        return b;
    }

    @Override
    public void close() {
        for (int i = 0; i < memory.length; i++) {
            views[i] = null;
            if (memory[i] != null) {
                memory[i].close();
                memory[i] = null;
            }
        }
    }
}
