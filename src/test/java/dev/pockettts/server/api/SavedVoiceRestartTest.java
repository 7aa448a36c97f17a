package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.TtsApplication;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/** A saved voice is still there, and speaks the same, after the server restarts. */
class SavedVoiceRestartTest {

  @TempDir Path library;

  private ConfigurableApplicationContext start() {
    return new SpringApplicationBuilder(TtsApplication.class)
        .properties(
            "API_KEY=" + KEY,
            "MODELS_DIR=src/test/resources/models/tiny-bundle",
            "OFFLINE=true",
            "TEMPERATURE=0",
            "VOICES_DIR=" + library,
            "VOICE_DIR=target/test-voice-restart")
        .run("--server.port=0");
  }

  private static ServerHarness harness(ConfigurableApplicationContext ctx) throws Exception {
    ServerHarness s =
        new ServerHarness(Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port")));
    s.awaitReady();
    return s;
  }

  private static byte[] speak(ServerHarness s) throws Exception {
    var r =
        s.postJson("/tts", "{\"script\":\"Still here?\",\"model\":\"grandma\",\"format\":\"wav\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    return r.body();
  }

  @Test
  void aSavedVoiceSurvivesARestart() throws Exception {
    byte[] before;
    try (ConfigurableApplicationContext first = start()) {
      ServerHarness s = harness(first);
      var saved =
          s.postForm(
              "/voices",
              new ServerHarness.Multipart()
                  .field("name", "grandma")
                  .field("consent", "true")
                  .file("audio", Path.of("src/test/resources/audio/speech.wav")));
      assertThat(saved.statusCode()).isEqualTo(201);
      before = speak(s);
    }
    // a save cut short by a crash leaves a temporary file; the next start removes it
    Files.write(library.resolve("half.safetensors.partial"), new byte[] {1, 2, 3});
    try (ConfigurableApplicationContext second = start()) {
      ServerHarness s = harness(second);
      assertThat(
              ServerHarness.json(
                      s.send(s.request("/voices/grandma").header("API_KEY", KEY).GET().build()))
                  .path("source")
                  .asString())
          .isEqualTo("cloned");
      assertThat(speak(s)).isEqualTo(before);
    }
    try (Stream<Path> files = Files.list(library)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("grandma.json", "grandma.safetensors");
    }
  }
}
