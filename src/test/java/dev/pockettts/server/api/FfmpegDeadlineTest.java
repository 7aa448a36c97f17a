package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.audio.Ffmpeg;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.TestPropertySource;

/**
 * An FFmpeg that hangs (as one blocked on a live playlist would) never holds a worker past the
 * request's deadline: it is killed with everything it started, its upload is deleted, and the
 * worker serves the next request. One worker and no queue, so a held worker would show as a 503.
 */
@TestPropertySource(
    properties = {
      "REQUEST_TIMEOUT=2s",
      "SYNTHESIS_WORKERS=1",
      "QUEUE_SIZE=0",
      "VOICE_DIR=target/test-voice-deadline",
      "VOICES_DIR=target/test-voices-deadline"
    })
class FfmpegDeadlineTest extends ServerTest {

  static final Path HANGING = Path.of("target/fake-ffmpeg/hanging-ffmpeg.sh").toAbsolutePath();

  @DynamicPropertySource
  static void ffmpeg(DynamicPropertyRegistry registry) throws IOException {
    Files.createDirectories(HANGING.getParent());
    // a wrapper whose child does the hanging: killing only the script would leave the child
    Files.writeString(HANGING, "#!/bin/sh\nsleep 300\n");
    Files.setPosixFilePermissions(HANGING, PosixFilePermissions.fromString("rwxr-xr-x"));
    registry.add("FFMPEG_PATH", HANGING::toString);
  }

  ServerHarness server;

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  /** Processes this JVM started that are the fake FFmpeg or its children. */
  static List<ProcessHandle> fakes() {
    return running("sleep 300", HANGING.toString());
  }

  /** Live processes this JVM started whose command line holds one of {@code marks}. */
  static List<ProcessHandle> running(String... marks) {
    return ProcessHandle.current()
        .descendants()
        .filter(ProcessHandle::isAlive)
        .filter(
            p ->
                p.info()
                    .commandLine()
                    .map(c -> java.util.Arrays.stream(marks).anyMatch(c::contains))
                    .orElse(false))
        .toList();
  }

  static List<Path> uploads() throws IOException {
    try (var s =
        Files.newDirectoryStream(
            Path.of(System.getProperty("java.io.tmpdir")), "pockettts-ref-*")) {
      List<Path> out = new java.util.ArrayList<>();
      s.forEach(out::add);
      return out;
    }
  }

  private void assertWorkerFreeAndNothingLeft() throws Exception {
    // no FFmpeg child is left, and the one worker takes the next request at once
    assertThat(fakes()).isEmpty();
    assertThat(Ffmpeg.liveProcesses()).isZero();
    HttpResponse<byte[]> next =
        server.postJson("/tts", "{\"script\":\"The worker is free.\",\"format\":\"wav\"}");
    assertThat(next.statusCode()).as(new String(next.body())).isEqualTo(200);
  }

  @Test
  void aDecoderThatHangsIsKilledAtTheDeadlineWithItsChildren() throws Exception {
    List<Path> before = uploads();
    long start = System.nanoTime();
    HttpResponse<byte[]> r =
        server.postForm(
            "/tts/clone",
            new ServerHarness.Multipart()
                .field("script", "Hello.")
                .file("voice_file", Path.of("src/test/resources/audio/speech.wav"))
                .field("format", "wav"));
    long millis = (System.nanoTime() - start) / 1_000_000;
    assertProblem(r, 503, "synthesis-timeout");
    assertThat(millis).isBetween(1_500L, 20_000L);
    assertThat(uploads()).containsExactlyInAnyOrderElementsOf(before); // the upload is gone
    assertWorkerFreeAndNothingLeft();
  }

  @Test
  void aLivePlaylistNeverReachesFfmpeg() throws Exception {
    byte[] live =
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\nx.wav\n"
            .getBytes(StandardCharsets.US_ASCII);
    long start = System.nanoTime();
    HttpResponse<byte[]> r =
        server.postForm(
            "/voices",
            new ServerHarness.Multipart()
                .field("name", "live")
                .file("audio", "x.wav", live)
                .field("consent", "true"));
    assertProblem(r, 415, "undecodable-audio");
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(1_500L);
    assertWorkerFreeAndNothingLeft();
  }

  @Test
  void anEncoderThatStopsReadingIsKilledAtTheDeadline() throws Exception {
    // the fake reads nothing: the PCM writes block once the pipe is full
    String script = "A script long enough to fill the pipe to a stalled encoder. ".repeat(20);
    long start = System.nanoTime();
    HttpResponse<byte[]> r =
        server.postJson("/tts", "{\"script\":\"" + script + "\",\"format\":\"mp3\"}");
    long millis = (System.nanoTime() - start) / 1_000_000;
    assertProblem(r, 503, "synthesis-timeout");
    assertThat(millis).isBetween(1_500L, 20_000L);
    assertWorkerFreeAndNothingLeft();
  }

  @Test
  void atShutdownEveryFfmpegStillRunningIsKilledAndItsUploadDeleted() throws Exception {
    List<Path> before = uploads();
    Ffmpeg hanging = Ffmpeg.locate(HANGING.toString());
    byte[] wav = Files.readAllBytes(Path.of("src/test/resources/audio/speech.wav"));
    var decoding =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () -> {
              try {
                return hanging.decode(wav, 10, 24000, 600_000); // a deadline far away
              } catch (Exception e) {
                return null;
              }
            });
    long until = System.nanoTime() + 10_000_000_000L;
    while (fakes().isEmpty() && System.nanoTime() < until) {
      Thread.sleep(20);
    }
    assertThat(fakes()).isNotEmpty();
    assertThat(uploads()).hasSize(before.size() + 1);
    Ffmpeg.destroyAll(); // what the application does when it stops
    decoding.get(10, java.util.concurrent.TimeUnit.SECONDS);
    until = System.nanoTime() + 5_000_000_000L;
    while (!fakes().isEmpty() && System.nanoTime() < until) {
      Thread.sleep(20);
    }
    assertThat(fakes()).isEmpty();
    assertThat(uploads()).containsExactlyInAnyOrderElementsOf(before);
  }
}
