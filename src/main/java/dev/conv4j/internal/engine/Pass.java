package dev.conv4j.internal.engine;

/**
 * The three passes of a convolution layer, as the layout hook
 * ({@link LayoutRunner#runsLayouts(dev.conv4j.ConvGeometry, Pass, dev.conv4j.Layout, dev.conv4j.Layout)}) names them.
 */
public enum Pass {
    /** y = conv(x, w) + bias; the hook's layouts are x's and y's. */
    FORWARD,
    /** gx (+)= the input gradient from gy; the hook's layouts are gy's and gx's. */
    BACKWARD_DATA,
    /** gw, gbias (+)= the weight and bias gradients from x and gy; the hook's layouts are x's and gy's. */
    BACKWARD_WEIGHTS
}
