package dev.pockettts.server.api;

/**
 * Refuses scripts that cannot be meant as speech: control characters (other than tab and line
 * breaks), nothing that is a letter or digit, or a "word" so long it cannot be read aloud.
 */
final class ScriptCheck {

  /** Longest run of non-space characters accepted (long URLs fit; a pasted binary does not). */
  static final int MAX_WORD_CHARS = 1000;

  private ScriptCheck() {}

  /**
   * The text of the request field {@code field} ("script", "input") after the checks: 400 {@code
   * missing-<field>} when absent or blank, 413 {@code <field>-too-long} beyond {@code maxChars}
   * (MAX_SCRIPT_CHARS), then {@link #check(String)}.
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
    check(text);
    return text;
  }

  static void check(String script) {
    boolean speakable = false;
    int run = 0;
    for (int i = 0; i < script.length(); ) {
      int c = script.codePointAt(i);
      if (Character.getType(c) == Character.CONTROL && c != '\t' && c != '\n' && c != '\r') {
        throw ApiException.badRequest(
            "invalid-characters",
            "Invalid characters",
            String.format(
                "the script holds the control character U+%04X at position %d; remove it", c, i));
      }
      if (Character.isLetterOrDigit(c)) {
        speakable = true;
      }
      run = Character.isWhitespace(c) ? 0 : run + 1;
      if (run > MAX_WORD_CHARS) {
        throw ApiException.badRequest(
            "word-too-long",
            "Word too long",
            "the script holds a run of more than "
                + MAX_WORD_CHARS
                + " characters without a space");
      }
      i += Character.charCount(c);
    }
    if (!speakable) {
      throw ApiException.badRequest(
          "nothing-to-speak", "Nothing to speak", "the script holds no letters or digits");
    }
  }
}
