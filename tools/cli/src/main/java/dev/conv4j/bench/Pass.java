package dev.conv4j.bench;

/** The three passes of a convolution layer. */
public enum Pass {
    FORWARD("fwd"), BACKWARD_DATA("bwd-data"), BACKWARD_WEIGHTS("bwd-weights");

    public final String label;

    Pass(String label) {
        this.label = label;
    }
}
