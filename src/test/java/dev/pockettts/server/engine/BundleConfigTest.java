package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BundleConfigTest {

  /** The exporter's own output with random weights; its bundle.json is the published file. */
  private static final Path BENCH = Path.of("../shared/bench-model/english_2026-04/bundle.json");

  @ParameterizedTest
  @CsvSource({
    "english_2026-04, english, en",
    "english_2026-01, english, en",
    "english, english, en",
    "english_2026-09_24l, english, en",
    "english_drifting_26-09, english, en",
    "french_24l, french, fr",
    "german, german, de",
    "german_24l, german, de",
    "italian, italian, it",
    "italian_24l, italian, it",
    "portuguese, portuguese, pt",
    "portuguese_24l, portuguese, pt",
    "spanish, spanish, es",
    "spanish_24l, spanish, es",
    "dutch, dutch, nl",
    "French_24L, french, fr"
  })
  void everyPublishedLanguageValueHasItsFamily(String raw, String family, String code) {
    assertThat(Language.family(raw)).isEqualTo(family);
    assertThat(Language.code(family)).isEqualTo(code);
  }

  @Test
  void anUnknownLanguageHasNoFamily() {
    assertThat(Language.family("klingon_24l")).isNull();
    assertThat(Language.family("englishish")).isNull();
    assertThat(Language.family("")).isNull();
    assertThat(Language.family(null)).isNull();
    assertThat(Language.code(null)).isNull();
  }

  @Test
  void theTinyBundlesSayWhatThePublishedFilesSay() throws IOException {
    BundleConfig en = BundleConfig.read(TinyModels.BUNDLE.resolve(BundleConfig.FILE));
    assertThat(en.language()).isEqualTo("english_2026-04");
    assertThat(en.languageFamily()).isEqualTo("english");
    assertThat(en.framesAfterEos()).isNull(); // null in the published file
    assertThat(en.defaultTemperature()).isNull();
    BundleConfig fr = BundleConfig.read(TinyModels.FRENCH.resolve(BundleConfig.FILE));
    assertThat(fr.language()).isEqualTo("french_24l");
    assertThat(fr.languageFamily()).isEqualTo("french");
    assertThat(fr.framesAfterEos()).isEqualTo(8);
  }

  @Test
  void thePublishedEnglishBundleJsonReadsAsTheContractSays() throws IOException {
    assumeTrue(
        Files.isRegularFile(BENCH),
        "skipped: ../shared/bench-model (the exporter's output) is not beside this clone");
    BundleConfig c = BundleConfig.read(BENCH);
    assertThat(c.name()).isEqualTo("english_2026-04");
    assertThat(c.language()).isEqualTo("english_2026-04");
    assertThat(c.languageFamily()).isEqualTo("english");
    assertThat(c.sampleRate()).isEqualTo(24000);
    assertThat(c.samplesPerFrame()).isEqualTo(1920);
    assertThat(c.latentDim()).isEqualTo(32);
    assertThat(c.conditioningDim()).isEqualTo(1024);
    assertThat(c.padWithSpacesForShortInputs()).isFalse();
    assertThat(c.removeSemicolons()).isFalse();
    assertThat(c.framesAfterEos()).isNull();
    assertThat(c.defaultTemperature()).isNull();
    assertThat(c.maxTokensPerChunk()).isEqualTo(50);
    assertThat(c.insertBosBeforeVoice()).isTrue();
    assertThat(c.tokenizerFile()).isEqualTo("tokenizer.model");
    assertThat(c.bosBeforeVoiceFile()).isEqualTo("bos_before_voice.npy");
    assertThat(c.predefinedVoices()).contains("alba", "marius").hasSize(8);
    assertThat(c.flowStates()).hasSize(18);
    assertThat(c.flowStates().get(0).shape()).containsExactly(2, 1, 1000, 16, 64);
    assertThat(c.flowStates().get(1).shape()).containsExactly(0);
    assertThat(c.flowStates().get(2).dtype()).isEqualTo(StateDtype.INT64);
    assertThat(c.mimiStates()).hasSize(56);
    assertThat(c.mimiStates().get(0).dtype()).isEqualTo(StateDtype.BOOL);
  }

  @Test
  void aNumericDefaultTemperatureIsRead(@TempDir Path tmp) throws IOException {
    String json = Files.readString(TinyModels.BUNDLE.resolve(BundleConfig.FILE));
    Path file = tmp.resolve(BundleConfig.FILE);
    Files.writeString(file, json.replaceFirst("\\{", "{\"default_temperature\": 0.3,"));
    assertThat(BundleConfig.read(file).defaultTemperature()).isEqualTo(0.3f);
    Files.writeString(file, json.replaceFirst("\\{", "{\"default_temperature\": null,"));
    assertThat(BundleConfig.read(file).defaultTemperature()).isNull();
  }
}
