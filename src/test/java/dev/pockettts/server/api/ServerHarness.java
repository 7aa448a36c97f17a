package dev.pockettts.server.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** HTTP helpers for tests against the running server. */
final class ServerHarness {

  static final String KEY = "test-key-0123456789";
  static final JsonMapper JSON = JsonMapper.builder().build();
  final HttpClient http = HttpClient.newHttpClient();
  final String base;

  ServerHarness(int port) {
    this.base = "http://localhost:" + port;
  }

  HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60));
  }

  HttpResponse<byte[]> send(HttpRequest r) throws IOException, InterruptedException {
    return http.send(r, HttpResponse.BodyHandlers.ofByteArray());
  }

  HttpResponse<byte[]> get(String path) throws IOException, InterruptedException {
    return send(request(path).GET().build());
  }

  HttpResponse<byte[]> postJson(String path, String json) throws IOException, InterruptedException {
    return send(jsonPost(path, json).build());
  }

  /** A POST of {@code json} with the key, for tests that add headers or read the body otherwise. */
  HttpRequest.Builder jsonPost(String path, String json) {
    return request(path)
        .header("API_KEY", KEY)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json));
  }

  static JsonNode json(HttpResponse<byte[]> r) {
    return JSON.readTree(r.body());
  }

  /** Waits until /health says the model is loaded. */
  void awaitReady() throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      HttpResponse<byte[]> r = get("/health");
      if (r.statusCode() == 200 && json(r).path("model_loaded").asBoolean()) {
        return;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the model did not load within 60 s");
  }

  /** Waits until /health reports that the model failed to load; returns that answer. */
  HttpResponse<byte[]> awaitFailedHealth() throws Exception {
    HttpResponse<byte[]> health = get("/health");
    for (int i = 0; i < 100 && !json(health).path("status").asString().equals("error"); i++) {
      Thread.sleep(50);
      health = get("/health");
    }
    return health;
  }

  /** A multipart/form-data body. */
  static final class Multipart {
    final String boundary = "----pockettts" + UUID.randomUUID();
    private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();

    Multipart field(String name, String value) {
      write(
          "--"
              + boundary
              + "\r\nContent-Disposition: form-data; name=\""
              + name
              + "\"\r\n\r\n"
              + value
              + "\r\n");
      return this;
    }

    Multipart file(String name, String filename, byte[] content) {
      write(
          "--"
              + boundary
              + "\r\nContent-Disposition: form-data; name=\""
              + name
              + "\"; filename=\""
              + filename
              + "\"\r\nContent-Type: application/octet-stream\r\n\r\n");
      out.writeBytes(content);
      write("\r\n");
      return this;
    }

    Multipart file(String name, Path file) throws IOException {
      return file(name, file.getFileName().toString(), Files.readAllBytes(file));
    }

    HttpRequest.BodyPublisher body() {
      write("--" + boundary + "--\r\n");
      return HttpRequest.BodyPublishers.ofByteArray(out.toByteArray());
    }

    String contentType() {
      return "multipart/form-data; boundary=" + boundary;
    }

    private void write(String s) {
      out.writeBytes(s.getBytes(StandardCharsets.UTF_8));
    }
  }

  HttpResponse<byte[]> postForm(String path, Multipart form)
      throws IOException, InterruptedException {
    return send(
        request(path)
            .header("API_KEY", KEY)
            .header("Content-Type", form.contentType())
            .POST(form.body())
            .build());
  }

  static void assertProblem(HttpResponse<byte[]> r, int status, String type) {
    assertThat(r.statusCode())
        .as("status of %s", new String(r.body(), StandardCharsets.UTF_8))
        .isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type"))
        .hasValueSatisfying(ct -> assertThat(ct).startsWith("application/problem+json"));
    JsonNode body = json(r);
    assertThat(body.path("status").asInt()).isEqualTo(status);
    assertThat(body.path("type").asString()).isEqualTo("/problems/" + type);
    assertThat(body.path("title").asString()).isNotBlank();
    assertThat(body.path("detail").asString()).isNotBlank();
    assertThat(new String(r.body(), StandardCharsets.UTF_8))
        .doesNotContain("at dev.pockettts")
        .doesNotContain("Exception");
  }
}
