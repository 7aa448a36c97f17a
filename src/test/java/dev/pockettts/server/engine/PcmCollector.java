package dev.pockettts.server.engine;

import java.util.ArrayList;
import java.util.List;

/** A sink that keeps every block. */
public final class PcmCollector implements PcmSink {

  private final List<float[]> blocks = new ArrayList<>();

  @Override
  public synchronized void accept(float[] samples) {
    blocks.add(samples);
  }

  public synchronized List<float[]> blocks() {
    return List.copyOf(blocks);
  }

  public synchronized float[] samples() {
    int n = blocks.stream().mapToInt(b -> b.length).sum();
    float[] out = new float[n];
    int at = 0;
    for (float[] b : blocks) {
      System.arraycopy(b, 0, out, at, b.length);
      at += b.length;
    }
    return out;
  }
}
