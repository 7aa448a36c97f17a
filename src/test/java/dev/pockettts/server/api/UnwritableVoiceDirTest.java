package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** A VOICE_DIR that cannot be written: type=url says so clearly, streaming still works. */
class UnwritableVoiceDirTest extends ServerTest {

  @DynamicPropertySource
  static void voiceDir(DynamicPropertyRegistry registry) throws IOException {
    // a plain file where the folder should be: even root cannot create files under it
    Path blocker = Path.of("target/voice-dir-is-a-file");
    Files.createDirectories(blocker.getParent());
    Files.writeString(blocker, "not a folder");
    registry.add("VOICE_DIR", () -> blocker.resolve("voice").toString());
    registry.add("VOICES_DIR", () -> blocker.resolve("voices").toString());
  }

  @Test
  void aVoiceLibraryThatCannotBeWrittenSaysSoWithoutTheServersPaths() throws Exception {
    ServerHarness server = readyServer();
    var r =
        server.postForm(
            "/voices",
            new ServerHarness.Multipart()
                .field("name", "nowhere")
                .file("audio", Path.of("src/test/resources/audio/speech.wav"))
                .field("consent", "true"));
    assertProblem(r, 500, "voice-library-unwritable");
    String body = new String(r.body(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(body).contains("VOICES_DIR");
    assertThat(body)
        .doesNotContain(Path.of("").toAbsolutePath().toString())
        .doesNotContain("voice-dir-is-a-file")
        .doesNotContain(".safetensors")
        .doesNotContain(".json");
  }

  @Test
  void urlAnswersFailClearlyAndStreamingWorks() throws Exception {
    ServerHarness server = readyServer();
    var r =
        server.postJson("/tts", "{\"script\":\"Save me.\",\"type\":\"url\",\"format\":\"wav\"}");
    assertProblem(r, 500, "storage-unavailable");
    assertThat(ServerHarness.json(r).path("detail").asString())
        .contains("VOICE_DIR")
        .doesNotContain(Path.of("").toAbsolutePath().toString())
        .doesNotContain("voice-dir-is-a-file");
    var streamed = server.postJson("/tts", "{\"script\":\"Stream me.\",\"format\":\"wav\"}");
    assertThat(streamed.statusCode()).isEqualTo(200);
    assertThat(streamed.body().length).isGreaterThan(44);
  }
}
