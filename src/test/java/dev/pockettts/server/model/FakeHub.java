package dev.pockettts.server.model;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A local stand-in for the Hugging Face hub: {@code /<repo>/resolve/<revision>/<path>}, byte
 * ranges, 404s, gated files (401 without the token), a connection dropped half-way through a file,
 * and redirects of large files to another host name (127.0.0.1) as the hub does to its CDN.
 */
final class FakeHub implements AutoCloseable {

  record Request(String path, String range, String authorization) {}

  private final HttpServer server;
  private final Map<String, byte[]> files = new ConcurrentHashMap<>();
  private final Set<String> gated = ConcurrentHashMap.newKeySet();
  private final Set<String> dropOnce = ConcurrentHashMap.newKeySet();
  private final Set<String> redirected = ConcurrentHashMap.newKeySet();
  final List<Request> requests = new CopyOnWriteArrayList<>();
  private final String token;

  FakeHub(String token) throws IOException {
    this.token = token;
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", this::handle);
    server.start();
  }

  /** The endpoint, by the name "localhost" (redirects go to "127.0.0.1", another host name). */
  URI endpoint() {
    return URI.create("http://localhost:" + server.getAddress().getPort());
  }

  void put(String repo, String revision, String path, byte[] content) {
    files.put("/" + repo + "/resolve/" + revision + "/" + path, content);
  }

  void remove(String repo, String revision, String path) {
    files.remove("/" + repo + "/resolve/" + revision + "/" + path);
  }

  void putFolder(String repo, String revision, String prefix, Path dir) throws IOException {
    try (var s = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        if (Files.isRegularFile(p)) {
          put(
              repo,
              revision,
              prefix + dir.relativize(p).toString().replace('\\', '/'),
              Files.readAllBytes(p));
        }
      }
    }
  }

  void gate(String suffix) {
    gated.add(suffix);
  }

  void dropOnce(String suffix) {
    dropOnce.add(suffix);
  }

  void redirect(String suffix) {
    redirected.add(suffix);
  }

  long requestsFor(String suffix) {
    return requests.stream().filter(r -> r.path().endsWith(suffix)).count();
  }

  private void handle(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String range = ex.getRequestHeaders().getFirst("Range");
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    requests.add(new Request(path, range, auth));
    boolean cdn = path.startsWith("/cdn/");
    String key = cdn ? path.substring(4) : path;
    byte[] body = files.get(key);
    if (body == null) {
      send(ex, 404, "Entry not found".getBytes());
      return;
    }
    if (!cdn && gated.stream().anyMatch(path::endsWith) && !("Bearer " + token).equals(auth)) {
      send(ex, 401, "Access to this repository is restricted".getBytes());
      return;
    }
    if (!cdn && redirected.stream().anyMatch(path::endsWith)) {
      ex.getResponseHeaders()
          .add("Location", "http://127.0.0.1:" + server.getAddress().getPort() + "/cdn" + path);
      ex.sendResponseHeaders(302, -1);
      ex.close();
      return;
    }
    int from = 0;
    if (range != null && range.startsWith("bytes=")) {
      from = Integer.parseInt(range.substring(6, range.indexOf('-')));
      if (from >= body.length) {
        send(ex, 416, new byte[0]);
        return;
      }
      ex.getResponseHeaders()
          .add("Content-Range", "bytes " + from + "-" + (body.length - 1) + "/" + body.length);
    }
    int length = body.length - from;
    ex.sendResponseHeaders(range != null ? 206 : 200, length);
    OutputStream out = ex.getResponseBody();
    String drop = dropOnce.stream().filter(path::endsWith).findFirst().orElse(null);
    if (drop != null && dropOnce.remove(drop)) {
      out.write(body, from, length / 2);
      out.flush();
      ex.getHttpContext().getServer(); // keep the exchange open, then cut the connection
      ex.close();
      return;
    }
    out.write(body, from, length);
    out.close();
  }

  private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
    ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      ex.getResponseBody().write(body);
    }
    ex.close();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
