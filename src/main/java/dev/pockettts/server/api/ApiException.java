package dev.pockettts.server.api;

import java.net.URI;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.web.ErrorResponseException;

/** An error with a stable RFC 9457 type and title; the detail tells the caller what to change. */
public class ApiException extends ErrorResponseException {

  public ApiException(HttpStatus status, String slug, String title, String detail) {
    this(status, slug, title, detail, new HttpHeaders());
  }

  public ApiException(
      HttpStatus status, String slug, String title, String detail, HttpHeaders headers) {
    super(status, problem(status, slug, title, detail), null);
    getHeaders().addAll(headers);
  }

  static ProblemDetail problem(HttpStatus status, String slug, String title, String detail) {
    ProblemDetail p = ProblemDetail.forStatusAndDetail(status, detail);
    p.setType(URI.create("/problems/" + slug));
    p.setTitle(title);
    return p;
  }

  /** A value the client sent, as a detail quotes it: at most 64 characters, never null. */
  public static String shown(String value) {
    return dev.pockettts.server.system.ClientText.shown(value);
  }

  public static ApiException badRequest(String slug, String title, String detail) {
    return new ApiException(HttpStatus.BAD_REQUEST, slug, title, detail);
  }
}
