package dev.conv4j.examples.resnet;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the scripts of {@code examples/pytorch} with a Python that has PyTorch (Debian's
 * {@code python3-torch}): {@code -Dconv4j.python=...}, else {@code /usr/bin/python3}, else
 * {@code python3} on the path. Under CI ({@code CI=true}) a missing PyTorch fails the test; elsewhere
 * the test is skipped.
 */
final class PyTorch {
    private PyTorch() {
    }

    /** The script's path: examples/pytorch beside this module. */
    static Path script(String name) {
        return Path.of("").toAbsolutePath().resolve("../pytorch").resolve(name).normalize();
    }

    static String python() {
        String p = System.getProperty("conv4j.python");
        if (p != null) {
            return p;
        }
        return Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    }

    /** Skips the test (fails it under CI) when the Python cannot import torch. */
    static void assumeAvailable() {
        boolean ok;
        try {
            ok = run(List.of("-c", "import torch, numpy"), 120).exit == 0;
        } catch (IOException e) {
            ok = false;
        }
        if (!ok && "true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError("CI=true but " + python() + " cannot import torch and numpy:"
                    + " apt-get install python3-torch (or -Dconv4j.python=...)");
        }
        assumeTrue(ok, python() + " cannot import torch; the comparison with PyTorch is skipped");
    }

    record Result(int exit, String output) {
    }

    /** Runs {@code python args...} and returns its exit status and merged output. */
    static Result run(List<String> args, int timeoutSeconds) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(python());
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(cmd + " did not finish in " + timeoutSeconds + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
