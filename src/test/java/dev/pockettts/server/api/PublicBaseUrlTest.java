package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;

/** PUBLIC_BASE_URL wins over the request; forwarded headers are ignored unless enabled. */
@TestPropertySource(
    properties = {
      "PUBLIC_BASE_URL=https://speech.example.net/",
      "VOICE_DIR=target/test-voice-public"
    })
class PublicBaseUrlTest extends ServerTest {

  @Test
  void urlsUseThePublicBase() throws Exception {
    ServerHarness server = readyServer();
    var r =
        server.send(
            server
                .jsonPost(
                    "/tts", "{\"script\":\"Public base.\",\"type\":\"url\",\"format\":\"wav\"}")
                .header("X-Forwarded-Host", "evil.example.com")
                .build());
    assertThat(r.statusCode()).isEqualTo(200);
    String url = json(r).path("url").asString();
    assertThat(url).startsWith("https://speech.example.net/voice/audio_").endsWith(".wav");
  }
}
