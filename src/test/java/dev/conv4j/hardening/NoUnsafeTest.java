package dev.conv4j.hardening;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conv4j.Tensor;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;

/**
 * No class of the library, the multi-release jar's Java 22 classes included, names
 * {@code sun.misc.Unsafe} (nor the JDK's internal one), directly or as a string for reflection: Java
 * 24 and later warn about its memory methods, and will remove them.
 */
class NoUnsafeTest {
    private static final String[] FORBIDDEN = {"sun/misc/Unsafe", "sun.misc.Unsafe", "jdk/internal/misc/Unsafe", "jdk.internal.misc.Unsafe"};

    @Test
    void noClassOfTheLibraryNamesUnsafe() throws Exception {
        Path where = Path.of(Tensor.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> classes = new ArrayList<>();
        List<String> wrong = new ArrayList<>();
        if (Files.isDirectory(where)) {
            try (Stream<Path> files = Files.walk(where)) {
                for (Path f : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".class"))::iterator) {
                    classes.add(f.toString());
                    check(where.relativize(f).toString(), Files.readAllBytes(f), wrong);
                }
            }
        } else {
            try (ZipFile jar = new ZipFile(where.toFile())) {
                for (Enumeration<? extends ZipEntry> e = jar.entries(); e.hasMoreElements(); ) {
                    ZipEntry z = e.nextElement();
                    if (z.getName().endsWith(".class")) {
                        classes.add(z.getName());
                        try (InputStream in = jar.getInputStream(z)) {
                            check(z.getName(), in.readAllBytes(), wrong);
                        }
                    }
                }
            }
        }
        assertTrue(classes.size() > 30, "too few classes found at " + where + ": " + classes);
        assertTrue(wrong.isEmpty(), "classes that name Unsafe: " + wrong);
    }

    private static void check(String name, byte[] bytes, List<String> wrong) {
        String text = new String(bytes, StandardCharsets.ISO_8859_1); // the constant pool's names and strings, byte for byte
        for (String f : FORBIDDEN) {
            if (text.contains(f)) {
                wrong.add(name + " (" + f + ")");
            }
        }
    }
}
