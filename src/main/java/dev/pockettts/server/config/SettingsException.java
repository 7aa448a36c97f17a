package dev.pockettts.server.config;

/** A setting has a value the server cannot use; the message names the setting. */
public class SettingsException extends RuntimeException {

  public SettingsException(String message) {
    super(message);
  }
}
