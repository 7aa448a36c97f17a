package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;

/** Behind a reverse proxy, returned URLs use the proxy's host and scheme when told to. */
@TestPropertySource(
    properties = {"FORWARDED_HEADERS=true", "VOICE_DIR=target/test-voice-forwarded"})
class ForwardedHeadersTest extends ServerTest {

  @Test
  void urlsFollowTheForwardedHostAndScheme() throws Exception {
    ServerHarness server = readyServer();
    var r =
        server.send(
            server
                .jsonPost("/tts", "{\"script\":\"Behind a proxy.\",\"type\":\"url\"}")
                .header("X-Forwarded-Host", "tts.example.org")
                .header("X-Forwarded-Proto", "https")
                .build());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(r).path("url").asString()).startsWith("https://tts.example.org/voice/audio_");
  }
}
