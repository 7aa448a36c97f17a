package dev.pockettts.server.api;

import dev.pockettts.server.security.BodyDeadlineValve;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import java.util.Locale;
import org.springframework.boot.webmvc.error.ErrorController;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The error page every error the container handles itself ends on (a method the servlet refuses,
 * such as TRACE, a status sent without a body): an RFC 9457 problem, or OpenAI's error shape for a
 * {@code /v1} request, never Spring Boot's own error body. Asked for directly, {@code /error} is
 * not found.
 */
@RestController
class ProblemErrorController implements ErrorController {

  @RequestMapping("/error")
  ResponseEntity<Object> error(HttpServletRequest request) {
    Object code = request.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
    String uri = (String) request.getAttribute(RequestDispatcher.ERROR_REQUEST_URI);
    HttpStatus status =
        code instanceof Integer i && HttpStatus.resolve(i) != null
            ? HttpStatus.resolve(i)
            : HttpStatus.NOT_FOUND;
    if (code == null) {
      uri = request.getRequestURI(); // /error itself, asked for by a client
    }
    if (request.getAttribute(BodyDeadlineValve.TIMED_OUT) != null) {
      status = HttpStatus.REQUEST_TIMEOUT;
    }
    for (Object t = request.getAttribute(RequestDispatcher.ERROR_EXCEPTION);
        t instanceof Throwable e;
        t = e.getCause()) {
      if (e instanceof java.net.SocketTimeoutException) {
        status = HttpStatus.REQUEST_TIMEOUT; // a body that did not arrive in time
        break;
      }
    }
    String detail =
        switch (status) {
          case NOT_FOUND -> "there is nothing at this path; GET / lists the endpoints";
          case METHOD_NOT_ALLOWED -> "this method is not allowed here; GET / lists the endpoints";
          case BAD_REQUEST -> "the request is malformed";
          case REQUEST_TIMEOUT -> "the request body did not arrive within BODY_TIMEOUT";
          default -> "the request could not be handled (" + status.getReasonPhrase() + ")";
        };
    String slug =
        status == HttpStatus.REQUEST_TIMEOUT
            ? "body-timeout"
            : status.getReasonPhrase().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
    return ResponseEntity.status(status)
        .contentType(MediaType.parseMediaType(ErrorBodies.contentType(uri)))
        .body(ErrorBodies.of(status.value(), slug, status.getReasonPhrase(), detail, uri));
  }
}
