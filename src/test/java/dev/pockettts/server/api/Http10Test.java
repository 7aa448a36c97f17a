package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;

/**
 * HTTP/1.0 has no chunked encoding, so audio for such a client is made first and sent with its
 * length (a synthesis that fails is a problem response: {@link SynthesisTimeoutTest}).
 */
@TestPropertySource(properties = "VOICE_DIR=target/test-voice-http10")
class Http10Test extends ServerTest {

  @BeforeEach
  void ready() throws Exception {
    readyServer();
  }

  private byte[] post10(String json) throws Exception {
    return post10(port, json);
  }

  /** The response to a POST /tts of the JSON over HTTP/1.0, read to its end. */
  static byte[] post10(int port, String json) throws Exception {
    try (Socket s = new Socket("localhost", port)) {
      s.setSoTimeout(30_000);
      byte[] body = json.getBytes(StandardCharsets.UTF_8);
      s.getOutputStream()
          .write(
              ("POST /tts HTTP/1.0\r\nHost: localhost\r\nAPI_KEY: "
                      + KEY
                      + "\r\nContent-Type: application/json\r\nContent-Length: "
                      + body.length
                      + "\r\n\r\n")
                  .getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().write(body);
      s.getOutputStream().flush();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[65536];
      int n;
      while ((n = in.read(buf)) > 0) {
        out.write(buf, 0, n);
      }
      return out.toByteArray();
    }
  }

  static String head(byte[] response) {
    String all = new String(response, StandardCharsets.ISO_8859_1);
    return all.substring(0, all.indexOf("\r\n\r\n"));
  }

  static byte[] body(byte[] response) {
    String all = new String(response, StandardCharsets.ISO_8859_1);
    return Arrays.copyOfRange(response, all.indexOf("\r\n\r\n") + 4, response.length);
  }

  @Test
  void audioForAnHttp10ClientComesWithItsLength() throws Exception {
    byte[] r = post10("{\"script\":\"Hello there.\",\"format\":\"wav\"}");
    String head = head(r);
    assertThat(head).startsWith("HTTP/1.1 200").containsIgnoringCase("Content-Length:");
    assertThat(head).doesNotContainIgnoringCase("Transfer-Encoding");
    long length =
        Long.parseLong(
            head.lines()
                .filter(l -> l.toLowerCase().startsWith("content-length:"))
                .findFirst()
                .orElseThrow()
                .substring(15)
                .strip());
    byte[] wav = body(r);
    assertThat(wav).hasSize((int) length);
    assertThat(AudioCheck.wavSamples(wav).length).isEqualTo((wav.length - 44) / 2);
    // the header has the exact sizes, not the streaming placeholders
    assertThat(
            java.nio.ByteBuffer.wrap(wav, 40, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt())
        .isEqualTo(wav.length - 44);
  }
}
