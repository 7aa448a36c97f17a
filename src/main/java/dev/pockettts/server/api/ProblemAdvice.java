package dev.pockettts.server.api;

import dev.pockettts.server.audio.Ffmpeg;
import dev.pockettts.server.engine.CloningUnavailableException;
import dev.pockettts.server.engine.InvalidTextException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.i18n.LocaleContextHolder;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.ErrorResponse;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.ServletWebRequest;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.multipart.MaxUploadSizeExceededException;
import org.springframework.web.multipart.MultipartException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

/** Turns every error into an RFC 9457 problem body; never a stack trace. */
@RestControllerAdvice
class ProblemAdvice extends ResponseEntityExceptionHandler {

  private static final Logger log = LoggerFactory.getLogger(ProblemAdvice.class);

  @ExceptionHandler(InvalidTextException.class)
  ResponseEntity<Object> invalidText(InvalidTextException e, WebRequest request) {
    return problem(
        ApiException.badRequest("invalid-script", "Invalid script", e.getMessage()), request);
  }

  @ExceptionHandler(CloningUnavailableException.class)
  ResponseEntity<Object> cloning(CloningUnavailableException e, WebRequest request) {
    return problem(
        new ApiException(
            HttpStatus.SERVICE_UNAVAILABLE,
            "cloning-unavailable",
            "Voice cloning unavailable",
            e.getMessage()),
        request);
  }

  @ExceptionHandler(Ffmpeg.DeadlineExceededException.class)
  ResponseEntity<Object> ffmpegDeadline(Ffmpeg.DeadlineExceededException e, WebRequest request) {
    return problem(
        new ApiException(
            HttpStatus.SERVICE_UNAVAILABLE,
            "synthesis-timeout",
            "Synthesis timed out",
            e.getMessage() + ", past REQUEST_TIMEOUT"),
        request);
  }

  @ExceptionHandler(Exception.class)
  ResponseEntity<Object> unexpected(Exception e, WebRequest request) {
    abortIfCommitted(e, request);
    log.error("Request failed", e);
    return problem(
        new ApiException(
            HttpStatus.INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal server error",
            "the server failed to handle the request; see its log"),
        request);
  }

  @Override
  protected ResponseEntity<Object> handleMaxUploadSizeExceededException(
      MaxUploadSizeExceededException ex,
      HttpHeaders headers,
      HttpStatusCode status,
      WebRequest request) {
    return problem(
        new ApiException(
            HttpStatus.PAYLOAD_TOO_LARGE,
            "upload-too-large",
            "Upload too large",
            "the upload exceeds a limit of the server: at most MAX_UPLOAD_MB megabytes, "
                + "50 parts, and part headers of 512 bytes"),
        request);
  }

  @Override
  protected ResponseEntity<Object> handleHttpMessageNotReadable(
      HttpMessageNotReadableException ex,
      HttpHeaders headers,
      HttpStatusCode status,
      WebRequest request) {
    return problem(
        ApiException.badRequest(
            "malformed-request",
            "Malformed request",
            "the request body is not valid JSON of the expected shape"),
        request);
  }

  @ExceptionHandler(MultipartException.class)
  ResponseEntity<Object> multipart(MultipartException e, WebRequest request) {
    return problem(
        ApiException.badRequest(
            "malformed-multipart",
            "Malformed multipart request",
            "the form cannot be read (too many parts, a part header too large, or a broken body)"),
        request);
  }

  /** Spring's own problems (415, 405, 406, ...) get a type of ours instead of about:blank. */
  @Override
  protected ResponseEntity<Object> handleExceptionInternal(
      Exception ex,
      Object body,
      HttpHeaders headers,
      HttpStatusCode statusCode,
      WebRequest request) {
    abortIfCommitted(ex, request);
    if (body == null && ex instanceof ErrorResponse error) {
      body = error.updateAndGetBody(getMessageSource(), LocaleContextHolder.getLocale());
    }
    if (body instanceof ProblemDetail p
        && (p.getType() == null || "about:blank".equals(p.getType().toString()))) {
      HttpStatus status = HttpStatus.resolve(statusCode.value());
      String slug =
          status == null
              ? "error"
              : status
                  .getReasonPhrase()
                  .toLowerCase(java.util.Locale.ROOT)
                  .replaceAll("[^a-z0-9]+", "-");
      p.setType(java.net.URI.create("/problems/" + slug));
    }
    if (body instanceof ProblemDetail p
        && request instanceof ServletWebRequest servlet
        && OpenAiErrors.applies(servlet.getRequest().getRequestURI())) {
      HttpHeaders h = new HttpHeaders();
      if (headers != null) {
        h.putAll(headers);
      }
      h.setContentType(org.springframework.http.MediaType.APPLICATION_JSON);
      String type = p.getType() == null ? "" : p.getType().toString();
      return new ResponseEntity<>(
          OpenAiErrors.body(
              p.getStatus(),
              type.substring(type.lastIndexOf('/') + 1),
              p.getDetail() != null ? p.getDetail() : p.getTitle()),
          h,
          statusCode);
    }
    return super.handleExceptionInternal(ex, body, headers, statusCode, request);
  }

  /**
   * Once audio has been sent, an error cannot become a problem response; ending the response
   * normally would present a truncated file as complete. Rethrowing makes the server cut the
   * connection, so the client sees a failed transfer.
   */
  private static void abortIfCommitted(Exception ex, WebRequest request) {
    if (request instanceof ServletWebRequest servlet
        && servlet.getResponse() != null
        && servlet.getResponse().isCommitted()) {
      if (ex instanceof org.apache.catalina.connector.ClientAbortException) {
        log.debug("The client went away during the response: {}", ex.toString());
      } else {
        log.warn("Aborting a response after it started: {}", ex.toString());
      }
      throw new ResponseAbortedException(ex);
    }
  }

  /** Carries a failure out of the handler chain so that the server aborts the response. */
  static final class ResponseAbortedException extends RuntimeException {
    ResponseAbortedException(Throwable cause) {
      super("response aborted after it started", cause);
    }
  }

  private ResponseEntity<Object> problem(ApiException e, WebRequest request) {
    ProblemDetail body = e.getBody();
    return handleExceptionInternal(e, body, e.getHeaders(), e.getStatusCode(), request);
  }
}
