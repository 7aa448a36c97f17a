package dev.pockettts.server.engine;

/** Stops a running synthesis; generation checks it before every frame. */
public final class Cancellation {

  private volatile boolean cancelled;

  public void cancel() {
    cancelled = true;
  }

  public boolean isCancelled() {
    return cancelled;
  }
}
