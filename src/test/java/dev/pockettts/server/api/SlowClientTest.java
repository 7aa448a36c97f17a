package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;

/**
 * A slow or stalled request body cannot hold a server thread: without the key it is never asked for
 * nor read (no 100 Continue, the connection closes after the 401), and with the key it must arrive
 * within BODY_TIMEOUT.
 */
@TestPropertySource(
    properties = {
      "BODY_TIMEOUT=2s",
      "CONNECTION_TIMEOUT=2s",
      "AUTH_FAILURES_PER_MINUTE=100",
      "VOICE_DIR=target/test-voice-slow"
    })
class SlowClientTest extends ServerTest {

  @BeforeEach
  void ready() throws Exception {
    readyServer();
  }

  /** What the server sends back before it closes the connection, or by {@code millis}. */
  private static String answer(Socket s, long millis) throws IOException {
    s.setSoTimeout(250);
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    InputStream in = s.getInputStream();
    long until = System.nanoTime() + millis * 1_000_000;
    byte[] buf = new byte[4096];
    while (System.nanoTime() < until) {
      try {
        int n = in.read(buf);
        if (n < 0) {
          return got.toString(StandardCharsets.ISO_8859_1) + "<closed>";
        }
        got.write(buf, 0, n);
      } catch (SocketTimeoutException e) {
        // keep waiting
      } catch (IOException e) {
        return got.toString(StandardCharsets.ISO_8859_1) + "<closed>";
      }
    }
    return got.toString(StandardCharsets.ISO_8859_1);
  }

  private Socket open(String head) throws IOException {
    Socket s = new Socket("localhost", port);
    OutputStream out = s.getOutputStream();
    out.write(head.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
    return s;
  }

  @Test
  void withoutTheKeyAnExpectContinueBodyIsNeverAskedFor() throws Exception {
    try (Socket s =
        open(
            "POST /tts HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n")) {
      long start = System.nanoTime();
      String a = answer(s, 5_000);
      assertThat(a).startsWith("HTTP/1.1 401").doesNotContain("100 Continue");
      assertThat(a).endsWith("<closed>");
      assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(3_000);
    }
  }

  @Test
  void withoutTheKeyASlowBodyIsAnsweredAtOnceAndNotRead() throws Exception {
    try (Socket s =
        open(
            "POST /tts/clone HTTP/1.1\r\nHost: localhost\r\n"
                + "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 10000000\r\n\r\n"
                + "--x\r\n")) {
      long start = System.nanoTime();
      String a = answer(s, 5_000);
      assertThat(a).startsWith("HTTP/1.1 401").endsWith("<closed>");
      assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(3_000);
    }
  }

  /**
   * Sends a byte of body every half second (each read is quick, the whole body never comes) until
   * the server answers; returns the answer and checks it came within 8 s.
   */
  private static String trickle(Socket s) throws Exception {
    OutputStream out = s.getOutputStream();
    long start = System.nanoTime();
    StringBuilder a = new StringBuilder();
    for (int i = 0; i < 20 && a.length() == 0; i++) {
      try {
        out.write('a');
        out.flush();
      } catch (IOException closed) {
        a.append("<closed>");
        break;
      }
      a.append(answer(s, 500));
    }
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(8_000);
    return a.toString();
  }

  @Test
  void withTheKeyAStalledJsonBodyEndsAtTheDeadline() throws Exception {
    try (Socket s =
        open(
            "POST /tts HTTP/1.1\r\nHost: localhost\r\nAPI_KEY: "
                + KEY
                + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                + "{\"script\":\"")) {
      assertThat(trickle(s)).startsWith("HTTP/1.1 408").contains("/problems/body-timeout");
    }
  }

  @Test
  void withTheKeyAStalledFormIsCutAtTheDeadline() throws Exception {
    try (Socket s =
        open(
            "POST /tts/clone HTTP/1.1\r\nHost: localhost\r\nAPI_KEY: "
                + KEY
                + "\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                + "Content-Length: 100000\r\n\r\n--x\r\n")) {
      assertThat(trickle(s)).startsWith("HTTP/1.1 408").contains("/problems/body-timeout");
    }
  }

  @Test
  void theApiDescriptionPagesCarryTheWebPagesSecurityHeaders() throws Exception {
    ServerHarness server = server();
    for (String path : new String[] {"/swagger-ui/index.html", "/v3/api-docs"}) {
      var r = server.get(path);
      assertThat(r.statusCode()).as(path).isEqualTo(200);
      assertThat(r.headers().firstValue("Content-Security-Policy").orElse(""))
          .as(path)
          .contains("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'");
      assertThat(r.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
      assertThat(r.headers().firstValue("Referrer-Policy")).hasValue("no-referrer");
    }
  }
}
