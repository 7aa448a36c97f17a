package dev.pockettts.server.storage;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts what a file's writer sends through it, and refuses to go past the room the store had when
 * the file began: every write in progress counts against it ({@code inFlight}), this one included.
 */
final class CappedOutput extends FilterOutputStream {

  private final long budget;
  private final AtomicLong inFlight;
  private final long maxBytes;
  private long written;

  CappedOutput(OutputStream out, long budget, AtomicLong inFlight, long maxBytes) {
    super(out);
    this.budget = budget;
    this.inFlight = inFlight;
    this.maxBytes = maxBytes;
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    if (inFlight.get() + len > budget) {
      throw new StorageException.Full(
          "the file would take the audio files past VOICE_DIR_MAX_BYTES ("
              + maxBytes
              + " bytes); ask for type=file, a shorter script, or try again once older files"
              + " have expired");
    }
    out.write(b, off, len);
    written += len;
    inFlight.addAndGet(len);
  }

  /** Takes this file's bytes off the writes in progress (once it landed or failed). */
  void release() {
    inFlight.addAndGet(-written);
    written = 0;
  }
}
