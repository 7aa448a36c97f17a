package dev.pockettts.server.api;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The body of an error answer written outside Spring MVC's problem handling (the key filter, the
 * error page, Tomcat's error report): OpenAI's error shape for a {@code /v1} request, else an RFC
 * 9457 problem document.
 */
public final class ErrorBodies {

  private ErrorBodies() {}

  /** The body for {@code uri} (null when the request has none the server could read). */
  public static Map<String, Object> of(
      int status, String slug, String title, String detail, String uri) {
    if (uri != null && OpenAiErrors.applies(uri)) {
      return OpenAiErrors.body(status, slug, detail);
    }
    Map<String, Object> problem = new LinkedHashMap<>();
    problem.put("type", "/problems/" + slug);
    problem.put("title", title);
    problem.put("status", status);
    problem.put("detail", detail);
    if (uri != null) {
      problem.put("instance", uri);
    }
    return problem;
  }

  /** The content type of that body. */
  public static String contentType(String uri) {
    return uri != null && OpenAiErrors.applies(uri)
        ? "application/json"
        : "application/problem+json";
  }
}
