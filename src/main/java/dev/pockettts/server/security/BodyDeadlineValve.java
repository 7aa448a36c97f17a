package dev.pockettts.server.security;

import jakarta.servlet.ServletException;
import java.io.IOException;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ValveBase;
import org.apache.coyote.InputBuffer;
import org.apache.tomcat.util.net.ApplicationBufferHandler;

/**
 * A request body must arrive within {@code BODY_TIMEOUT}: every read of it (a JSON body, a form
 * Tomcat parses, a raw import) fails once the deadline has passed, so a client that trickles its
 * body cannot hold a server thread for longer; a read that waits for data waits at most Tomcat's
 * connection timeout. The request's own input is put back when the request leaves the valve, since
 * Tomcat reuses it for the connection's next request.
 */
public final class BodyDeadlineValve extends ValveBase {

  /**
   * Request attribute set when the body ran out of time: a form parser may drop the cause of a read
   * failure, so the error handling asks the request.
   */
  public static final String TIMED_OUT = BodyDeadlineValve.class.getName() + ".timedOut";

  private final long timeoutNanos;

  BodyDeadlineValve(long timeoutNanos) {
    super(true);
    this.timeoutNanos = timeoutNanos;
  }

  @Override
  public void invoke(Request request, Response response) throws IOException, ServletException {
    org.apache.coyote.Request coyote = request.getCoyoteRequest();
    boolean body =
        request.getContentLengthLong() > 0 || request.getHeader("Transfer-Encoding") != null;
    InputBuffer original = coyote.getInputBuffer();
    if (!body || original == null) {
      getNext().invoke(request, response);
      return;
    }
    long deadline = System.nanoTime() + timeoutNanos;
    coyote.setInputBuffer(
        new InputBuffer() {
          @Override
          public int doRead(ApplicationBufferHandler handler) throws IOException {
            if (System.nanoTime() - deadline > 0) {
              request.setAttribute(TIMED_OUT, Boolean.TRUE);
              throw new BodyTimeoutException();
            }
            return original.doRead(handler);
          }

          @Override
          public int available() {
            return original.available();
          }
        });
    try {
      getNext().invoke(request, response);
    } finally {
      coyote.setInputBuffer(original);
    }
  }

  /**
   * The body did not arrive within BODY_TIMEOUT; a socket time-out to Tomcat, which answers 408 and
   * closes the connection.
   */
  public static final class BodyTimeoutException extends java.net.SocketTimeoutException {
    BodyTimeoutException() {
      super("the request body did not arrive within BODY_TIMEOUT");
    }
  }
}
