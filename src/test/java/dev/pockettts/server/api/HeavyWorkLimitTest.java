package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.TestPropertySource;
import org.springframework.web.context.request.ServletWebRequest;

/**
 * Imports, exports and cloning take a worker slot as syntheses do, before an import's body is read,
 * so their memory is bounded: over capacity is a 503 with Retry-After, and running out of memory is
 * one too, never a 500.
 */
@TestPropertySource(properties = {"SYNTHESIS_WORKERS=1", "QUEUE_SIZE=0", "TEMPERATURE=0"})
class HeavyWorkLimitTest extends ServerTest {

  @DynamicPropertySource
  static void library(DynamicPropertyRegistry registry) throws java.io.IOException {
    Path library = Files.createTempDirectory("pockettts-heavy-voices");
    registry.add("VOICES_DIR", library::toString);
    registry.add("VOICE_DIR", () -> library.resolve("audio").toString());
  }

  @Test
  void anImportHoldsTheOnlyWorkerWhileItsBodyArrivesAndOthersGet503() throws Exception {
    ServerHarness server = readyServer();
    byte[] alba =
        server
            .send(
                server
                    .request("/voices/alba/export")
                    .header("API_KEY", KEY)
                    .POST(HttpRequest.BodyPublishers.noBody())
                    .build())
            .body();
    assertThat(alba.length).isGreaterThan(100);
    try (Socket slow = new Socket("localhost", port)) {
      OutputStream out = slow.getOutputStream();
      out.write(
          ("POST /voices/import?name=slowcopy&consent=true HTTP/1.1\r\nHost: localhost\r\n"
                  + "API_KEY: "
                  + KEY
                  + "\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                  + alba.length
                  + "\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.ISO_8859_1));
      out.write(alba, 0, 50); // the rest comes later
      out.flush();
      Thread.sleep(500);
      // the one worker is taken: another import, an export, a clone and a synthesis wait no queue
      HttpResponse<byte[]> other =
          server.send(
              server
                  .request("/voices/import?name=othercopy&consent=true")
                  .header("API_KEY", KEY)
                  .header("Content-Type", "application/octet-stream")
                  .POST(HttpRequest.BodyPublishers.ofByteArray(alba))
                  .build());
      assertProblem(other, 503, "server-busy");
      assertThat(other.headers().firstValue("Retry-After")).isPresent();
      assertProblem(
          server.send(
              server
                  .request("/voices/alba/export")
                  .header("API_KEY", KEY)
                  .POST(HttpRequest.BodyPublishers.noBody())
                  .build()),
          503,
          "server-busy");
      assertProblem(
          server.postForm(
              "/voices",
              new ServerHarness.Multipart()
                  .field("name", "clonecopy")
                  .file("audio", Path.of("src/test/resources/audio/speech.wav"))
                  .field("consent", "true")),
          503,
          "server-busy");
      // the slow one completes once its body is there
      out.write(alba, 50, alba.length - 50);
      out.flush();
      InputStream in = slow.getInputStream();
      String answer = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
      assertThat(answer).startsWith("HTTP/1.1 201");
    }
    // and the worker is free again
    assertThat(
            server
                .send(
                    server
                        .request("/voices/import?name=othercopy&consent=true")
                        .header("API_KEY", KEY)
                        .header("Content-Type", "application/octet-stream")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(alba))
                        .build())
                .statusCode())
        .isEqualTo(201);
  }

  @Test
  void runningOutOfMemoryIsA503WithRetryAfter() {
    MockHttpServletRequest request = new MockHttpServletRequest("POST", "/voices/import");
    MockHttpServletResponse response = new MockHttpServletResponse();
    var answer =
        new ProblemAdvice()
            .outOfMemory(
                new OutOfMemoryError("Java heap space"), new ServletWebRequest(request, response));
    assertThat(answer.getStatusCode().value()).isEqualTo(503);
    assertThat(answer.getHeaders().getFirst("Retry-After")).isEqualTo("10");
    assertThat(((org.springframework.http.ProblemDetail) answer.getBody()).getType())
        .hasToString("/problems/server-busy");
  }
}
