package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.TestPropertySource;

/**
 * An FFmpeg that dies mid-stream: the client gets a broken stream, never a short file presented as
 * complete, and other requests are unaffected.
 */
@TestPropertySource(properties = "VOICE_DIR=target/test-voice-fault")
class EncoderFaultTest extends ServerTest {

  static final Path DYING = Path.of("target/fake-ffmpeg/dying-ffmpeg.sh");

  @DynamicPropertySource
  static void ffmpeg(DynamicPropertyRegistry registry) throws IOException {
    Files.createDirectories(DYING.getParent());
    // reads some PCM, then dies as if killed, before writing anything
    Files.writeString(DYING, "#!/bin/sh\nhead -c 40000 > /dev/null\nkill -9 $$\n");
    Files.setPosixFilePermissions(DYING, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.copy(
        DYING,
        DYING.resolveSibling("active.sh"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    registry.add(
        "FFMPEG_PATH", () -> DYING.resolveSibling("active.sh").toAbsolutePath().toString());
  }

  ServerHarness server;

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  @Test
  void anEncoderThatDiesBeforeItsFirstByteGivesAProblemNotAFile() throws Exception {
    String script = "This sentence needs more audio than the broken encoder will take. ".repeat(5);
    var r = server.postJson("/tts", "{\"script\":\"" + script + "\",\"format\":\"mp3\"}");
    assertProblem(r, 500, "internal-error");
    HttpResponseCheck.ok(
        server.postJson("/tts", "{\"script\":\"Still fine.\",\"format\":\"wav\"}"));
  }

  @Test
  void anEncoderThatDiesAfterItsFirstBytesCutsTheConnection() throws Exception {
    // this fake writes 300 kB of "audio" first, so the response has started when it dies
    Path loud = DYING.resolveSibling("dying-after-output.sh");
    Files.writeString(
        loud, "#!/bin/sh\nhead -c 300000 /dev/zero\nhead -c 400000 > /dev/null\nkill -9 $$\n");
    Files.setPosixFilePermissions(loud, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.copy(
        loud, DYING.resolveSibling("active.sh"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    String script = "A long script keeps the encoder busy for a while. ".repeat(40);
    try {
      for (int i = 0; i < 5; i++) {
        assertThatThrownBy(
                () -> server.postJson("/tts", "{\"script\":\"" + script + "\",\"format\":\"ogg\"}"))
            .as("run %d", i)
            .isInstanceOf(IOException.class);
      }
    } finally {
      Files.copy(
          DYING,
          DYING.resolveSibling("active.sh"),
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    HttpResponseCheck.ok(
        server.postJson("/tts", "{\"script\":\"Still fine.\",\"format\":\"wav\"}"));
  }

  @Test
  void aSavedFileIsNotKeptWhenItsEncoderFails() throws Exception {
    var r =
        server.postJson(
            "/tts",
            "{\"script\":\"" + "Save me. ".repeat(30) + "\",\"format\":\"ogg\",\"type\":\"url\"}");
    assertProblem(r, 500, "internal-error");
    try (var files = Files.list(Path.of("target/test-voice-fault"))) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".ogg"));
    }
  }

  /** Small helper so the intent reads plainly. */
  static final class HttpResponseCheck {
    static void ok(java.net.http.HttpResponse<byte[]> r) {
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body().length).isGreaterThan(44);
    }
  }
}
