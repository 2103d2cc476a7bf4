package dev.conv4j.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Direct memory through the foreign memory API, Java 22 and later; {@link DirectMemory} picks it
 * from the multi-release jar ({@code META-INF/versions/22}). Each block is a segment of a shared arena
 * of its own, which {@link #free} closes: its buffers throw from then on instead of reaching freed
 * memory. A buffer's address, lifetime and confinement come from {@link MemorySegment#ofBuffer}; none
 * of this is a restricted method, so nothing here needs native access or {@code sun.misc.Unsafe}.
 */
final class ForeignMemory extends DirectMemory.Source {
    /** A thread that owns no arena: a segment it may use may be used by every thread. */
    private static final Thread NO_OWNER = Thread.ofPlatform().name("conv4j-no-owner").unstarted(() -> { });

    ForeignMemory() {
        free(allocate(16)); // fail here, when DirectMemory picks its source, rather than on a tensor
    }

    @Override
    DirectMemory.Block allocate(int bytes) {
        Arena a = Arena.ofShared();
        try {
            MemorySegment s = a.allocate(bytes, 64); // zeroed by the arena
            return new DirectMemory.Block(s.asByteBuffer().order(ByteOrder.nativeOrder()), s.address(), a);
        } catch (RuntimeException | Error e) {
            a.close();
            throw e;
        }
    }

    @Override
    boolean knowsAddresses() {
        return true;
    }

    @Override
    long address(Buffer b) {
        try {
            // the segment starts at the buffer's position
            return MemorySegment.ofBuffer(b).address() - (long) b.position() * DirectMemory.elementBytes(b);
        } catch (RuntimeException e) {
            return 0;
        }
    }

    @Override
    boolean freedBuffersThrow() {
        return true;
    }

    @Override
    Object lifetime(Buffer b) {
        try {
            return MemorySegment.ofBuffer(b).scope();
        } catch (RuntimeException e) {
            return null;
        }
    }

    @Override
    boolean alive(Object lifetime) {
        return ((MemorySegment.Scope) lifetime).isAlive();
    }

    @Override
    boolean confined(Buffer b) {
        try {
            return !MemorySegment.ofBuffer(b).isAccessibleBy(NO_OWNER);
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    void free(DirectMemory.Block b) {
        close(b.owner);
    }

    @Override
    void close(Object arena) {
        ((Arena) arena).close();
    }
}
