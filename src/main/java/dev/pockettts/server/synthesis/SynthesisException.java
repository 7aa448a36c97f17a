package dev.pockettts.server.synthesis;

/**
 * What can stop a synthesis before or while it runs, in the synthesis layer's own terms; the web
 * layer decides what each means to a client.
 */
public abstract class SynthesisException extends RuntimeException {

  protected SynthesisException(String message) {
    super(message);
  }

  /** Every worker is busy and the queue is full, or the wait for a worker was too long. */
  public static final class Busy extends SynthesisException {
    private final int retryAfterSeconds;

    public Busy(String message, int retryAfterSeconds) {
      super(message);
      this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
      return retryAfterSeconds;
    }
  }

  /** The synthesis ran past the request's time limit. */
  public static final class TimedOut extends SynthesisException {
    public TimedOut(String message) {
      super(message);
    }
  }

  /** The script would make, or made, more audio than one request may have. */
  public static final class AudioTooLong extends SynthesisException {
    public AudioTooLong(String message) {
      super(message);
    }
  }

  /** The format or speed asked for needs FFmpeg, which is not there. */
  public static final class EncoderUnavailable extends SynthesisException {
    public EncoderUnavailable(String message) {
      super(message);
    }
  }

  /** The models are still downloading or loading. */
  public static final class ModelNotReady extends SynthesisException {
    private final int retryAfterSeconds;

    public ModelNotReady(String message, int retryAfterSeconds) {
      super(message);
      this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
      return retryAfterSeconds;
    }
  }

  /** The models could not be loaded. */
  public static final class ModelFailed extends SynthesisException {
    public ModelFailed(String message) {
      super(message);
    }
  }

  /** A request named a model bundle that is not loaded. */
  public static final class UnknownModel extends SynthesisException {
    public UnknownModel(String message) {
      super(message);
    }
  }
}
