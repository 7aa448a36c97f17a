package dev.pockettts.server.engine;

/** Measurements on PCM for tests. */
public final class Signal {

  private Signal() {}

  /** Frequency estimated from zero crossings. */
  public static double frequency(float[] pcm, int from, int to, int sampleRate) {
    int crossings = 0;
    for (int i = from + 1; i < to; i++) {
      if ((pcm[i - 1] < 0) != (pcm[i] < 0)) {
        crossings++;
      }
    }
    return crossings / 2.0 / ((to - from) / (double) sampleRate);
  }

  public static double frequency(float[] pcm, int sampleRate) {
    return frequency(pcm, 0, pcm.length, sampleRate);
  }

  public static double rms(float[] pcm, int from, int to) {
    double sum = 0;
    for (int i = from; i < to; i++) {
      sum += pcm[i] * (double) pcm[i];
    }
    return Math.sqrt(sum / Math.max(1, to - from));
  }

  /** A sine of {@code hz} and {@code amplitude}. */
  public static float[] sine(double hz, double amplitude, int samples, int sampleRate) {
    float[] out = new float[samples];
    for (int i = 0; i < samples; i++) {
      out[i] = (float) (amplitude * Math.sin(2 * Math.PI * hz * i / sampleRate));
    }
    return out;
  }
}
