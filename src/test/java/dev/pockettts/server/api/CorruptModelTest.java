package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.engine.ModelFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A model file changed on disk after its checksum was recorded: start-up says so, speech is
 * refused.
 */
class CorruptModelTest extends ServerTest {

  static final Path COPY = Path.of("target/corrupt-model");

  @DynamicPropertySource
  static void corruptCopy(DynamicPropertyRegistry registry) throws IOException {
    dev.pockettts.server.engine.TinyModels.copy(
        dev.pockettts.server.engine.TinyModels.BUNDLE, COPY);
    Path main = COPY.resolve("flow_lm_main_int8.onnx");
    Files.writeString(
        COPY.resolve("checksums.json"),
        "{\"flow_lm_main_int8.onnx\":{\"size\":"
            + Files.size(main)
            + ",\"sha256\":\""
            + ModelFiles.sha256(main)
            + "\",\"source\":\"test\"}}");
    byte[] bytes = Files.readAllBytes(main);
    bytes[bytes.length / 2] ^= 0x21;
    Files.write(main, bytes);
    registry.add("MODELS_DIR", () -> COPY.toString());
    registry.add("VOICE_DIR", () -> "target/test-voice-corrupt");
  }

  @Test
  void startUpReportsTheCorruptFileAndSpeechIsRefused() throws Exception {
    ServerHarness server = server();
    var health = server.awaitFailedHealth();
    assertThat(health.statusCode()).isEqualTo(503);
    assertThat(json(health).path("error").asString()).contains("flow_lm_main_int8.onnx", "corrupt");
    var problem = server.postJson("/tts", "{\"script\":\"Hello.\"}");
    assertProblem(problem, 503, "model-failed");
    // the file is named, the server's folders are not (the health answer needs no key)
    String root = Path.of("").toAbsolutePath().toString();
    for (var r : java.util.List.of(health, problem)) {
      assertThat(new String(r.body(), java.nio.charset.StandardCharsets.UTF_8))
          .doesNotContain(root)
          .doesNotContain(COPY.toString())
          .doesNotContain("/tmp/");
    }
  }
}
