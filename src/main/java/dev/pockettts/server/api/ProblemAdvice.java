package dev.pockettts.server.api;

import dev.pockettts.server.audio.Ffmpeg;
import dev.pockettts.server.engine.CloningUnavailableException;
import dev.pockettts.server.engine.InvalidTextException;
import dev.pockettts.server.security.BodyDeadlineValve;
import dev.pockettts.server.storage.StorageException;
import dev.pockettts.server.synthesis.SynthesisException;
import dev.pockettts.server.voice.VoiceException;
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

  @ExceptionHandler(SynthesisException.class)
  ResponseEntity<Object> synthesis(SynthesisException e, WebRequest request) {
    return problem(toProblem(e), request);
  }

  /** The status, type and title of each way a synthesis can fail. */
  static ApiException toProblem(SynthesisException e) {
    HttpHeaders h = new HttpHeaders();
    String detail = e.getMessage();
    if (e instanceof SynthesisException.Busy b) {
      h.set(HttpHeaders.RETRY_AFTER, Integer.toString(b.retryAfterSeconds()));
      return new ApiException(HttpStatus.SERVICE_UNAVAILABLE, e.code(), "Server busy", detail, h);
    }
    if (e instanceof SynthesisException.ModelNotReady n) {
      h.set(HttpHeaders.RETRY_AFTER, Integer.toString(n.retryAfterSeconds()));
      return new ApiException(
          HttpStatus.SERVICE_UNAVAILABLE, e.code(), "Model not ready", detail, h);
    }
    if (e instanceof SynthesisException.ModelFailed) {
      return new ApiException(
          HttpStatus.SERVICE_UNAVAILABLE, e.code(), "Model failed to load", detail);
    }
    if (e instanceof SynthesisException.TimedOut) {
      return new ApiException(
          HttpStatus.SERVICE_UNAVAILABLE, e.code(), "Synthesis timed out", detail);
    }
    if (e instanceof SynthesisException.EncoderUnavailable) {
      return new ApiException(
          HttpStatus.SERVICE_UNAVAILABLE, e.code(), "Encoder unavailable", detail);
    }
    if (e instanceof SynthesisException.AudioTooLong) {
      return new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, e.code(), "Audio too long", detail);
    }
    if (e instanceof SynthesisException.UnknownModel) {
      return ApiException.badRequest(e.code(), "Unknown model", detail);
    }
    if (e instanceof SynthesisException.UnspeakableScript) {
      String title =
          switch (e.code()) {
            case "invalid-characters" -> "Invalid characters";
            case "word-too-long" -> "Word too long";
            default -> "Nothing to speak";
          };
      return ApiException.badRequest(e.code(), title, detail);
    }
    return new ApiException(
        HttpStatus.INTERNAL_SERVER_ERROR, "internal-error", "Internal server error", detail);
  }

  @ExceptionHandler(VoiceException.class)
  ResponseEntity<Object> voice(VoiceException e, WebRequest request) {
    return problem(toProblem(e), request);
  }

  /** The status, type and title of each reason a voice fails. */
  static ApiException toProblem(VoiceException e) {
    HttpStatus status;
    String title;
    switch (e.reason()) {
      case UNKNOWN_VOICE -> {
        status = HttpStatus.BAD_REQUEST;
        title = "Unknown voice";
      }
      case VOICE_NOT_FOUND -> {
        status = HttpStatus.NOT_FOUND;
        title = "Voice not found";
      }
      case VOICE_EXISTS -> {
        status = HttpStatus.CONFLICT;
        title = "Voice exists";
      }
      case BUILT_IN_VOICE -> {
        status = HttpStatus.CONFLICT;
        title = "Built-in voice";
      }
      case MISSING_NAME -> {
        status = HttpStatus.BAD_REQUEST;
        title = "Missing name";
      }
      case INVALID_VOICE_NAME -> {
        status = HttpStatus.BAD_REQUEST;
        title = "Invalid voice name";
      }
      case VOICE_MODEL_MISMATCH -> {
        status = HttpStatus.BAD_REQUEST;
        title = "Voice made for another model";
      }
      case INVALID_VOICE_FILE -> {
        status = HttpStatus.UNPROCESSABLE_CONTENT;
        title = "Invalid voice file";
      }
      case VOICE_LIBRARY_FULL -> {
        status = HttpStatus.INSUFFICIENT_STORAGE;
        title = "Voice library full";
      }
      case VOICE_LIBRARY_UNWRITABLE -> {
        status = HttpStatus.INTERNAL_SERVER_ERROR;
        title = "Voice library not writable";
      }
      case VOICE_LIBRARY_UNAVAILABLE -> {
        status = HttpStatus.SERVICE_UNAVAILABLE;
        title = "Voice library unavailable";
      }
      case VOICE_UNREADABLE -> {
        status = HttpStatus.INTERNAL_SERVER_ERROR;
        title = "Saved voice unreadable";
      }
      case VOICE_UNAVAILABLE -> {
        status = HttpStatus.SERVICE_UNAVAILABLE;
        title = "Voice unavailable";
      }
      case EMPTY_AUDIO -> {
        status = HttpStatus.UNPROCESSABLE_CONTENT;
        title = "Empty audio";
      }
      case UNDECODABLE_AUDIO -> {
        status = HttpStatus.UNSUPPORTED_MEDIA_TYPE;
        title = "Audio cannot be decoded";
      }
      case REFERENCE_TOO_SHORT -> {
        status = HttpStatus.UNPROCESSABLE_CONTENT;
        title = "Reference too short";
      }
      case REFERENCE_SILENT -> {
        status = HttpStatus.UNPROCESSABLE_CONTENT;
        title = "Reference is silent";
      }
      default -> {
        status = HttpStatus.INTERNAL_SERVER_ERROR;
        title = "Internal server error";
      }
    }
    return new ApiException(status, e.code(), title, e.getMessage());
  }

  @ExceptionHandler(StorageException.class)
  ResponseEntity<Object> storage(StorageException e, WebRequest request) {
    abortIfCommitted(e, request);
    if (e instanceof StorageException.Full) {
      return problem(
          new ApiException(
              HttpStatus.INSUFFICIENT_STORAGE, "storage-full", "Audio folder full", e.getMessage()),
          request);
    }
    return problem(
        new ApiException(
            HttpStatus.INTERNAL_SERVER_ERROR,
            "storage-unavailable",
            "Storage unavailable",
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

  /**
   * Out of memory is over capacity: the work is refused for now (503 with Retry-After), and the
   * server goes on with the memory the failed work held.
   */
  @ExceptionHandler(OutOfMemoryError.class)
  ResponseEntity<Object> outOfMemory(OutOfMemoryError e, WebRequest request) {
    abortIfCommitted(new IllegalStateException(e), request);
    log.error("Out of memory while handling a request; it is refused with a 503: {}", e.toString());
    return problem(
        toProblem(
            new SynthesisException.Busy(
                "the server has no memory free for this request now; try again shortly", 10)),
        request);
  }

  @ExceptionHandler(Exception.class)
  ResponseEntity<Object> unexpected(Exception e, WebRequest request) {
    if (bodyTimedOut(request)) {
      return bodyTimeout(e, request);
    }
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

  /**
   * Whether the request's body did not arrive within BODY_TIMEOUT: the valve marks the request when
   * it fails a read (the failure's own chain may have lost the cause, as a form parser's does).
   */
  private static boolean bodyTimedOut(WebRequest request) {
    return request.getAttribute(BodyDeadlineValve.TIMED_OUT, WebRequest.SCOPE_REQUEST) != null;
  }

  private ResponseEntity<Object> bodyTimeout(Exception e, WebRequest request) {
    log.info("A request body did not arrive in time: {}", e.toString());
    return problem(
        new ApiException(
            HttpStatus.REQUEST_TIMEOUT,
            "body-timeout",
            "Request body too slow",
            "the request body did not arrive within BODY_TIMEOUT; send it at once"),
        request);
  }

  @Override
  protected ResponseEntity<Object> handleHttpMessageNotReadable(
      HttpMessageNotReadableException ex,
      HttpHeaders headers,
      HttpStatusCode status,
      WebRequest request) {
    if (bodyTimedOut(request)) {
      return bodyTimeout(ex, request);
    }
    return problem(
        ApiException.badRequest(
            "malformed-request",
            "Malformed request",
            "the request body is not valid JSON of the expected shape"),
        request);
  }

  @ExceptionHandler(MultipartException.class)
  ResponseEntity<Object> multipart(MultipartException e, WebRequest request) {
    if (bodyTimedOut(request)) {
      return bodyTimeout(e, request);
    }
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
