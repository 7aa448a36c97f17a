package dev.pockettts.server.api;

import dev.pockettts.server.audio.Ffmpeg;
import dev.pockettts.server.system.TomcatObjects;
import jakarta.servlet.ServletResponse;
import java.io.IOException;
import org.apache.catalina.connector.ClientAbortException;
import org.apache.catalina.connector.Response;
import org.apache.coyote.ActionCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.web.context.request.async.AsyncRequestNotUsableException;

/**
 * Cuts the connection of a response that has started and cannot be finished, so that the client
 * sees a failed transfer: ending a chunked response normally would present a truncated file as
 * complete. Uses Tomcat's own "close now" action; elsewhere it does nothing and the failure is left
 * to the container.
 */
public final class ConnectionAbort {

  private static final Logger log = LoggerFactory.getLogger(ConnectionAbort.class);

  private ConnectionAbort() {}

  /**
   * Whether a failure means the request is already ending on the container's side: the client has
   * gone (connection reset or closed), or Spring cancelled the streaming task (it interrupts the
   * thread after an asynchronous error). Tomcat then ends the request itself, and may already have
   * handed its objects to another connection, so the response must not be touched.
   */
  static boolean clientGone(Throwable failure) {
    if (Thread.currentThread().isInterrupted()) {
      return true;
    }
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof Ffmpeg.EncoderFailedException) {
        return false; // FFmpeg's own broken pipe is the server's failure
      }
      if (t instanceof InterruptedException
          || t instanceof ClientAbortException
          || t instanceof AsyncRequestNotUsableException) {
        return true;
      }
      String m = t.getMessage();
      if (t instanceof IOException
          && m != null
          && (m.contains("Broken pipe") || m.contains("Connection reset"))) {
        return true;
      }
    }
    return false;
  }

  public static void closeNow(ServletResponse response, Throwable cause) {
    Response tomcat = TomcatObjects.response(response);
    if (tomcat == null) {
      return;
    }
    try {
      tomcat.getCoyoteResponse().action(ActionCode.CLOSE_NOW, cause);
    } catch (RuntimeException e) {
      log.debug("Cannot cut the connection: {}", e.toString());
    }
  }
}
