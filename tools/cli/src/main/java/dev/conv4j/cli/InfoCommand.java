package dev.conv4j.cli;

import dev.conv4j.ConvEngines;
import java.io.PrintStream;
import org.bytedeco.openblas.global.openblas_full;

/** {@code info}: what a support engineer asks first. */
final class InfoCommand {
    private InfoCommand() {
    }

    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "(development build)" : v;
    }

    /** The OpenBLAS kernel family in use (OpenBLAS itself, through its preset: conv4j keeps it internal). */
    static String openblasCore() {
        return openblas_full.openblas_get_corename().getString();
    }

    static int run(PrintStream out) {
        out.println("conv4j " + version());
        out.println("java: " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ", "
                + System.getProperty("java.vendor") + ")");
        out.println("os: " + System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " processors");
        out.println("engines:");
        out.println("  naive: available");
        out.println("  java:  available");
        if (ConvEngines.isNativeAvailable()) {
            out.println("  blas:  available");
            out.println("openblas: " + openblas_full.openblas_get_config().getString());
            out.println("openblas core: " + openblasCore());
            out.println("openblas threads: " + openblas_full.openblas_get_num_threads()
                    + " (conv4j sets 1 and parallelizes itself; engine threads default to the processor count)");
        } else {
            out.println("  blas:  unavailable: " + ConvEngines.nativeFailure());
        }
        out.println("fastest(): " + ConvEngines.fastest().name());
        out.println("diagnosis:");
        for (String line : ConvEngines.nativeDiagnosis().split(System.lineSeparator())) {
            out.println("  " + line);
        }
        return 0;
    }
}
