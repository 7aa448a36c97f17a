package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;

/**
 * One worker and no queue: a second request is told to come back; a client that leaves frees the
 * worker.
 */
@TestPropertySource(
    properties = {"SYNTHESIS_WORKERS=1", "QUEUE_SIZE=0", "VOICE_DIR=target/test-voice-busy"})
class BusyServerTest extends ServerTest {

  static final String LONG =
      "{\"script\":\""
          + "A long script keeps the only worker busy. ".repeat(1000)
          + "\",\"format\":\"wav\"}";

  ServerHarness server;

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  private HttpResponse<InputStream> startLong() throws Exception {
    return server.http.send(
        server.jsonPost("/tts", LONG).build(), HttpResponse.BodyHandlers.ofInputStream());
  }

  private void awaitIdle() throws Exception {
    for (int i = 0; i < 60; i++) { // 3 s, far less than the whole script takes
      if (json(server.get("/health")).path("synthesis").path("active").asInt() == 0) {
        return;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the worker was not freed");
  }

  @Test
  void beyondCapacityA503WithRetryAfterAndAfterwardsServiceAgain() throws Exception {
    HttpResponse<InputStream> first = startLong();
    try (InputStream in = first.body()) {
      assertThat(in.readNBytes(100)).hasSize(100);
      assertThat(json(server.get("/health")).path("synthesis").path("active").asInt()).isEqualTo(1);
      HttpResponse<byte[]> second =
          server.postJson("/tts", "{\"script\":\"Me too.\",\"format\":\"wav\"}");
      assertProblem(second, 503, "server-busy");
      assertThat(second.headers().firstValue("Retry-After")).isPresent();
      // a bad request is still told what is wrong, not that the server is busy
      assertProblem(
          server.postJson("/tts", "{\"script\":\"Me too.\",\"model\":\"nobody\"}"),
          400,
          "unknown-voice");
    }
    // the client went away mid-stream: generation stops and the worker is free again
    awaitIdle();
    assertThat(
            server
                .postJson("/tts", "{\"script\":\"Now it is my turn.\",\"format\":\"wav\"}")
                .statusCode())
        .isEqualTo(200);
  }
}
