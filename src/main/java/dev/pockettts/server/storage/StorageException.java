package dev.pockettts.server.storage;

import java.io.IOException;

/**
 * A {@code type=url} file could not be stored. An I/O exception, so that it travels through the
 * encoder's output like any write failure and stops the synthesis that feeds it.
 */
public abstract class StorageException extends IOException {

  protected StorageException(String message) {
    super(message);
  }

  /** The folder cannot be written (permissions, a full disk). */
  public static final class Unavailable extends StorageException {
    public Unavailable(String message) {
      super(message);
    }
  }

  /** The file would take the folder past {@code VOICE_DIR_MAX_BYTES}. */
  public static final class Full extends StorageException {
    public Full(String message) {
      super(message);
    }
  }
}
