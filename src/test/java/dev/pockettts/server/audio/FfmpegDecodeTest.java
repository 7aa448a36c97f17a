package dev.pockettts.server.audio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every container a reference recording comes in decodes through its one demuxer: each is made here
 * from the test recording by the bundled FFmpeg, told by its first bytes, and decoded.
 */
class FfmpegDecodeTest {

  private static final Ffmpeg FFMPEG = Ffmpeg.locate(null);
  private static final Path SPEECH = Path.of("src/test/resources/audio/speech.wav");

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "webm|-c:a libopus -f webm|MATROSKA",
        "mka|-c:a libvorbis -f matroska|MATROSKA",
        "aiff|-f aiff|AIFF",
        "caf|-f caf|CAF",
        "aac|-c:a aac -f adts|AAC",
        "amr|-ar 8000 -c:a libopencore_amrnb -f amr|AMR",
        "opus|-c:a libopus -f ogg|OGG",
        "rf64|-rf64 always -f wav|WAV",
        "m4a|-c:a aac -f ipod|MP4",
        "flac|-f flac|FLAC",
        "mp3|-f mp3|MP3"
      })
  void eachContainerIsToldAndDecoded(
      String ext, String args, AudioContainer container, @TempDir Path tmp) throws Exception {
    Path file = tmp.resolve("speech." + ext);
    List<String> cmd =
        new ArrayList<>(
            List.of(
                FFMPEG.executable(), "-nostdin", "-loglevel", "error", "-i", SPEECH.toString()));
    cmd.addAll(List.of(args.split(" ")));
    cmd.add(file.toString());
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as(out).isZero();
    byte[] bytes = Files.readAllBytes(file);
    assertThat(AudioContainer.sniff(java.util.Arrays.copyOf(bytes, AudioContainer.HEAD_BYTES)))
        .isEqualTo(container);
    float[] pcm = FFMPEG.decode(bytes, 1.0, 24000, 30_000);
    assertThat(pcm.length).isBetween(23_000, 24_000); // the first second, as asked
  }

  @org.junit.jupiter.api.Test
  void aFileThatIsNoneOfThemIsRefusedBeforeFfmpegRuns() {
    byte[] text = "#EXTM3U\n/etc/passwd\n".getBytes();
    assertThatThrownBy(() -> FFMPEG.decode(text, 1.0, 24000, 30_000))
        .isInstanceOf(Ffmpeg.UndecodableAudioException.class)
        .hasMessageContaining("not in an audio format")
        .hasMessageNotContaining("/etc");
  }
}
