package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;

/** Guessing keys is throttled per client address: past the limit even the right key waits. */
@TestPropertySource(
    properties = {"AUTH_FAILURES_PER_MINUTE=3", "VOICE_DIR=target/test-voice-authlimit"})
class AuthFailureLimitTest extends ServerTest {

  @Test
  void afterThreeWrongKeysAMinuteTheAddressGets429WithRetryAfter() throws Exception {
    ServerHarness server = readyServer();
    String hi = "{\"script\":\"Hi.\",\"format\":\"wav\"}";
    assertThat(server.postJson("/tts", hi).statusCode()).isEqualTo(200); // the right key is fine
    for (int i = 0; i < 3; i++) {
      HttpResponse<byte[]> wrong =
          server.send(
              server
                  .request("/tts")
                  .header("API_KEY", "guess-" + i)
                  .header("Content-Type", "application/json")
                  .POST(java.net.http.HttpRequest.BodyPublishers.ofString(hi))
                  .build());
      assertProblem(wrong, 401, "unauthorized");
    }
    HttpResponse<byte[]> limited = server.send(server.request("/voices").GET().build());
    assertProblem(limited, 429, "rate-limited");
    long retry = Long.parseLong(limited.headers().firstValue("Retry-After").orElseThrow());
    assertThat(retry).isBetween(1L, 60L);
    // while over the limit no key is checked, the right one included
    assertProblem(
        server.send(server.request("/voices").header("API_KEY", KEY).GET().build()),
        429,
        "rate-limited");
    // the open pages stay open
    assertThat(server.get("/health").statusCode()).isEqualTo(200);
  }
}
