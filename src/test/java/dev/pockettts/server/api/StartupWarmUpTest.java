package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;

/**
 * Before {@code /health} says ready, the default voice is in the cache and has spoken once (so the
 * first request is as fast as the next), and that warm-up is not counted as a request.
 */
@TestPropertySource(properties = {"VOICE_DIR=target/test-voice-warm-up"})
class StartupWarmUpTest extends ServerTest {

  @Test
  void theDefaultVoiceIsLoadedAndSpokenBeforeReadyWithoutCountingAsARequest() throws Exception {
    ServerHarness server = readyServer();
    var health = json(server.get("/health"));
    assertThat(health.path("model_state").asString()).isEqualTo("ready");
    assertThat(health.path("voice_cache").path("voices").asInt()).isEqualTo(1);
    assertThat(health.path("voice_cache").path("misses").asInt()).isEqualTo(1);
    var metrics =
        server.send(
            server
                .request("/actuator/metrics/tts.synthesis.duration")
                .header("API_KEY", ServerHarness.KEY)
                .GET()
                .build());
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(json(metrics).path("measurements").get(0).path("value").asDouble()).isZero();

    // the first request finds the voice in the cache
    var r = server.postJson("/tts", "{\"script\":\"Hello there.\",\"voice\":\"alba\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(server.get("/health")).path("voice_cache").path("hits").asInt())
        .isGreaterThanOrEqualTo(1);
  }
}
