package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * An encoder that writes nothing is a failure, never a 200 with an empty or header-only body: one
 * that reads all the audio and exits 0 silently, and one that fails before any audio.
 */
class SilentEncoderTest extends ServerTest {

  static final Path DIR = Path.of("target/fake-ffmpeg").toAbsolutePath();
  static final Path ACTIVE = DIR.resolve("silent-active.sh");
  static final Path SILENT = DIR.resolve("silent.sh");
  static final Path FAILING = DIR.resolve("failing.sh");
  static Path folder;

  @DynamicPropertySource
  static void ffmpeg(DynamicPropertyRegistry registry) throws IOException {
    Files.createDirectories(DIR);
    Files.writeString(SILENT, "#!/bin/sh\ncat > /dev/null\nexit 0\n");
    Files.writeString(FAILING, "#!/bin/sh\necho 'Unknown encoder' >&2\nexit 1\n");
    for (Path p : new Path[] {SILENT, FAILING}) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    Files.copy(SILENT, ACTIVE, StandardCopyOption.REPLACE_EXISTING);
    registry.add("FFMPEG_PATH", ACTIVE::toString);
    folder = Files.createTempDirectory("pockettts-silent-voice");
    registry.add("VOICE_DIR", folder::toString);
  }

  ServerHarness server;

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  @AfterEach
  void silentAgain() throws IOException {
    Files.copy(SILENT, ACTIVE, StandardCopyOption.REPLACE_EXISTING);
  }

  static long files() throws IOException {
    try (Stream<Path> s = Files.list(folder)) {
      return s.count();
    }
  }

  private void assertNoAudioIsAnError() throws Exception {
    for (String format : new String[] {"mp3", "flac", "ogg"}) {
      assertProblem(
          server.postJson(
              "/tts", "{\"script\":\"Nothing comes out.\",\"format\":\"" + format + "\"}"),
          500,
          "internal-error");
      assertProblem(
          server.postJson(
              "/tts",
              "{\"script\":\"Nothing comes out.\",\"format\":\"" + format + "\",\"type\":\"url\"}"),
          500,
          "internal-error");
    }
    assertThat(files()).isZero(); // no empty file kept
    // WAV at another speed goes through FFmpeg: a problem, not a bare 44-byte header
    HttpResponse<byte[]> wav =
        server.send(
            server
                .jsonPost(
                    "/v1/audio/speech",
                    "{\"model\":\"tts-1\",\"input\":\"Nothing comes out.\",\"voice\":\"alloy\","
                        + "\"response_format\":\"wav\",\"speed\":1.5}")
                .build());
    assertThat(wav.statusCode()).isEqualTo(500);
    assertThat(ServerHarness.json(wav).path("error").path("message").asString()).isNotBlank();
    // the server itself is fine
    assertThat(
            server
                .postJson("/tts", "{\"script\":\"Plain WAV needs no FFmpeg.\",\"format\":\"wav\"}")
                .statusCode())
        .isEqualTo(200);
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void anEncoderThatWritesNothingIsAnError(boolean exitsCleanly) throws Exception {
    Files.copy(exitsCleanly ? SILENT : FAILING, ACTIVE, StandardCopyOption.REPLACE_EXISTING);
    assertNoAudioIsAnError();
  }
}
