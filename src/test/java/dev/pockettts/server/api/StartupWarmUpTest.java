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
    assertThat(metric(server, "tts.synthesis.duration")).isZero();

    // the server's own POST /tts went through the whole HTTP stack before ready, answered 200
    assertThat(metric(server, "http.server.requests?tag=uri:/tts&tag=status:200")).isEqualTo(1);

    // its header is no key: a guessed secret from this machine is refused like a wrong key
    assertThat(withWarmUpHeader(server, "0".repeat(64)).statusCode()).isEqualTo(401);
    // the secret itself lets this machine's request through without a key, outside the metrics
    assertThat(withWarmUpHeader(server, token.value()).statusCode()).isEqualTo(200);
    assertThat(metric(server, "tts.synthesis.duration")).isZero();

    // the first request finds the voice in the cache
    var r = server.postJson("/tts", "{\"script\":\"Hello there.\",\"voice\":\"alba\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(server.get("/health")).path("voice_cache").path("hits").asInt())
        .isGreaterThanOrEqualTo(1);
  }

  /** The first measurement (a count) of the metric {@code query} names. */
  private static double metric(ServerHarness server, String query) throws Exception {
    var r =
        server.send(
            server
                .request("/actuator/metrics/" + query)
                .header("API_KEY", ServerHarness.KEY)
                .GET()
                .build());
    assertThat(r.statusCode()).isEqualTo(200);
    return json(r).path("measurements").get(0).path("value").asDouble();
  }

  /** POST /tts without a key, with {@code secret} in the warm-up header. */
  private static java.net.http.HttpResponse<byte[]> withWarmUpHeader(
      ServerHarness server, String secret) throws Exception {
    return server.send(
        server
            .request("/tts")
            .header(WarmUpToken.HEADER, secret)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"script\":\"Hi.\"}"))
            .build());
  }
}
