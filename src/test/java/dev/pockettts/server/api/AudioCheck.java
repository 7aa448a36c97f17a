package dev.pockettts.server.api;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import ws.schild.jave.EncoderException;
import ws.schild.jave.MultimediaObject;
import ws.schild.jave.info.AudioInfo;
import ws.schild.jave.info.MultimediaInfo;

/** Decodes audio answers to check what a listener would get. */
final class AudioCheck {

  record Info(String format, int sampleRate, int channels, double seconds) {}

  private AudioCheck() {}

  /** Format, sample rate, channels and duration, as FFmpeg reads them. */
  static Info probe(byte[] audio, String extension) throws IOException, EncoderException {
    Path tmp = Files.createTempFile("answer", "." + extension);
    try {
      Files.write(tmp, audio);
      MultimediaInfo info = new MultimediaObject(tmp.toFile()).getInfo();
      AudioInfo a = info.getAudio();
      return new Info(
          info.getFormat(), a.getSamplingRate(), a.getChannels(), info.getDuration() / 1000.0);
    } finally {
      Files.delete(tmp);
    }
  }

  /** Samples of a 16-bit mono WAV (after its 44-byte header) as floats. */
  static float[] wavSamples(byte[] wav) {
    ByteBuffer b = ByteBuffer.wrap(wav, 44, wav.length - 44).order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[(wav.length - 44) / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.getShort() / 32767f;
    }
    return out;
  }

  static int wavSampleRate(byte[] wav) {
    return ByteBuffer.wrap(wav).order(ByteOrder.LITTLE_ENDIAN).getInt(24);
  }

  static double frequency(float[] pcm, int sampleRate) {
    int crossings = 0;
    for (int i = 1; i < pcm.length; i++) {
      if ((pcm[i - 1] < 0) != (pcm[i] < 0)) {
        crossings++;
      }
    }
    return crossings / 2.0 / (pcm.length / (double) sampleRate);
  }
}
