package dev.pockettts.server.engine;

/** The model files on disk are not an export this engine can run (CONTRACT.md 2.6). */
public class IncompatibleModelException extends EngineException {

  public IncompatibleModelException(String message) {
    super(message);
  }
}
