package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.security.WarmUpToken;
import java.net.http.HttpRequest;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.TestPropertySource;

/**
 * Before {@code /health} says ready, the default voice is in the cache and has spoken once (so the
 * first request is as fast as the next), the server has sent itself one request through the HTTP
 * stack, and neither counts as a synthesis.
 */
@TestPropertySource(properties = {"VOICE_DIR=target/test-voice-warm-up"})
class StartupWarmUpTest extends ServerTest {

  @Autowired WarmUpToken token;

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

    // the server's own POST /tts went through the whole HTTP stack before ready, answered 200
    var requests =
        server.send(
            server
                .request("/actuator/metrics/http.server.requests?tag=uri:/tts&tag=status:200")
                .header("API_KEY", ServerHarness.KEY)
                .GET()
                .build());
    assertThat(requests.statusCode()).isEqualTo(200);
    assertThat(json(requests).path("measurements").get(0).path("value").asDouble()).isEqualTo(1);

    // its header is no key: a guessed secret from this machine is refused like a wrong key
    var forged =
        server.send(
            server
                .request("/tts")
                .header(WarmUpToken.HEADER, "0".repeat(64))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"script\":\"Hi.\"}"))
                .build());
    assertThat(forged.statusCode()).isEqualTo(401);
    // the secret itself lets this machine's request through without a key, outside the metrics
    var own =
        server.send(
            server
                .request("/tts")
                .header(WarmUpToken.HEADER, token.value())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"script\":\"Hi.\"}"))
                .build());
    assertThat(own.statusCode()).isEqualTo(200);
    var after =
        server.send(
            server
                .request("/actuator/metrics/tts.synthesis.duration")
                .header("API_KEY", ServerHarness.KEY)
                .GET()
                .build());
    assertThat(json(after).path("measurements").get(0).path("value").asDouble()).isZero();

    // the first request finds the voice in the cache
    var r = server.postJson("/tts", "{\"script\":\"Hello there.\",\"voice\":\"alba\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(server.get("/health")).path("voice_cache").path("hits").asInt())
        .isGreaterThanOrEqualTo(1);
  }
}
