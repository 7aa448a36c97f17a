package dev.pockettts.server.security;

import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import java.lang.reflect.Field;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.RequestFacade;
import org.apache.coyote.ActionCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tomcat's handle on a request, for what the servlet API cannot say: that a request refused before
 * its body was read must not have the body read at all (Tomcat would otherwise swallow it to keep
 * the connection, however slowly it comes). Elsewhere it does nothing.
 */
final class TomcatRequests {

  private static final Logger log = LoggerFactory.getLogger(TomcatRequests.class);

  private TomcatRequests() {}

  /** Tomcat will not read what is left of the body; the connection closes after the response. */
  static void dontReadBody(ServletRequest request) {
    ServletRequest r = request;
    while (r instanceof ServletRequestWrapper w) {
      r = w.getRequest();
    }
    if (!(r instanceof RequestFacade facade)) {
      return;
    }
    try {
      Field f = RequestFacade.class.getDeclaredField("request");
      f.setAccessible(true);
      Request tomcat = (Request) f.get(facade);
      tomcat.getCoyoteRequest().action(ActionCode.DISABLE_SWALLOW_INPUT, null);
      // Tomcat marks that as an error, which would forward to the error page (and read the
      // body there); the answer is already the one to send
      tomcat.getResponse().setErrorReported();
    } catch (ReflectiveOperationException | RuntimeException e) {
      log.debug("Cannot stop Tomcat reading the body: {}", e.toString());
    }
  }
}
