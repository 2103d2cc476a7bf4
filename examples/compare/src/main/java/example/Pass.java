package example;

/** The three passes of a convolution layer. */
enum Pass {
    FORWARD("forward", "y = conv(x, w) + b"),
    BACKWARD_DATA("backward-data", "gx = dL/dx from gy"),
    BACKWARD_WEIGHTS("backward-weights", "gw, gb = dL/dw, dL/db from x and gy");

    final String label, what;

    Pass(String label, String what) {
        this.label = label;
        this.what = what;
    }

    static Pass of(String label) {
        for (Pass p : values()) {
            if (p.label.equals(label)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown pass '" + label + "' (forward, backward-data, backward-weights)");
    }
}
