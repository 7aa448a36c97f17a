package dev.pockettts.server.security;

import dev.pockettts.server.system.TomcatObjects;
import jakarta.servlet.ServletRequest;
import org.apache.catalina.connector.Request;
import org.apache.coyote.ActionCode;

/**
 * That a request refused before its body was read must not have the body read at all: Tomcat would
 * otherwise swallow it to keep the connection, however slowly it comes. Elsewhere than on Tomcat it
 * does nothing.
 */
final class TomcatRequests {

  private TomcatRequests() {}

  /** Tomcat will not read what is left of the body; the connection closes after the response. */
  static void dontReadBody(ServletRequest request) {
    Request tomcat = TomcatObjects.request(request);
    if (tomcat == null) {
      return;
    }
    tomcat.getCoyoteRequest().action(ActionCode.DISABLE_SWALLOW_INPUT, null);
    // Tomcat marks that as an error, which would forward to the error page (and read the body
    // there); the answer is already the one to send
    tomcat.getResponse().setErrorReported();
  }
}
