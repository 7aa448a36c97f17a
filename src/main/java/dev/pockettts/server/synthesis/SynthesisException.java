package dev.pockettts.server.synthesis;

/**
 * What can stop a synthesis before or while it runs, in the synthesis layer's own terms; the web
 * layer decides what each means to a client.
 */
public abstract class SynthesisException extends RuntimeException {

  private final String code;

  protected SynthesisException(String code, String message) {
    super(message);
    this.code = code;
  }

  /**
   * What went wrong as a short stable code ({@code server-busy}, {@code audio-too-long}, ...): the
   * problem type of an HTTP answer and the code of a Wyoming error event.
   */
  public String code() {
    return code;
  }

  /** Every worker is busy and the queue is full, or the wait for a worker was too long. */
  public static final class Busy extends SynthesisException {
    private final int retryAfterSeconds;

    public Busy(String message, int retryAfterSeconds) {
      super("server-busy", message);
      this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
      return retryAfterSeconds;
    }
  }

  /** The synthesis ran past the request's time limit. */
  public static final class TimedOut extends SynthesisException {
    public TimedOut(String message) {
      super("synthesis-timeout", message);
    }
  }

  /** The script would make, or made, more audio than one request may have. */
  public static final class AudioTooLong extends SynthesisException {
    public AudioTooLong(String message) {
      super("audio-too-long", message);
    }
  }

  /** The format or speed asked for needs FFmpeg, which is not there. */
  public static final class EncoderUnavailable extends SynthesisException {
    public EncoderUnavailable(String message) {
      super("encoder-unavailable", message);
    }
  }

  /** The models are still downloading or loading. */
  public static final class ModelNotReady extends SynthesisException {
    private final int retryAfterSeconds;

    public ModelNotReady(String message, int retryAfterSeconds) {
      super("model-not-ready", message);
      this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
      return retryAfterSeconds;
    }
  }

  /** The models could not be loaded. */
  public static final class ModelFailed extends SynthesisException {
    public ModelFailed(String message) {
      super("model-failed", message);
    }
  }

  /** A request named a model bundle that is not loaded. */
  public static final class UnknownModel extends SynthesisException {
    public UnknownModel(String message) {
      super("unknown-model", message);
    }
  }

  /**
   * A script that cannot be meant as speech: {@code invalid-characters}, {@code word-too-long} or
   * {@code nothing-to-speak} (see {@link ScriptRules}).
   */
  public static final class UnspeakableScript extends SynthesisException {
    public UnspeakableScript(String code, String message) {
      super(code, message);
    }
  }
}
