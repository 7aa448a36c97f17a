package dev.pockettts.server.audio;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The FFmpeg encoder's lifecycle against the bundled FFmpeg. */
class FfmpegEncoderTest {

  private static float[] tone(int samples) {
    float[] pcm = new float[samples];
    for (int i = 0; i < samples; i++) {
      pcm[i] = (float) (0.3 * Math.sin(2 * Math.PI * 220 * i / 24000.0));
    }
    return pcm;
  }

  @Test
  void nothingReachesTheResponseAfterAnUnfinishedEncoderIsClosed() throws Exception {
    AtomicBoolean closed = new AtomicBoolean();
    AtomicInteger lateWrites = new AtomicInteger();
    OutputStream response =
        new OutputStream() {
          @Override
          public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) {
            if (closed.get()) {
              lateWrites.incrementAndGet();
            }
            try {
              Thread.sleep(20); // a slow client: FFmpeg's output piles up behind the pump
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }

          @Override
          public void flush() {
            if (closed.get()) {
              lateWrites.incrementAndGet();
            }
          }
        };
    for (int round = 0; round < 3; round++) {
      PcmEncoder encoder = Ffmpeg.locate(null).encoder(AudioFormat.MP3, 24000, response);
      for (int i = 0; i < 20; i++) {
        encoder.write(tone(3840));
      }
      Thread.sleep(100); // FFmpeg has encoded much more than the slow client has taken
      encoder.close(); // a failed request: no finish()
      closed.set(true);
      Thread.sleep(200);
      assertThat(lateWrites).hasValue(0);
      closed.set(false);
    }
  }

  @Test
  void speedKeepsThePitchAndScalesTheLength() throws Exception {
    for (double speed : new double[] {0.5, 2.0}) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try (PcmEncoder encoder = Ffmpeg.locate(null).encoder(AudioFormat.PCM, speed, 24000, out)) {
        encoder.write(tone(48000));
        encoder.finish();
      }
      int samples = out.size() / 2;
      assertThat(samples / 24000.0).isBetween(2.0 / speed - 0.1, 2.0 / speed + 0.1);
    }
  }

  @Test
  void atempoStagesStayWithinHalfToDouble() {
    assertThat(Ffmpeg.atempo(4.0)).isEqualTo("atempo=2.0,atempo=2.000000");
    assertThat(Ffmpeg.atempo(0.25)).isEqualTo("atempo=0.5,atempo=0.500000");
    assertThat(Ffmpeg.atempo(1.5)).isEqualTo("atempo=1.500000");
  }
}
