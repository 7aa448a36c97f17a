package dev.pockettts.server.audio;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class AudioContainerTest {

  @ParameterizedTest
  @CsvSource({
    "speech.wav, WAV",
    "speech.mp3, MP3",
    "speech.ogg, OGG",
    "speech.flac, FLAC",
    "speech-stereo.m4a, MP4"
  })
  void theTestRecordingsAreToldByTheirFirstBytes(String file, AudioContainer expected)
      throws IOException {
    byte[] head =
        java.util.Arrays.copyOf(
            Files.readAllBytes(Path.of("src/test/resources/audio", file)),
            AudioContainer.HEAD_BYTES);
    assertThat(AudioContainer.sniff(head)).isEqualTo(expected);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "#EXTM3U\n#EXTINF:4.0,\n/tmp/x.wav\n",
        "ffconcat version 1.0\nfile 'a.wav'\n",
        "file '/etc/passwd'\n",
        "<?xml version=\"1.0\"?><MPD>",
        "[playlist]\nFile1=/tmp/x.wav\n",
        "concat:/a|/b",
        "",
        "RIFF\0\0\0\0AVI LIST",
        "FORM\0\0\0\08SVX",
        "GIF89a"
      })
  void playlistsListsAndOtherFormatsAreNoAudioContainer(String text) {
    assertThat(AudioContainer.sniff(text.getBytes(StandardCharsets.ISO_8859_1))).isNull();
  }

  @ParameterizedTest
  @CsvSource({
    "1A45DFA3, MATROSKA",
    "FFFB9064, MP3",
    "FFF15080, AAC",
    "464F524D00000000414946460000, AIFF",
    "2321414D520A, AMR",
    "63616666, CAF",
    "0000002066747970, MP4"
  })
  void otherContainersAreKnownByTheirMagic(String hex, AudioContainer expected) {
    assertThat(AudioContainer.sniff(java.util.HexFormat.of().parseHex(hex))).isEqualTo(expected);
  }

  @org.junit.jupiter.api.Test
  void ffmpegMessagesLoseTheServersPaths() {
    Path upload = Path.of("/tmp/pockettts-ref-123.audio");
    assertThat(
            Ffmpeg.withoutPaths(
                "[wav @ 0x2b487e40] invalid start code; file:/tmp/pockettts-ref-123.audio: Invalid"
                    + " data found; /etc/passwd: No such file or directory",
                upload))
        .isEqualTo(
            "invalid start code; the upload: Invalid data found; a file: No such file or directory");
  }
}
