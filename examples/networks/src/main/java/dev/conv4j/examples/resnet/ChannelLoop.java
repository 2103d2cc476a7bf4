package dev.conv4j.examples.resnet;

import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * Runs one task per channel on a fixed number of threads. Every channel's work is computed by one
 * thread in one order, so the results are the same bits whatever the thread count: a seed gives
 * the same model on one core or on many.
 */
final class ChannelLoop implements AutoCloseable {
    private final int threads;
    private final ForkJoinPool pool;

    ChannelLoop(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.pool = threads == 1 ? null : new ForkJoinPool(threads);
    }

    int threads() {
        return threads;
    }

    /** {@code body.accept(c)} for every c in [0, channels), in parallel. */
    void forEach(int channels, IntConsumer body) {
        if (pool == null || channels == 1) {
            for (int c = 0; c < channels; c++) {
                body.accept(c);
            }
            return;
        }
        pool.submit(() -> IntStream.range(0, channels).parallel().forEach(body)).join();
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdown();
        }
    }
}
