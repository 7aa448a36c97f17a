package dev.pockettts.server.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.TreeMap;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * SHA-256 and size of files that have no pinned checksum, recorded when first downloaded ({@code
 * checksums.json} in the model folder) and verified on every later start.
 */
final class ChecksumRecord {

  static final String FILE = "checksums.json";
  private static final JsonMapper JSON = JsonMapper.builder().build();

  record Entry(long size, String sha256, String source) {}

  private final Path file;
  private final Map<String, Entry> entries = new TreeMap<>();

  ChecksumRecord(Path folder) throws IOException {
    this.file = folder.resolve(FILE);
    if (Files.isRegularFile(file)) {
      JsonNode root = JSON.readTree(Files.readAllBytes(file));
      for (Map.Entry<String, JsonNode> e : root.properties()) {
        JsonNode v = e.getValue();
        entries.put(
            e.getKey(),
            new Entry(
                v.path("size").asLong(-1),
                v.path("sha256").asString(null),
                v.path("source").asString("")));
      }
    }
  }

  synchronized Entry get(String localName) {
    return entries.get(localName);
  }

  synchronized void put(String localName, Entry entry) throws IOException {
    entries.put(localName, entry);
    ObjectNode root = JSON.createObjectNode();
    entries.forEach(
        (k, v) -> {
          ObjectNode n = root.putObject(k);
          n.put("size", v.size());
          n.put("sha256", v.sha256());
          n.put("source", v.source());
        });
    Path tmp = file.resolveSibling(FILE + ".tmp");
    Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root));
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }
}
