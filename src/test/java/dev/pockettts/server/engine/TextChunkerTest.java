package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TextChunkerTest {

  private static Tokenizer tokenizer;

  @BeforeAll
  static void load() {
    tokenizer = new Tokenizer(TinyModels.BUNDLE.resolve("tokenizer.model"));
  }

  @AfterAll
  static void close() {
    tokenizer.close();
  }

  private static TextChunker chunker(int maxTokens, int maxChars) {
    return new TextChunker(tokenizer, false, false, maxTokens, maxChars);
  }

  private static String words(String s) {
    return String.join(" ", s.strip().split("\\s+"));
  }

  private static String joined(List<TextChunk> chunks) {
    return words(String.join(" ", chunks.stream().map(TextChunk::text).toList()));
  }

  private static void assertWithinLimits(List<TextChunk> chunks, int maxTokens, int maxChars) {
    for (TextChunk c : chunks) {
      assertThat(c.tokens()).as("tokens of '%s'", c.text()).hasSizeLessThanOrEqualTo(maxTokens);
      assertThat(c.text().length()).as("chars of '%s'", c.text()).isLessThanOrEqualTo(maxChars);
      assertThat(c.tokens()).containsExactly(tokenizer.encode(c.text()));
    }
  }

  @Test
  void preparationCapitalisesAndEndsWithAPeriodAsTheReferenceDoes() {
    assertThat(TextChunker.prepare("  hello world  ", false, false))
        .isEqualTo(new TextChunker.Prepared("Hello world.", 5));
    assertThat(TextChunker.prepare("one two three four five", false, false).framesAfterEos())
        .isEqualTo(3);
    assertThat(TextChunker.prepare("Is it?", false, false).text()).isEqualTo("Is it?");
    assertThat(TextChunker.prepare("line one\nline\r\ntwo", false, false).text())
        .isEqualTo("Line one line two.");
    assertThat(TextChunker.prepare("a; b", true, false).text()).isEqualTo("A, b.");
    assertThat(TextChunker.prepare("short one", false, true).text())
        .isEqualTo("        Short one.");
    assertThat(TextChunker.prepare("élan vital", false, false).text()).isEqualTo("Élan vital.");
    assertThatThrownBy(() -> TextChunker.prepare(" \t\n", false, false))
        .isInstanceOf(InvalidTextException.class);
  }

  @Test
  void aBookChapterSplitsAtSentencesWithinBothLimitsAndLosesNoWord() throws IOException {
    String text = Files.readString(Path.of("src/test/resources/text/pride-and-prejudice.txt"));
    List<TextChunk> chunks = chunker(50, 218).split(text);
    assertWithinLimits(chunks, 50, 218);
    assertThat(joined(chunks)).isEqualTo(words(text.replace('\n', ' ')));
    // sentences are packed greedily: no two neighbours would have fitted together
    for (int i = 1; i < chunks.size(); i++) {
      String both = chunks.get(i - 1).text() + " " + chunks.get(i).text();
      assertThat(tokenizer.encode(both).length > 50 || both.length() > 218).isTrue();
    }
    // titles such as "Mr." and "Mrs." do not end a sentence
    assertThat(chunks).noneSatisfy(c -> assertThat(c.text()).endsWith("Mrs."));
    assertThat(chunks).noneSatisfy(c -> assertThat(c.text()).endsWith("Mr."));
  }

  @Test
  void dialogueKeepsEachUtteranceWhole() {
    List<TextChunk> chunks =
        chunker(16, 218)
            .split("\"Bingley.\" \"Is he married or single?\" \"Oh! Single, my dear.\"");
    assertThat(chunks).extracting(TextChunk::text).contains("\"Is he married or single?\"");
  }

  @Test
  void aLongSentenceIsCutAfterCommasThenBetweenWords() {
    String sentence =
        "Why, my dear, you must know, Mrs. Long says that Netherfield is taken by a young"
            + " man of large fortune from the north of England; that he came down on Monday in a chaise"
            + " and four to see the place, and was so much delighted with it, that he agreed with"
            + " Mr. Morris immediately.";
    List<TextChunk> chunks = chunker(20, 218).split(sentence);
    assertWithinLimits(chunks, 20, 218);
    assertThat(chunks.size()).isGreaterThan(2);
    assertThat(chunks.get(0).text()).endsWith(",");
    assertThat(joined(chunks)).isEqualTo(words(sentence));

    String noPunctuation = "and then he walked and walked ".repeat(20).strip();
    List<TextChunk> plain = chunker(50, 60).split(noPunctuation);
    assertWithinLimits(plain, 50, 60);
    assertThat(joined(plain))
        .isEqualTo(words(TextChunker.prepare(noPunctuation, false, false).text()));
  }

  @Test
  void aSingleHugeWordIsCutBetweenTokens() {
    String word = "abcdefghij".repeat(5000);
    List<TextChunk> chunks = chunker(50, 218).split(word);
    assertWithinLimits(chunks, 50, 218);
    assertThat(String.join("", chunks.stream().map(TextChunk::text).toList()))
        .isEqualTo("A" + word.substring(1) + ".");
  }

  @Test
  void decimalNumbersAreNeverSplit() {
    List<TextChunk> chunks = chunker(8, 218).split("Pi is about 3.14 today. It was 2.5 yesterday.");
    assertThat(chunks).extracting(TextChunk::text).anySatisfy(t -> assertThat(t).contains("3.14"));
    assertThat(chunks).extracting(TextChunk::text).anySatisfy(t -> assertThat(t).contains("2.5"));
    assertThat(chunker(50, 218).sentences("It costs 3.14 now. Then 4.")).hasSize(2);
  }

  @Test
  void listsAndNumbersSplitAtTheirSentenceEnds() {
    String list = "Buy these: eggs, milk, bread. Then call 555 1234! Done? Yes.";
    List<TextChunk> chunks = chunker(6, 218).split(list);
    assertWithinLimits(chunks, 50, 218);
    assertThat(joined(chunks)).isEqualTo(words(list));
  }

  @Test
  void oneWordBecomesOneShortChunk() {
    List<TextChunk> chunks = chunker(50, 218).split("hello");
    assertThat(chunks).hasSize(1);
    assertThat(chunks.get(0).text()).isEqualTo("Hello.");
    assertThat(chunks.get(0).framesAfterEos()).isEqualTo(5);
  }

  @Test
  void theCharacterLimitAloneAlsoSplits() throws IOException {
    String text = Files.readString(Path.of("src/test/resources/text/pride-and-prejudice.txt"));
    List<TextChunk> chunks = chunker(1000, 80).split(text);
    assertWithinLimits(chunks, 1000, 80);
    assertThat(joined(chunks)).isEqualTo(words(text.replace('\n', ' ')));
  }

  @Test
  void boundaryTokensComeFromTheTokenizer() {
    // ".!...?" minus its first id: the sentence-ending pieces of this tokenizer
    int[] probe = tokenizer.encode(".!...?");
    assertThat(probe.length).isGreaterThan(1);
    assertThat(chunker(50, 218).sentences("One. Two! Three? Four... Five")).hasSize(5);
  }
}
