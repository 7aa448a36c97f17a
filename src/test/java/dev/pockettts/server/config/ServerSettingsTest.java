package dev.pockettts.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pockettts.server.engine.Precision;
import dev.pockettts.server.model.ModelSettings;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ServerSettingsTest {

  private static ServerSettings parse(String... pairs) {
    Map<String, String> env = new HashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      env.put(pairs[i], pairs[i + 1]);
    }
    return ServerSettings.parse(env::get);
  }

  @Test
  void defaultsAreTheSeedsAndTheReferences() {
    ServerSettings s = parse("API_KEY", "k");
    assertThat(s.port()).isEqualTo(8000);
    assertThat(s.maxRefDurationSeconds()).isEqualTo(15);
    assertThat(s.generation().maxCharsPerChunk()).isEqualTo(218);
    assertThat(s.generation().temperature()).isNull(); // the model's, else 0.3
    assertThat(s.generation().temperatureFor(null)).isEqualTo(0.3f);
    assertThat(s.generation().temperatureFor(0.5f)).isEqualTo(0.5f);
    assertThat(s.generation().minFramesBeforeEos()).isEqualTo(6);
    assertThat(s.generation().fadeIn()).isTrue();
    assertThat(s.generation().lsdSteps()).isEqualTo(1);
    assertThat(s.generation().eosThreshold()).isEqualTo(-4f);
    assertThat(s.generation().framesAfterEos()).isNull();
    assertThat(s.model().repo()).isEqualTo("KevinAHM/pocket-tts-onnx");
    assertThat(s.model().revision()).isEqualTo("58a6d00cf13d239b6748cb0769f35c580a8f606c");
    assertThat(s.model().bundle()).isEqualTo("english_2026-04");
    assertThat(s.model().precision()).isEqualTo(Precision.INT8);
    assertThat(s.model().offline()).isFalse();
    assertThat(s.model().endpoint()).isEqualTo(ModelSettings.DEFAULT_ENDPOINT);
    assertThat(s.voiceDir().getFileName()).hasToString("voice");
    assertThat(s.model().modelsDir().getFileName()).hasToString("models");
  }

  @Test
  void severalBundlesLoadTheFirstAsTheDefault() {
    assertThat(parse("API_KEY", "k").bundles()).containsExactly("english_2026-04");
    assertThat(parse("API_KEY", "k", "MODEL_BUNDLE", "german").bundles()).containsExactly("german");
    ServerSettings s =
        parse("API_KEY", "k", "MODEL_BUNDLE", "german", "MODEL_BUNDLES", " french_24l, spanish ");
    assertThat(s.bundles()).containsExactly("french_24l", "spanish");
    assertThat(s.model().bundle()).isEqualTo("french_24l");
    assertThat(s.models())
        .extracting(ModelSettings::bundle)
        .containsExactly("french_24l", "spanish");
    assertThat(s.models().get(1).repo()).isEqualTo(s.model().repo());
    assertThat(s.voicesDir().getFileName()).hasToString("voices");
    assertThatThrownBy(
            () ->
                parse(
                    "API_KEY",
                    "k",
                    "MODELS_DIR",
                    "src/test/resources/models/tiny-bundle",
                    "MODEL_BUNDLES",
                    "a,b"))
        .isInstanceOf(SettingsException.class)
        .hasMessageContaining("holds a single model, but MODEL_BUNDLES names 2");
  }

  @Test
  void withoutAKeyTheServerRefusesToStartUnlessAuthIsDisabledExplicitly() {
    assertThatThrownBy(() -> parse())
        .isInstanceOf(SettingsException.class)
        .hasMessageContaining("API_KEY");
    assertThat(parse("AUTH_DISABLED", "true").authDisabled()).isTrue();
  }

  @ParameterizedTest
  @CsvSource({
    "PORT, eighty",
    "PORT, 70000",
    "MAX_REF_DURATION, -1",
    "MAX_REF_DURATION, soon",
    "MAX_CHARS_PER_CHUNK, 0",
    "MODEL_PRECISION, int4",
    "OFFLINE, maybe",
    "TEMPERATURE, hot",
    "LSD_STEPS, 0",
    "PUBLIC_BASE_URL, not a url",
    "HF_ENDPOINT, nowhere",
    "MODEL_BUNDLE, ../x",
    "MAX_UPLOAD_MB, 0",
    "FRAMES_AFTER_EOS, 0",
    "LOG_FORMAT, xml",
    "VOICE_RETENTION, forever",
    "QUEUE_TIMEOUT, -5s",
    "SYNTHESIS_WORKERS, 0",
    "VOICE_DIR_MAX_BYTES, 1X",
    "VOICE_DIR_MAX_BYTES, -5",
    "MODEL_BUNDLES, 'english_2026-04,../x'",
    "MODEL_BUNDLES, 'english_2026-04,,french_24l'",
    "MODEL_BUNDLES, 'french_24l,french_24l'",
    "VOICE_LIBRARY_MAX, -1",
    "MAX_VOICE_FILE_MB, 0"
  })
  void aBadValueIsRefusedNamingTheSetting(String name, String value) {
    assertThatThrownBy(() -> parse("API_KEY", "k", name, value))
        .isInstanceOf(SettingsException.class)
        .hasMessageStartingWith(name)
        .hasMessageContaining(value);
  }

  @Test
  void valuesAreRead() {
    ServerSettings s =
        parse(
            "API_KEY",
            "k",
            "PORT",
            "9000",
            "MODEL_PRECISION",
            "FP32",
            "OFFLINE",
            "yes",
            "PUBLIC_BASE_URL",
            "https://tts.example.org/",
            "MAX_REF_DURATION",
            "7.5",
            "TEMPERATURE",
            "0");
    assertThat(s.port()).isEqualTo(9000);
    assertThat(s.model().precision()).isEqualTo(Precision.FP32);
    assertThat(s.engine().precision()).isEqualTo(Precision.FP32);
    assertThat(s.model().offline()).isTrue();
    assertThat(s.publicBaseUrl()).isEqualTo("https://tts.example.org");
    assertThat(s.maxRefDurationSeconds()).isEqualTo(7.5);
    assertThat(s.generation().temperature()).isZero();
    assertThat(s.generation().temperatureFor(0.5f)).isZero(); // an explicit setting wins
  }

  @Test
  void theVoiceFolderLimitTakesBytesOrSizesAndFallsBackToMegabytes() {
    assertThat(parse("API_KEY", "k").voiceDirMaxBytes()).isEqualTo(1L << 30);
    assertThat(parse("API_KEY", "k", "VOICE_DIR_MAX_MB", "10").voiceDirMaxBytes())
        .isEqualTo(10L << 20);
    assertThat(parse("API_KEY", "k", "VOICE_DIR_MAX_BYTES", "123456").voiceDirMaxBytes())
        .isEqualTo(123456);
    assertThat(parse("API_KEY", "k", "VOICE_DIR_MAX_BYTES", "500M").voiceDirMaxBytes())
        .isEqualTo(500L << 20);
    assertThat(parse("API_KEY", "k", "VOICE_DIR_MAX_BYTES", "2GB").voiceDirMaxBytes())
        .isEqualTo(2L << 30);
  }
}
