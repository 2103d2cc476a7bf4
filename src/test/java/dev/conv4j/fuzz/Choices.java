package dev.conv4j.fuzz;

/**
 * The fuzzer's bytes read as a sequence of choices, front to back, one byte per small choice: a seed
 * is the list of choices it makes, and a mutated byte changes one decision. Past the end every
 * choice is the first option, so any input, the empty one included, decodes to a complete case.
 */
final class Choices {
    private final byte[] data;
    private int next;

    Choices(byte[] data) {
        this.data = data == null ? new byte[0] : data;
    }

    private int nextByte() {
        return next < data.length ? data[next++] & 0xff : 0;
    }

    /** One of {@code 0 .. n-1} (n at most 256). */
    int pick(int n) {
        return nextByte() % n;
    }

    /** One of {@code lo .. hi}, both included (at most 256 values). */
    int range(int lo, int hi) {
        return lo + pick(hi - lo + 1);
    }

    boolean flag() {
        return (nextByte() & 1) != 0;
    }

    /** An index below {@code n} (two bytes). */
    int index(int n) {
        int v = nextByte() << 8 | nextByte();
        return n <= 0 ? 0 : v % n;
    }

    /** A seed for data that needs no fuzzer control (two bytes). */
    long seed() {
        return nextByte() << 8 | nextByte();
    }

    /** Any float bit pattern: NaNs with payloads, infinities, subnormals, negative zero (four bytes). */
    float rawFloat() {
        return Float.intBitsToFloat(nextByte() << 24 | nextByte() << 16 | nextByte() << 8 | nextByte());
    }

    /** How many bytes the choices so far have read (at most the input's length). */
    int consumed() {
        return next;
    }
}
