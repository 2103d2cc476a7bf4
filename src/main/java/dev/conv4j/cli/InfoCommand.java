package dev.conv4j.cli;

import dev.conv4j.ConvEngines;
import dev.conv4j.nativeblas.NativeKernels;
import dev.conv4j.nativeblas.NativeLibrary;
import java.io.PrintStream;

/** {@code info}: what a support engineer asks first. */
final class InfoCommand {
    private InfoCommand() {
    }

    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "(development build)" : v;
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
        if (NativeLibrary.isAvailable()) {
            out.println("  blas:  available");
            out.println("openblas: " + NativeKernels.openblasConfig());
            out.println("openblas core: " + NativeKernels.openblasCore());
            out.println("openblas threads: " + NativeKernels.openblasThreads()
                    + " (conv4j sets 1 and parallelizes itself; engine threads default to the processor count)");
        } else {
            out.println("  blas:  unavailable: " + NativeLibrary.describe(NativeLibrary.failure()));
        }
        out.println("fastest(): " + ConvEngines.fastest().name());
        out.println("diagnosis:");
        for (String line : NativeLibrary.diagnosis()) {
            out.println("  " + line);
        }
        return 0;
    }
}
