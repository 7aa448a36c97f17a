package dev.pockettts.server.api;

import dev.pockettts.server.synthesis.ScriptRules;

/**
 * The script field of a request: present, within MAX_SCRIPT_CHARS, and speakable by {@link
 * ScriptRules} (whose refusals are problems through {@link ProblemAdvice}).
 */
final class ScriptCheck {

  private ScriptCheck() {}

  /**
   * The text of the request field {@code field} ("script", "input") after the checks: 400 {@code
   * missing-<field>} when absent or blank, 413 {@code <field>-too-long} beyond {@code maxChars}
   * (MAX_SCRIPT_CHARS), then {@link ScriptRules#check(String)}.
   */
  static String check(String text, String field, int maxChars) {
    String title = Character.toUpperCase(field.charAt(0)) + field.substring(1);
    if (text == null || text.isBlank()) {
      throw ApiException.badRequest(
          "missing-" + field, "Missing " + field, field + " is required and must not be empty");
    }
    if (text.length() > maxChars) {
      throw new ApiException(
          org.springframework.http.HttpStatus.PAYLOAD_TOO_LARGE,
          field + "-too-long",
          title + " too long",
          "the "
              + field
              + " has "
              + text.length()
              + " characters; the limit is "
              + maxChars
              + " (MAX_SCRIPT_CHARS)");
    }
    ScriptRules.check(text);
    return text;
  }
}
