package dev.pockettts.server.engine;

/** Voice cloning needs the Mimi encoder, which this model folder lacks. */
public class CloningUnavailableException extends EngineException {

  public CloningUnavailableException(String message) {
    super(message);
  }
}
