package dev.conv4j.internal.blas;

import dev.conv4j.ConvGeometry;
import dev.conv4j.internal.engine.Pool;
import dev.conv4j.internal.engine.WorkerPool;
import dev.conv4j.internal.nativeblas.NativeMemory;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Runs one pass of one call, for the per-call engine and for plans alike: the weight transform its
 * algorithm reads (unless the weights come transformed, as a plan's prepacked ones do), then the
 * algorithm's units on the engine's threads, each thread with a workspace from the caller's pool. One
 * per call in flight: the engine checks them out of a pool, a plan owns one. The units and the
 * transform are made once, so a call allocates nothing.
 */
final class BlasCall implements AutoCloseable {
    final CallArgs args = new CallArgs();
    private final WorkerPool workers;
    private final WorkerPool.Job job = new WorkerPool.Job();
    private ConvGeometry g;
    private Algorithm algorithm;
    /** The call's transformed weights, grown as needed and kept. */
    private FloatPointer transformed;
    private final WorkerPool.Unit<NativeWorkspace> unit = (u, ws) -> algorithm.run(g, u, args, ws);
    private final WorkerPool.Unit<Object> transformUnit = (u, ignored) -> algorithm.transform(g, u, args);

    BlasCall(WorkerPool workers) {
        this.workers = workers;
    }

    /**
     * Runs {@code a}'s pass on {@link #args}, then clears them. {@code bias}: a bias gradient is wanted
     * (backward-weights).
     */
    void run(ConvGeometry geometry, Algorithm a, boolean bias, Pool<NativeWorkspace> workspaces) {
        g = geometry;
        algorithm = a;
        args.begin();
        try {
            long size = a.transformSize(geometry);
            if (size > 0 && args.u == null) {
                transformed = NativeMemory.grow(transformed, size, size);
                args.u = transformed;
                workers.run(job, a.transformUnits(geometry), transformUnit, null);
            }
            a.prepare(geometry, args);
            workers.run(job, a.units(geometry, bias), unit, workspaces);
        } finally {
            args.clear();
            g = null;
            algorithm = null;
        }
    }

    /** Transforms {@link #args}' weights for {@code a} into {@code u} on the engine's threads (a plan's prepack). */
    void transform(ConvGeometry geometry, Algorithm a, FloatPointer u) {
        g = geometry;
        algorithm = a;
        args.u = u;
        try {
            workers.run(job, a.transformUnits(geometry), transformUnit, null);
        } finally {
            args.clear();
            g = null;
            algorithm = null;
        }
    }

    /** Allocates the transform buffer for {@code floats} now (a plan, which allocates nothing per call). */
    void reserveTransform(long floats) {
        if (floats > 0) {
            transformed = NativeMemory.grow(transformed, floats, floats);
        }
    }

    long bytes() {
        return transformed == null ? 0 : 4L * transformed.limit();
    }

    @Override
    public void close() {
        NativeMemory.free(transformed);
        transformed = null;
    }
}
