package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;

/** Without FFmpeg, MP3/OGG and cloning are refused before any byte is sent; WAV still works. */
@TestPropertySource(
    properties = {"FFMPEG_PATH=target/no-such-ffmpeg", "VOICE_DIR=target/test-voice-noffmpeg"})
class MissingFfmpegTest extends ServerTest {

  @Test
  void onlyWavWorksAndTheRestSaysWhy() throws Exception {
    ServerHarness server = readyServer();
    assertProblem(
        server.postJson("/tts", "{\"script\":\"Hello.\",\"format\":\"mp3\"}"),
        503,
        "encoder-unavailable");
    assertProblem(
        server.postJson("/tts", "{\"script\":\"Hello.\",\"format\":\"ogg\",\"type\":\"url\"}"),
        503,
        "encoder-unavailable");
    assertProblem(
        server.postForm(
            "/tts/clone",
            new ServerHarness.Multipart()
                .field("script", "Hello.")
                .file("voice_file", Path.of("src/test/resources/audio/speech.wav"))),
        503,
        "encoder-unavailable");
    assertThat(server.postJson("/tts", "{\"script\":\"Hello.\",\"format\":\"wav\"}").statusCode())
        .isEqualTo(200);
  }
}
