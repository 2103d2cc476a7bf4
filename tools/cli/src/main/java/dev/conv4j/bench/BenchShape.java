package dev.conv4j.bench;

import dev.conv4j.Conv2dParams;
import dev.conv4j.ConvGeometry;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One benchmark layer: {@code name,batch,cin,h,w,cout,kh,kw,stride,pad,dilation,groups}
 * (square stride, padding and dilation), as in the shape suite's CSV.
 */
public final class BenchShape {
    public final String name;
    public final Conv2dParams params;
    public final int[] input, weight;

    BenchShape(String name, Conv2dParams params, int[] input, int[] weight) {
        this.name = name;
        this.params = params;
        this.input = input;
        this.weight = weight;
    }

    public ConvGeometry geometry() {
        return ConvGeometry.of(params, input, weight);
    }

    /** The default suite, bundled in the jar. */
    public static List<BenchShape> defaults() throws IOException {
        try (InputStream in = BenchShape.class.getResourceAsStream("benchmark-shapes.csv")) {
            return parse(in, "benchmark-shapes.csv");
        }
    }

    public static List<BenchShape> load(Path csv) throws IOException {
        try (InputStream in = Files.newInputStream(csv)) {
            return parse(in, csv.toString());
        }
    }

    static List<BenchShape> parse(InputStream in, String source) throws IOException {
        List<BenchShape> shapes = new ArrayList<>();
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        int lineNo = 0;
        for (String line; (line = r.readLine()) != null; ) {
            lineNo++;
            line = line.trim();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith("name,")) {
                continue;
            }
            String[] f = line.split(",");
            if (f.length != 12) {
                throw new IOException(source + ":" + lineNo + ": expected 12 fields "
                        + "(name,batch,cin,h,w,cout,kh,kw,stride,pad,dilation,groups), got " + f.length);
            }
            try {
                int[] v = new int[11];
                for (int i = 0; i < 11; i++) {
                    v[i] = Integer.parseInt(f[i + 1].trim());
                }
                Conv2dParams p = Conv2dParams.builder().stride(v[7]).padding(v[8]).dilation(v[9]).groups(v[10]).build();
                int[] x = {v[0], v[1], v[2], v[3]}, w = {v[4], v[1] / v[10], v[5], v[6]};
                BenchShape s = new BenchShape(f[0].trim(), p, x, w);
                s.geometry();
                shapes.add(s);
            } catch (IllegalArgumentException e) {
                throw new IOException(source + ":" + lineNo + ": " + e.getMessage(), e);
            }
        }
        return shapes;
    }

    @Override
    public String toString() {
        return name;
    }
}
