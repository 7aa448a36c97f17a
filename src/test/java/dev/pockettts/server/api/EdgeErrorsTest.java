package dev.pockettts.server.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.test.context.TestPropertySource;

/**
 * Every answer the server gives is a problem document (OpenAI's error shape under /v1), also those
 * the container makes itself: requests Tomcat cannot parse, methods the servlet refuses, the error
 * page asked for directly, a dot-segment path. Sent on a raw socket, as written.
 */
@TestPropertySource(
    properties = {"AUTH_FAILURES_PER_MINUTE=1000", "VOICE_DIR=target/test-voice-edge"})
class EdgeErrorsTest extends ServerTest {

  @BeforeEach
  void ready() throws Exception {
    readyServer();
  }

  private String send(String request) throws Exception {
    try (Socket s = new Socket("localhost", port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      s.shutdownOutput();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[8192];
      int n;
      while ((n = in.read(buf)) > 0) {
        out.write(buf, 0, n);
      }
      return out.toString(StandardCharsets.UTF_8);
    }
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "GET /a%00b HTTP/1.1|400|bad-request",
        "GET /<> HTTP/1.1|400|bad-request",
        "GARBAGE|400|bad-request",
        "GET /voice/x%2f..%2fy HTTP/1.1|400|bad-request",
        "TRACE / HTTP/1.1|405|method-not-allowed",
        "PUT /ui HTTP/1.1|405|method-not-allowed",
        "GET /error HTTP/1.1|404|not-found",
        "GET /favicon.ico HTTP/1.1|404|not-found",
        "GET /actuator/health/../../tts HTTP/1.1|401|unauthorized",
        "POST /actuator/health/../../voices HTTP/1.1|401|unauthorized",
        "GET /health/../voices HTTP/1.1|401|unauthorized",
        "GET /voice/audio_1700000000_0123456789abcdef0123456789abcdef.wav HTTP/1.1|404|file-not-found"
      })
  void edgeAnswersAreProblems(String line, int status, String type) throws Exception {
    String extra = line.startsWith("PUT") || line.startsWith("POST") ? "Content-Length: 0\r\n" : "";
    String a = send(line + "\r\nHost: localhost\r\n" + extra + "Connection: close\r\n\r\n");
    assertThat(a).as(line).startsWith("HTTP/1.1 " + status);
    assertThat(a).as(line).containsIgnoringCase("Content-Type: application/problem+json");
    assertThat(a).as(line).contains("\"type\":\"/problems/" + type + "\"");
    assertThat(a).as(line).contains("\"status\":" + status);
    assertThat(a).doesNotContain("<html").doesNotContain("Tomcat").doesNotContain("\"timestamp\"");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {"TRACE /v1/audio/speech HTTP/1.1|405", "GET /v1/nothing HTTP/1.1|401"})
  void underV1TheyHaveOpenAisShape(String line, int status) throws Exception {
    String a = send(line + "\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assertThat(a).startsWith("HTTP/1.1 " + status);
    assertThat(a).contains("\"error\":{").contains("\"message\"");
  }

  @ParameterizedTest
  @CsvSource({"10000", "20000"})
  void aHugeHeaderIsAProblem(int size) throws Exception {
    String a =
        send(
            "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: "
                + "a".repeat(size)
                + "\r\nConnection: close\r\n\r\n");
    assertThat(a).startsWith("HTTP/1.1 400").contains("\"type\":\"/problems/bad-request\"");
  }
}
