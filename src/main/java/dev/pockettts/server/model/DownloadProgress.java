package dev.pockettts.server.model;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/** Live progress of the model download, read by the health endpoint. Thread-safe. */
public final class DownloadProgress {

  private final AtomicLong totalBytes = new AtomicLong();
  private final AtomicLong doneBytes = new AtomicLong();
  private final AtomicReference<String> currentFile = new AtomicReference<>();
  private final long startNanos = System.nanoTime();

  void addTotal(long bytes) {
    totalBytes.addAndGet(bytes);
  }

  void add(long bytes) {
    doneBytes.addAndGet(bytes);
  }

  void current(String file) {
    currentFile.set(file);
  }

  public long totalBytes() {
    return totalBytes.get();
  }

  public long doneBytes() {
    return doneBytes.get();
  }

  /** The file being downloaded, or null. */
  public String currentFile() {
    return currentFile.get();
  }

  /** Percent done, 0 to 100; -1 while the total is unknown. */
  public double percent() {
    long total = totalBytes.get();
    return total <= 0 ? -1 : Math.min(100.0, 100.0 * doneBytes.get() / total);
  }

  /** Average download speed in bytes per second. */
  public double bytesPerSecond() {
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    return seconds <= 0 ? 0 : doneBytes.get() / seconds;
  }
}
