package dev.pockettts.server.engine;

/** A failure of the PocketTTS engine, with a message that says which graph or file was at fault. */
public class EngineException extends RuntimeException {

  public EngineException(String message) {
    super(message);
  }

  public EngineException(String message, Throwable cause) {
    super(message, cause);
  }
}
