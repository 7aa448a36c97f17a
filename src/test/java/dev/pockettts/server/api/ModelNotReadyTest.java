package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.synthesis.ModelService;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.test.context.TestPropertySource;
import org.springframework.web.ErrorResponseException;

/** Without a model the server still answers: 503 problems for speech, the reason in /health. */
@TestPropertySource(
    properties = {"MODELS_DIR=target/no-such-models", "VOICE_DIR=target/test-voice-none"})
class ModelNotReadyTest extends ServerTest {

  @Test
  void aModelThatCannotLoadIsReportedAndSpeechIsRefused() throws Exception {
    ServerHarness server = server();
    var health = server.awaitFailedHealth();
    assertThat(health.statusCode()).isEqualTo(503);
    assertThat(json(health).path("error").asString()).contains("OFFLINE=true");
    assertThat(json(health).path("error").asString())
        .doesNotContain(Path.of("").toAbsolutePath().toString());
    assertProblem(server.postJson("/tts", "{\"script\":\"Hello.\"}"), 503, "model-failed");
    assertThat(server.get("/").statusCode()).isEqualTo(200);
    assertThat(server.get("/actuator/health/readiness").statusCode()).isEqualTo(503);
    assertThat(server.get("/actuator/health/liveness").statusCode()).isEqualTo(200);
  }

  @Test
  void whileLoadingSpeechGets503WithRetryAfter(@TempDir Path dir) {
    ServerSettings settings =
        ServerSettings.parse(Map.of("API_KEY", "k", "MODELS_DIR", dir.toString())::get);
    ModelService notStarted = new ModelService(settings);
    try {
      notStarted.defaultBundle();
      throw new AssertionError("expected a 503");
    } catch (dev.pockettts.server.synthesis.SynthesisException.ModelNotReady e) {
      ErrorResponseException p = ProblemAdvice.toProblem(e);
      assertThat(p.getStatusCode().value()).isEqualTo(503);
      assertThat(p.getHeaders().getFirst("Retry-After")).isNotBlank();
      assertThat(p.getBody().getType().toString()).isEqualTo("/problems/model-not-ready");
    }
  }
}
