package dev.pockettts.server.engine;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Prepares a script and splits it into chunks as the reference does (CONTRACT.md 3.1, 3.2):
 * sentence ends found on the tokenizer's boundary tokens, long sentences cut after commas,
 * semicolons and colons, pieces packed greedily up to the token limit. On top of the reference, a
 * chunk also stays within a character limit (the seed's MAX_CHARS_PER_CHUNK), pieces that are still
 * too long are cut between words (a single over-long word between tokens), and a decimal point such
 * as in 3.14 never ends a sentence.
 */
public final class TextChunker {

  private static final String SENTENCE_END_PROBE = ".!...?";
  private static final String CLAUSE_END_PROBE = ",;:";
  private static final Set<String> TITLES =
      Set.of(
          "Mr.", "Mrs.", "Ms.", "Mx.", "Dr.", "Prof.", "St.", "Sr.", "Jr.", "Messrs.", "Mme.",
          "Mlle.", "Rev.", "Hon.", "Capt.", "Col.", "Gen.", "Lt.", "Sgt.", "Gov.", "Sen.", "Rep.",
          "Fr.", "vs.", "e.g.", "i.e.", "etc.", "No.");
  private static final String SPACE = "\u2581";
  private static final Pattern SENTENCE_END_PIECE =
      Pattern.compile("[.!?\u2026]+[\"')\\]}\u201d\u2019\u00bb]*");
  private static final Pattern CLAUSE_END_PIECE =
      Pattern.compile("[,;:]+[\"')\\]}\u201d\u2019\u00bb]*");
  private static final String CLOSING_MARKS = "\"')]}”’»";

  private final Tokenizer tokenizer;
  private final boolean removeSemicolons;
  private final boolean padShortInputs;
  private final int maxTokens;
  private final int maxChars;
  private final Set<Integer> sentenceEnds;
  private final Set<Integer> clauseEnds;

  public TextChunker(
      Tokenizer tokenizer,
      boolean removeSemicolons,
      boolean padShortInputs,
      int maxTokens,
      int maxChars) {
    if (maxTokens < 1 || maxChars < 1) {
      throw new IllegalArgumentException("chunk limits must be positive");
    }
    this.tokenizer = tokenizer;
    this.removeSemicolons = removeSemicolons;
    this.padShortInputs = padShortInputs;
    this.maxTokens = maxTokens;
    this.maxChars = maxChars;
    this.sentenceEnds = idsAfterFirst(SENTENCE_END_PROBE);
    this.clauseEnds = idsAfterFirst(CLAUSE_END_PROBE);
  }

  /** Text after the reference's preparation, and the frames-after-EOS rule for it. */
  public record Prepared(String text, int framesAfterEos) {}

  /** The reference's {@code prepare_text_prompt}. */
  public static Prepared prepare(String text, boolean removeSemicolons, boolean padShortInputs) {
    String t = text == null ? "" : text.strip();
    if (t.isEmpty()) {
      throw new InvalidTextException("the text is empty");
    }
    t = t.replace('\n', ' ').replace('\r', ' ').replace("  ", " ");
    if (removeSemicolons) {
      t = t.replace(';', ',');
    }
    int words = t.strip().isEmpty() ? 0 : t.strip().split("\\s+").length;
    int guess = words <= 4 ? 3 : 1;
    int first = t.codePointAt(0);
    if (!Character.isUpperCase(first)) {
      t =
          new String(Character.toChars(Character.toUpperCase(first)))
              + t.substring(Character.charCount(first));
    }
    int last = t.codePointBefore(t.length());
    if (Character.isLetterOrDigit(last)) {
      t = t + ".";
    }
    if (padShortInputs && words < 5) {
      t = "        " + t;
    }
    return new Prepared(t, guess + 2);
  }

  /** Splits a script into chunks that each satisfy both limits. */
  public List<TextChunk> split(String text) {
    String prepared = prepare(text, removeSemicolons, padShortInputs).text().strip();
    List<String> pieces = new ArrayList<>();
    for (String sentence : sentences(prepared)) {
      if (tokenizer.encode(sentence).length > maxTokens) {
        List<String> clauses = splitAfter(sentence, clauseEnds, CLAUSE_END_PIECE);
        if (clauses.size() > 1) {
          for (String clause : clauses) {
            pieces.addAll(fitToLimits(clause));
          }
          continue;
        }
      }
      pieces.addAll(fitToLimits(sentence));
    }
    List<String> packed = new ArrayList<>();
    String current = "";
    for (String piece : pieces) {
      if (current.isEmpty()) {
        current = piece;
        continue;
      }
      String combined = current + " " + piece;
      if (fits(combined)) {
        current = combined;
      } else {
        packed.add(current);
        current = piece;
      }
    }
    if (!current.isEmpty()) {
      packed.add(current);
    }
    List<TextChunk> chunks = new ArrayList<>();
    for (String chunk : packed) {
      String c = chunk.strip();
      int[] ids = tokenizer.encode(c);
      if (ids.length == 0) {
        continue;
      }
      chunks.add(new TextChunk(c, ids, prepare(c, false, false).framesAfterEos()));
    }
    if (chunks.isEmpty()) {
      throw new InvalidTextException("the text has nothing to speak");
    }
    return chunks;
  }

  private boolean fits(String text) {
    return text.length() <= maxChars && tokenizer.encode(text).length <= maxTokens;
  }

  /** Sentences: a sentence ends at the first non-boundary token after boundary tokens. */
  List<String> sentences(String text) {
    return splitAfter(text, sentenceEnds, SENTENCE_END_PIECE);
  }

  /**
   * Splits after runs of boundary tokens: the ids of the reference's probe string, plus any piece
   * made only of such punctuation (a tokenizer may have merged pieces like {@code ?"}).
   */
  private List<String> splitAfter(String text, Set<Integer> boundaryIds, Pattern boundaryPiece) {
    int[] ids = tokenizer.encode(text);
    List<String> out = new ArrayList<>();
    int start = 0;
    boolean inBoundary = false;
    for (int i = 0; i < ids.length; i++) {
      boolean glued = !tokenizer.piece(ids[i]).startsWith(SPACE);
      boolean boundary =
          boundaryIds.contains(ids[i])
              || (glued && boundaryPiece.matcher(text(ids[i])).matches())
              || (inBoundary && isClosingMark(ids[i]));
      if (!boundary
          && inBoundary
          && i > start
          && !isDecimalPoint(ids, i)
          && !isAbbreviation(ids, start, i)) {
        addSpan(out, ids, start, i);
        start = i;
      }
      inBoundary = boundary;
    }
    addSpan(out, ids, start, ids.length);
    return out;
  }

  /** True when ids[i-1] is a lone "." between two digits with no space, as in 3.14. */
  private boolean isDecimalPoint(int[] ids, int i) {
    if (i < 2 || !text(ids[i - 1]).equals(".") || tokenizer.piece(ids[i]).startsWith("▁")) {
      return false;
    }
    String before = text(ids[i - 2]);
    String after = text(ids[i]);
    return !before.isEmpty()
        && Character.isDigit(before.charAt(before.length() - 1))
        && !after.isEmpty()
        && Character.isDigit(after.charAt(0));
  }

  /**
   * A closing quote or bracket glued to a sentence end (as in {@code it."}) stays with that
   * sentence; the reference would start the next sentence with it.
   */
  private boolean isClosingMark(int id) {
    if (tokenizer.piece(id).startsWith("▁")) {
      return false;
    }
    String t = text(id);
    return !t.isEmpty() && t.chars().allMatch(c -> CLOSING_MARKS.indexOf(c) >= 0);
  }

  /** True when the span [from, end) ends with a title such as "Mrs." that names who follows. */
  private boolean isAbbreviation(int[] ids, int from, int end) {
    String span = decode(ids, from, end);
    int space = span.lastIndexOf(' ');
    String last = span.substring(space + 1);
    return TITLES.contains(last);
  }

  private String text(int id) {
    return tokenizer.decode(new int[] {id});
  }

  private void addSpan(List<String> out, int[] ids, int from, int to) {
    if (to <= from) {
      return;
    }
    String s = tokenizer.decode(java.util.Arrays.copyOfRange(ids, from, to)).strip();
    if (!s.isEmpty()) {
      out.add(s);
    }
  }

  /** Cuts a piece that breaks either limit between words, and a too-long word between tokens. */
  private List<String> fitToLimits(String piece) {
    if (fits(piece)) {
      return List.of(piece);
    }
    List<String> out = new ArrayList<>();
    String current = "";
    for (String word : piece.split("\\s+")) {
      if (word.isEmpty()) {
        continue;
      }
      String combined = current.isEmpty() ? word : current + " " + word;
      if (fits(combined)) {
        current = combined;
        continue;
      }
      if (!current.isEmpty()) {
        out.add(current);
      }
      if (fits(word)) {
        current = word;
      } else {
        out.addAll(splitWord(word));
        current = "";
      }
    }
    if (!current.isEmpty()) {
      out.add(current);
    }
    return out;
  }

  private List<String> splitWord(String word) {
    int[] ids = tokenizer.encode(word);
    List<String> out = new ArrayList<>();
    int start = 0;
    while (start < ids.length) {
      int end = start + 1;
      while (end < ids.length && fits(decode(ids, start, end + 1))) {
        end++;
      }
      addSpan(out, ids, start, end);
      start = end;
    }
    return out;
  }

  private String decode(int[] ids, int from, int to) {
    return tokenizer.decode(java.util.Arrays.copyOfRange(ids, from, to)).strip();
  }

  private Set<Integer> idsAfterFirst(String probe) {
    int[] ids = tokenizer.encode(probe);
    Set<Integer> out = new HashSet<>();
    for (int i = 1; i < ids.length; i++) {
      out.add(ids[i]);
    }
    return Set.copyOf(out);
  }
}
