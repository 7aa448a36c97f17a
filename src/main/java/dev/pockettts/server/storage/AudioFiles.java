package dev.pockettts.server.storage;

import dev.pockettts.server.audio.AudioFormat;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Instant;

/**
 * The {@code type=url} files: written once under a name made here, served at {@code /voice/<name>},
 * swept after {@code VOICE_RETENTION} and beyond {@code VOICE_DIR_MAX_BYTES}. Kept in {@code
 * VOICE_DIR} ({@link AudioFileStore}) or in an S3 bucket that every replica shares ({@link
 * S3AudioFiles}).
 */
public interface AudioFiles {

  /** Where a file being written goes (a local file either way), and the stream to write it. */
  record Target(Path path, OutputStream out) {}

  /** Writes the content of a file to the target it is given. */
  @FunctionalInterface
  interface Writer {
    void write(Target target) throws IOException;
  }

  /**
   * A stored file as it is served.
   *
   * @param etag a strong validator, quoted
   */
  record Stored(long length, Instant modified, String etag) {}

  /**
   * Writes a file through {@code writer}; returns its name. A failed write leaves nothing, and one
   * that would take the store past its cap fails with {@link StorageException.Full}.
   */
  String write(AudioFormat format, Writer writer) throws IOException;

  /** The file of that name if this store made it and has it; null otherwise. */
  Stored find(String name) throws IOException;

  /** Copies bytes {@code from} to {@code to} (inclusive) of a file to {@code out}. */
  void copy(String name, long from, long to, OutputStream out) throws IOException;

  /** A URL that serves the file without this server, or null to serve it at /voice/<name>. */
  String directUrl(String name);

  /** Removes what is too old or too much; returns how many files were removed. */
  int sweep(Instant now);
}
