package dev.conv4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void parsesAndWritesTheSubsetConv4jUses() {
        Object v = Json.parse("{\"a\": [1, 2.5, -3e2], \"b\": {\"c\": \"x\\\"y\"}, \"d\": true, \"e\": null}");
        Map<?, ?> m = (Map<?, ?>) v;
        assertEquals(List.of(1L, 2.5, -300.0), m.get("a"));
        assertEquals("x\"y", ((Map<?, ?>) m.get("b")).get("c"));
        assertEquals(true, m.get("d"));
        assertEquals(v, Json.parse(Json.write(v)));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": }"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1, 2] x"));
    }
}
