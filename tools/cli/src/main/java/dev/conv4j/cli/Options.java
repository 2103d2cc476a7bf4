package dev.conv4j.cli;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** {@code --name value} options of a command. */
final class Options {
    /** A command line that cannot be understood; the message says why. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    private final Map<String, String> values = new HashMap<>();

    static Options parse(String[] args) {
        Options o = new Options();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new UsageException("unexpected argument '" + a + "'");
            }
            String key = a.substring(2), value;
            int eq = key.indexOf('=');
            if (eq >= 0) {
                value = key.substring(eq + 1);
                key = key.substring(0, eq);
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                value = args[++i];
            } else {
                value = "true";
            }
            o.values.put(key, value);
        }
        return o;
    }

    void allow(String... names) {
        Set<String> ok = Set.of(names);
        for (String k : values.keySet()) {
            if (!ok.contains(k)) {
                throw new UsageException("unknown option --" + k);
            }
        }
    }

    String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    String require(String name) {
        String v = values.get(name);
        if (v == null || v.equals("true")) {
            throw new UsageException("--" + name + " needs a value");
        }
        return v;
    }

    int getInt(String name, int fallback) {
        return getInt(name, fallback, 1);
    }

    /** The integer value of {@code --name}, at least {@code min}, or {@code fallback} when absent. */
    int getInt(String name, int fallback, int min) {
        String v = values.get(name);
        if (v == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(v);
            if (n < min) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " needs " + (min == 1 ? "a positive integer" : "an integer of at least " + min)
                    + ", got '" + v + "'");
        }
    }

    boolean has(String name) {
        return values.containsKey(name);
    }
}
