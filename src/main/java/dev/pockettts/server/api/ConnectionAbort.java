package dev.pockettts.server.api;

import jakarta.servlet.ServletResponse;
import jakarta.servlet.ServletResponseWrapper;
import java.lang.reflect.Field;
import org.apache.catalina.connector.Response;
import org.apache.catalina.connector.ResponseFacade;
import org.apache.coyote.ActionCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cuts the connection of a response that has started and cannot be finished, so that the client
 * sees a failed transfer: ending a chunked response normally would present a truncated file as
 * complete. Uses Tomcat's own "close now" action; elsewhere it does nothing and the failure is left
 * to the container.
 */
final class ConnectionAbort {

  private static final Logger log = LoggerFactory.getLogger(ConnectionAbort.class);

  private ConnectionAbort() {}

  static void closeNow(ServletResponse response, Throwable cause) {
    ServletResponse r = response;
    while (r instanceof ServletResponseWrapper w) {
      r = w.getResponse();
    }
    if (!(r instanceof ResponseFacade facade)) {
      return;
    }
    try {
      Field f = ResponseFacade.class.getDeclaredField("response");
      f.setAccessible(true);
      Response tomcat = (Response) f.get(facade);
      tomcat.getCoyoteResponse().action(ActionCode.CLOSE_NOW, cause);
    } catch (ReflectiveOperationException | RuntimeException e) {
      log.debug("Cannot cut the connection: {}", e.toString());
    }
  }
}
