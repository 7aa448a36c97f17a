package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;

/**
 * With RATE_LIMIT_PER_MINUTE, a key that goes over gets 429 with Retry-After; open paths stay open.
 */
@TestPropertySource(properties = {"RATE_LIMIT_PER_MINUTE=3", "VOICE_DIR=target/test-voice-rate"})
class RateLimitTest extends ServerTest {

  @Test
  void theFourthRequestInAMinuteIsRefused() throws Exception {
    ServerHarness server = readyServer();
    for (int i = 0; i < 3; i++) {
      assertThat(
              server
                  .send(server.request("/actuator/metrics").header("API_KEY", KEY).GET().build())
                  .statusCode())
          .isEqualTo(200);
    }
    HttpResponse<byte[]> limited =
        server.postJson("/tts", "{\"script\":\"One too many.\",\"format\":\"wav\"}");
    assertProblem(limited, 429, "rate-limited");
    assertThat(limited.headers().firstValue("Retry-After"))
        .hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isBetween(1L, 60L));
    assertThat(server.get("/health").statusCode()).isEqualTo(200);
    // a wrong key is still a 401, not a 429
    assertProblem(
        server.send(
            server
                .request("/tts")
                .header("API_KEY", "wrong")
                .POST(java.net.http.HttpRequest.BodyPublishers.noBody())
                .build()),
        401,
        "unauthorized");
  }
}
