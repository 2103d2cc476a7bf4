package dev.conv4j.internal.volume;

/**
 * An engine of conv4j with 3-D passes of its own (the java and blas engines). {@link Volumes} runs any
 * other engine's 3-D calls on the naive passes.
 */
public interface VolumeEngine {
    /** The engine's 3-D passes, on its own threads and workspaces. */
    Conv3dKernels volumes();
}
