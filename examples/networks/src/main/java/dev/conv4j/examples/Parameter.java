package dev.conv4j.examples;

import java.util.Arrays;
import java.util.Random;

/** A trainable array, its gradient (written by the backward pass) and its shape. */
public final class Parameter {
    private final String name;
    private final int[] shape;
    /** The values, row-major in {@link #shape()}; optimizers update them in place. */
    public final float[] value;
    /** The gradient of the loss with respect to {@link #value}, written by each backward pass. */
    public final float[] grad;

    public Parameter(String name, int... shape) {
        this.name = name;
        this.shape = shape.clone();
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        value = new float[n];
        grad = new float[n];
    }

    /** The name under which the parameter is saved, e.g. {@code conv1.weight}. */
    public String name() {
        return name;
    }

    /** The shape (a copy). */
    public int[] shape() {
        return shape.clone();
    }

    /** The number of values. */
    public int size() {
        return value.length;
    }

    /**
     * He (Kaiming) uniform initialization, {@code U(-b, b)} with {@code b = sqrt(6 / fanIn)}: keeps
     * the variance of activations steady through ReLU layers, so training starts fast.
     */
    public void initHe(int fanIn, Random r) {
        float bound = (float) Math.sqrt(6.0 / fanIn);
        for (int i = 0; i < value.length; i++) {
            value[i] = (2 * r.nextFloat() - 1) * bound;
        }
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
