package dev.pockettts.server.text;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EnglishNormalizerTest {

  private final EnglishNormalizer n = new EnglishNormalizer();

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "I have 3 apples.|I have three apples.",
        "It costs 1,234 pounds.|It costs one thousand two hundred thirty-four pounds.",
        "Pi is 3.14.|Pi is three point one four.",
        "It was -5 outside.|It was minus five outside.",
        "The 21st century.|The twenty-first century.",
        "She came 2nd.|She came second.",
        "It costs $5.|It costs five dollars.",
        "It costs $1.|It costs one dollar.",
        "Pay $12.50 now.|Pay twelve dollars and fifty cents now.",
        "Only £3.01 left.|Only three pounds and one penny left.",
        "About €20.|About twenty euros.",
        "Up 25% today.|Up twenty-five percent today.",
        "Meet at 3:30 pm.|Meet at three thirty p m.",
        "Meet at 9:05.|Meet at nine oh five.",
        "Meet at 10:00.|Meet at ten o'clock.",
        "Born 1999-03-05.|Born March fifth, nineteen ninety-nine.",
        "Since 2025-12-01.|Since December first, twenty twenty-five.",
        "It happened in 1999.|It happened in nineteen ninety-nine.",
        "It happened in 2005.|It happened in two thousand five.",
        "Built in 1900.|Built in nineteen hundred.",
        "Mr. Smith and Dr. Jones.|Mister Smith and Doctor Jones.",
        "Fruit, e.g. apples.|Fruit, for example apples.",
        "See https://example.com/docs now.|See example dot com slash docs now.",
        "Visit www.kyutai.org.|Visit www dot kyutai dot org.",
        "Write to jane.doe@example.org please.|Write to jane dot doe at example dot org please.",
        "Salt & pepper.|Salt and pepper.",
        "No numbers here.|No numbers here.",
        "The 999999999999999th time.|The nine hundred ninety-nine trillion nine hundred"
            + " ninety-nine billion nine hundred ninety-nine million nine hundred ninety-nine"
            + " thousand nine hundred ninety-ninth time.",
        "The 12345678901234567890th time.|The one two three four five six seven eight nine zero"
            + " one two three four five six seven eight nine zeroth time.",
        "Pay $99999999999999999999 now.|Pay nine nine nine nine nine nine nine nine nine nine"
            + " nine nine nine nine nine nine nine nine nine nine dollars now.",
        "Only $0001 left.|Only one dollar left.",
        "Count 123456789012345678901234567890 stars.|Count one two three four five six seven"
            + " eight nine zero one two three four five six seven eight nine zero one two three"
            + " four five six seven eight nine zero stars.",
        "Up 99999999999999999999.5% today.|Up nine nine nine nine nine nine nine nine nine nine"
            + " nine nine nine nine nine nine nine nine nine nine point five percent today."
      })
  void readsTextAloud(String written, String spoken) {
    assertThat(n.normalize(written)).isEqualTo(spoken);
  }
}
