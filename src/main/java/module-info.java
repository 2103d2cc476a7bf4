/**
 * conv4j: 2-D convolution layers (forward, and backward to the input, the weights and the bias) on
 * the CPU. The API is {@code dev.conv4j} (tensors, parameters, engines, plans) and {@code dev.conv4j.io}
 * (.npy files); everything under {@code dev.conv4j.internal} is the implementation and is not exported.
 */
module dev.conv4j {
    // FloatPointer is part of the API (Tensor.wrap, Tensor.pointer)
    requires transitive org.bytedeco.javacpp;
    requires org.bytedeco.openblas;

    exports dev.conv4j;
    exports dev.conv4j.io;

    // JavaCPP's loader finds the binding's JNI library as a resource of its package and initializes it
    opens dev.conv4j.internal.nativeblas to org.bytedeco.javacpp;
}
