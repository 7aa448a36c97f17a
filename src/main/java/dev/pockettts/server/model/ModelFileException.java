package dev.pockettts.server.model;

/** A model file could not be had: not found, gated, corrupt, or the download failed. */
public class ModelFileException extends RuntimeException {

  /** Why a file is unavailable. */
  public enum Reason {
    NOT_FOUND,
    GATED,
    CHECKSUM,
    NETWORK,
    MISSING_OFFLINE
  }

  private final Reason reason;

  public ModelFileException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public ModelFileException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
