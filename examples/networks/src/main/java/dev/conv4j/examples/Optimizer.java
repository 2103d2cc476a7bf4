package dev.conv4j.examples;

/** Updates parameters from their gradients, at a learning rate a schedule may change between steps. */
public interface Optimizer {
    /** The learning rate of the next step. */
    float learningRate();

    /** Changes the learning rate from the next step on. */
    void learningRate(float lr);

    /** Updates every parameter from its current gradient. */
    void step();
}
