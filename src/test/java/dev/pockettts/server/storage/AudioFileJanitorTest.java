package dev.pockettts.server.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AudioFileJanitorTest {

  @TempDir Path dir;
  final Instant now = Instant.parse("2026-11-25T12:00:00Z");

  private Path file(String name, int bytes, Duration age) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, new byte[bytes]);
    Files.setLastModifiedTime(p, FileTime.from(now.minus(age)));
    return p;
  }

  private static String name(int n) {
    return "audio_1764000000_" + String.format("%032x", n) + ".mp3";
  }

  @Test
  void filesOlderThanTheRetentionGoAndNewerOnesStay() throws IOException {
    Path old = file(name(1), 10, Duration.ofHours(25));
    Path fresh = file(name(2), 10, Duration.ofHours(23));
    int removed = new AudioFileStore(dir, 1 << 20, Duration.ofHours(24)).sweep(now);
    assertThat(removed).isEqualTo(1);
    assertThat(old).doesNotExist();
    assertThat(fresh).exists();
  }

  @Test
  void overTheSizeLimitTheOldestGoFirst() throws IOException {
    Path a = file(name(1), 400, Duration.ofMinutes(30));
    Path b = file(name(2), 400, Duration.ofMinutes(20));
    Path c = file(name(3), 400, Duration.ofMinutes(10));
    new AudioFileStore(dir, 1000, Duration.ofHours(24)).sweep(now);
    assertThat(a).doesNotExist();
    assertThat(b).exists();
    assertThat(c).exists();
  }

  @Test
  void onlyFilesTheStoreMadeAreTouchedAndStaleTemporaryFilesGo() throws IOException {
    Path foreign = file("notes.txt", 10, Duration.ofDays(30));
    Path stalePart = file("." + name(4) + ".part", 10, Duration.ofHours(2));
    Path livePart = file("." + name(5) + ".part", 10, Duration.ofMinutes(1));
    new AudioFileStore(dir, 10, Duration.ofHours(1)).sweep(now);
    assertThat(foreign).exists();
    assertThat(stalePart).doesNotExist();
    assertThat(livePart).exists(); // maybe still being written
  }

  @Test
  void aMissingFolderIsNoError() {
    assertThat(new AudioFileStore(dir.resolve("none"), 10, Duration.ofHours(1)).sweep(now))
        .isZero();
  }
}
