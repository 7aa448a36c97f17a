package dev.pockettts.server.engine;

import java.io.IOException;

/** Receives 24 kHz mono float PCM as soon as each decoder block is ready, in order. */
@FunctionalInterface
public interface PcmSink {

  /** Takes one block; throwing stops the synthesis (for example when the client went away). */
  void accept(float[] samples) throws IOException;
}
