package dev.pockettts.server.api;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * Counts the bytes written through it, to know whether a response has started, and sends each flush
 * on to {@code flusher} (the servlet response's own flush).
 */
final class CountingOutputStream extends FilterOutputStream {

  /** A flush that may fail with an I/O error. */
  interface Flusher {
    void flush() throws IOException;
  }

  private final Flusher flusher;
  private volatile long count;

  CountingOutputStream(OutputStream out, Flusher flusher) {
    super(out);
    this.flusher = flusher;
  }

  @Override
  public void flush() throws IOException {
    out.flush();
    flusher.flush();
  }

  @Override
  public void write(int b) throws IOException {
    out.write(b);
    count++;
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    out.write(b, off, len);
    count += len;
  }

  long count() {
    return count;
  }
}
