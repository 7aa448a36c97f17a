package dev.pockettts.server.system;

import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.ServletResponseWrapper;
import java.lang.reflect.Field;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.RequestFacade;
import org.apache.catalina.connector.Response;
import org.apache.catalina.connector.ResponseFacade;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tomcat's own request and response behind the servlet facades, for the few things the servlet API
 * cannot say (cut a connection now, leave a refused body unread). Null when the server is not
 * Tomcat or the facade has been recycled.
 */
public final class TomcatObjects {

  private static final Logger log = LoggerFactory.getLogger(TomcatObjects.class);

  private TomcatObjects() {}

  /** Tomcat's request behind {@code request}, or null. */
  public static Request request(ServletRequest request) {
    ServletRequest r = request;
    while (r instanceof ServletRequestWrapper w) {
      r = w.getRequest();
    }
    return r instanceof RequestFacade f ? (Request) field(RequestFacade.class, "request", f) : null;
  }

  /** Tomcat's response behind {@code response}, or null. */
  public static Response response(ServletResponse response) {
    ServletResponse r = response;
    while (r instanceof ServletResponseWrapper w) {
      r = w.getResponse();
    }
    return r instanceof ResponseFacade f
        ? (Response) field(ResponseFacade.class, "response", f)
        : null;
  }

  private static Object field(Class<?> type, String name, Object facade) {
    try {
      Field f = type.getDeclaredField(name);
      f.setAccessible(true);
      return f.get(facade);
    } catch (ReflectiveOperationException | RuntimeException e) {
      log.debug("Cannot reach Tomcat's {}: {}", name, e.toString());
      return null;
    }
  }
}
