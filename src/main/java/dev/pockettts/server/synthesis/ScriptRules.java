package dev.pockettts.server.synthesis;

/**
 * Refuses scripts that cannot be meant as speech, whichever way they came (HTTP, Wyoming): control
 * characters (other than tab and line breaks), nothing that is a letter or digit, or a "word" so
 * long it cannot be read aloud.
 */
public final class ScriptRules {

  /** Longest run of non-space characters accepted (long URLs fit; a pasted binary does not). */
  public static final int MAX_WORD_CHARS = 1000;

  private ScriptRules() {}

  /**
   * @throws SynthesisException.UnspeakableScript when the script breaks a rule
   */
  public static void check(String script) {
    boolean speakable = false;
    int run = 0;
    for (int i = 0; i < script.length(); ) {
      int c = script.codePointAt(i);
      if (Character.getType(c) == Character.CONTROL && c != '\t' && c != '\n' && c != '\r') {
        throw new SynthesisException.UnspeakableScript(
            "invalid-characters",
            String.format(
                "the script holds the control character U+%04X at position %d; remove it", c, i));
      }
      if (Character.isLetterOrDigit(c)) {
        speakable = true;
      }
      run = Character.isWhitespace(c) ? 0 : run + 1;
      if (run > MAX_WORD_CHARS) {
        throw new SynthesisException.UnspeakableScript(
            "word-too-long",
            "the script holds a run of more than "
                + MAX_WORD_CHARS
                + " characters without a space");
      }
      i += Character.charCount(c);
    }
    if (!speakable) {
      throw new SynthesisException.UnspeakableScript(
          "nothing-to-speak", "the script holds no letters or digits");
    }
  }
}
