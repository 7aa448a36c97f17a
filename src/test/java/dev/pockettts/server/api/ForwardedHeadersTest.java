package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/** Behind a reverse proxy, returned URLs use the proxy's host and scheme when told to. */
@SpringBootTest(
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "API_KEY=" + KEY,
      "MODELS_DIR=src/test/resources/models/tiny-bundle",
      "OFFLINE=true",
      "FORWARDED_HEADERS=true",
      "VOICE_DIR=target/test-voice-forwarded"
    })
class ForwardedHeadersTest {

  @LocalServerPort int port;

  @Test
  void urlsFollowTheForwardedHostAndScheme() throws Exception {
    ServerHarness server = new ServerHarness(port);
    server.awaitReady();
    var r =
        server.send(
            server
                .request("/tts")
                .header("API_KEY", KEY)
                .header("Content-Type", "application/json")
                .header("X-Forwarded-Host", "tts.example.org")
                .header("X-Forwarded-Proto", "https")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"script\":\"Behind a proxy.\",\"type\":\"url\"}"))
                .build());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(r).path("url").asString()).startsWith("https://tts.example.org/voice/audio_");
  }
}
