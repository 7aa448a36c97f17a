package dev.pockettts.server.engine;

/**
 * One piece of a script that is generated on its own, from a fresh copy of the voice state, or a
 * pause ({@code [pause:500ms]} in the script): no tokens, only silence.
 *
 * @param text the chunk's text as it is tokenised (empty for a pause)
 * @param tokens its SentencePiece ids (none for a pause)
 * @param framesAfterEos frames emitted from the EOS frame on, by the reference rule (5 for four
 *     words or fewer, else 3)
 * @param pauseMillis for a pause, its length; else 0
 */
public record TextChunk(String text, int[] tokens, int framesAfterEos, int pauseMillis) {

  public TextChunk(String text, int[] tokens, int framesAfterEos) {
    this(text, tokens, framesAfterEos, 0);
  }

  /** A pause of {@code millis} milliseconds of silence. */
  public static TextChunk pause(int millis) {
    return new TextChunk("", new int[0], 0, millis);
  }

  public boolean isPause() {
    return tokens.length == 0;
  }
}
