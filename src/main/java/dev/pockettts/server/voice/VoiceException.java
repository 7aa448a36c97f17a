package dev.pockettts.server.voice;

/**
 * A voice could not be found, made, stored or used; the reason says which, and the web layer
 * decides what it means to a client.
 */
public class VoiceException extends RuntimeException {

  /** What went wrong. */
  public enum Reason {
    /** No voice of that name for speech. */
    UNKNOWN_VOICE,
    /** No voice of that id in the library. */
    VOICE_NOT_FOUND,
    /** A voice of that name exists already. */
    VOICE_EXISTS,
    /** Built-in voices cannot be deleted. */
    BUILT_IN_VOICE,
    /** The new voice has no name. */
    MISSING_NAME,
    /** The new voice's name breaks the rules. */
    INVALID_VOICE_NAME,
    /** A saved voice was asked for with another model than it was made with. */
    VOICE_MODEL_MISMATCH,
    /** A voice file that is no voice state of the model. */
    INVALID_VOICE_FILE,
    /** The library holds its maximum of voices. */
    VOICE_LIBRARY_FULL,
    /** The library's folder cannot be written. */
    VOICE_LIBRARY_UNWRITABLE,
    /** The library's store cannot be read (an object store that does not answer). */
    VOICE_LIBRARY_UNAVAILABLE,
    /** A saved voice's file was damaged on disk. */
    VOICE_UNREADABLE,
    /** A built-in voice's file could not be had. */
    VOICE_UNAVAILABLE,
    /** The reference recording is empty. */
    EMPTY_AUDIO,
    /** The reference recording is no audio this server decodes. */
    UNDECODABLE_AUDIO,
    /** The reference recording is too short to carry a voice. */
    REFERENCE_TOO_SHORT,
    /** The reference recording holds only silence. */
    REFERENCE_SILENT
  }

  private final Reason reason;

  public VoiceException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }

  /**
   * The reason as a short stable code ({@code unknown-voice}, {@code voice-exists}, ...): the
   * problem type of an HTTP answer and the code of a Wyoming error event.
   */
  public String code() {
    return reason.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }
}
