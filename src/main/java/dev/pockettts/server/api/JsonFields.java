package dev.pockettts.server.api;

import java.util.Locale;
import tools.jackson.databind.JsonNode;

/**
 * Reads the fields of a JSON request body, refusing values of the wrong JSON type (400 {@code
 * invalid-field}) rather than coercing them.
 */
final class JsonFields {

  private JsonFields() {}

  /** 400 {@code malformed-request} unless the body is a JSON object; {@code example} shows one. */
  static void requireObject(JsonNode body, String example) {
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest(
          "malformed-request",
          "Malformed request",
          "the body must be a JSON object such as " + example);
    }
  }

  /** A string field, or null when absent or null. */
  static String text(JsonNode body, String field) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isString()) {
      throw invalid(field, "a string, not " + v.getNodeType().name().toLowerCase(Locale.ROOT));
    }
    return v.asString();
  }

  /** A boolean field, true when absent or null. */
  static boolean flag(JsonNode body, String field) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      return true;
    }
    if (!v.isBoolean()) {
      throw invalid(field, "true or false");
    }
    return v.asBoolean();
  }

  private static ApiException invalid(String field, String what) {
    return ApiException.badRequest(
        "invalid-field", "Invalid field", "'" + field + "' must be " + what);
  }
}
