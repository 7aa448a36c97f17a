package dev.pockettts.server.engine;

/** The text cannot be spoken (empty, or nothing left after preparation). */
public class InvalidTextException extends EngineException {

  public InvalidTextException(String message) {
    super(message);
  }
}
