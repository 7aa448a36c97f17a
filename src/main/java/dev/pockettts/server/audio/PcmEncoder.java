package dev.pockettts.server.audio;

import java.io.IOException;

/** Turns float PCM blocks into an encoded stream, block by block. */
public interface PcmEncoder extends AutoCloseable {

  /** Encodes one block (mono float samples, nominally in [-1, 1]). */
  void write(float[] samples) throws IOException;

  /** Flushes the last bytes; the stream is complete only after this returns. */
  void finish() throws IOException;

  /**
   * Stops the encoding at once from another thread (the request ran out of time): a write blocked
   * on a stalled encoder returns with an error.
   */
  default void abort() {}

  /** Releases resources; after a failure, stops without completing the stream. */
  @Override
  void close();
}
