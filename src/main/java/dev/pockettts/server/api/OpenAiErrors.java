package dev.pockettts.server.api;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * OpenAI's error body, {@code {"error": {"message", "type", "param", "code"}}}, which every error
 * on the OpenAI-compatible routes ({@code /v1/...}) has instead of an RFC 9457 problem.
 */
public final class OpenAiErrors {

  private OpenAiErrors() {}

  /** Whether a request to {@code uri} gets OpenAI's error shape. */
  public static boolean applies(String uri) {
    return uri.startsWith("/v1/");
  }

  /**
   * The body for an error of {@code status}; {@code slug} is the problem type's last segment and
   * becomes the code ({@code unauthorized} is OpenAI's {@code invalid_api_key}).
   */
  public static Map<String, Object> body(int status, String slug, String message) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("message", message);
    error.put("type", type(status));
    error.put("param", null);
    error.put("code", slug.equals("unauthorized") ? "invalid_api_key" : slug);
    return Map.of("error", error);
  }

  static String type(int status) {
    return switch (status) {
      case 401 -> "authentication_error";
      case 403 -> "permission_error";
      case 404 -> "not_found_error";
      case 429 -> "rate_limit_error";
      default -> status >= 500 ? "server_error" : "invalid_request_error";
    };
  }
}
