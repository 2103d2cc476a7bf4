package dev.conv4j.internal.blas;

/** An algorithm's name and pass, for the families that give each pass an object of its own. */
abstract class PassAlgorithm implements Algorithm {
    private final String name;
    private final Pass pass;

    PassAlgorithm(String name, Pass pass) {
        this.name = name;
        this.pass = pass;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Pass pass() {
        return pass;
    }
}
