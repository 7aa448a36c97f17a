package dev.pockettts.server.audio;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The start-up check of FFmpeg: the bundled binary runs; a binary the system cannot start makes
 * FFmpeg count as missing (so its requests get the 503 for a missing FFmpeg); one that starts but
 * fails or hangs is reported and left usable.
 */
class FfmpegSelfCheckTest {

  @TempDir Path tmp;

  private Path script(String name, String text) throws Exception {
    Path f = tmp.resolve(name);
    Files.writeString(f, text);
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-xr-x"));
    return f;
  }

  @Test
  void theBundledBinaryRunsAndSaysItsVersion() {
    Ffmpeg ffmpeg = Ffmpeg.locate(null);
    Ffmpeg.Check c = ffmpeg.selfCheck(10_000);
    assertThat(c.runs()).as(c.detail()).isTrue();
    assertThat(c.detail()).startsWith("ffmpeg version");
    assertThat(ffmpeg.present()).isTrue();
  }

  @Test
  void aBinaryTheSystemCannotStartCountsAsMissing() throws Exception {
    // executable, but its interpreter does not exist: the exec itself fails, as on a noexec mount
    Ffmpeg ffmpeg = Ffmpeg.locate(script("ffmpeg", "#!/nonexistent/interpreter\n").toString());
    assertThat(ffmpeg.present()).isTrue(); // nothing known yet
    Ffmpeg.Check c = ffmpeg.selfCheck(10_000);
    assertThat(c.runs()).isFalse();
    assertThat(c.detail()).contains("cannot start FFmpeg");
    assertThat(ffmpeg.present()).isFalse();
  }

  @Test
  void aBinaryThatFailsIsReportedAndLeftUsable() throws Exception {
    Ffmpeg ffmpeg =
        Ffmpeg.locate(script("ffmpeg", "#!/bin/sh\necho 'broken build' >&2\nexit 3\n").toString());
    Ffmpeg.Check c = ffmpeg.selfCheck(10_000);
    assertThat(c.runs()).isFalse();
    assertThat(c.detail()).contains("status 3", "broken build");
    assertThat(ffmpeg.present()).isTrue();
  }

  @Test
  void aBinaryThatHangsIsKilledAtTheDeadline() throws Exception {
    int before = Ffmpeg.liveProcesses();
    Ffmpeg ffmpeg = Ffmpeg.locate(script("ffmpeg", "#!/bin/sh\nexec sleep 30\n").toString());
    Ffmpeg.Check c = ffmpeg.selfCheck(300);
    assertThat(c.runs()).isFalse();
    assertThat(c.detail()).contains("did not end within 300 ms");
    assertThat(ffmpeg.present()).isTrue();
    // the killed process goes away (onExit removes it from the live set); one an earlier test
    // left running may end meanwhile too, so the count may fall below where it was
    long until = System.nanoTime() + 5_000_000_000L;
    while (Ffmpeg.liveProcesses() > before && System.nanoTime() < until) {
      Thread.sleep(20);
    }
    assertThat(Ffmpeg.liveProcesses()).isLessThanOrEqualTo(before);
  }
}
