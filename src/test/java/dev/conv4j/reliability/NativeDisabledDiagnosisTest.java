package dev.conv4j.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.ConvEngines;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;

/**
 * Runs in the JVM started with {@code -Dconv4j.native=false}: {@code info} gives a support engineer
 * what they need to see why the blas engine is unavailable, and blas() says it too.
 */
class NativeDisabledDiagnosisTest {
    @Test
    void infoPrintsTheFailureChainAndTheLoadingEnvironment() throws Exception {
        assertEquals("false", System.getProperty("conv4j.native"), "this test needs -Dconv4j.native=false");
        // what the CLI's info prints: the engines' state and the diagnosis
        String out = "blas:  unavailable: " + ConvEngines.nativeFailure() + "\nfastest(): " + ConvEngines.fastest().name()
                + "\n" + ConvEngines.nativeDiagnosis();
        for (String expected : new String[] {
            "blas:  unavailable: IllegalStateException: disabled by -Dconv4j.native=false",
            "fastest(): java",
            "native library: unavailable",
            "failure: java.lang.IllegalStateException: disabled by -Dconv4j.native=false",
            "-Dconv4j.native: false",
            "-Dorg.bytedeco.javacpp.platform: ",
            "javacpp platform: " + Loader.getPlatform(),
            "bundled for " + Loader.getPlatform() + " on the class path: JavaCPP yes, OpenBLAS yes, conv4j yes",
            "os.arch " + System.getProperty("os.arch"),
            "java.library.path: " + System.getProperty("java.library.path"),
            "javacpp cache: " + Loader.getCacheDir(),
            "tensor memory: JavaCPP off-heap",
        }) {
            assertTrue(out.contains(expected), "the diagnosis does not say '" + expected + "':\n" + out);
        }
        assertFalse(out.contains("openblas core:"), out);
        assertTrue(ConvEngines.nativeDiagnosis().contains("disabled by -Dconv4j.native=false"));
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> ConvEngines.blas(2));
        assertTrue(e.getMessage().startsWith("the blas engine is unavailable: ") && e.getMessage().contains("conv4j.native=false"),
                e.getMessage());
    }
}
