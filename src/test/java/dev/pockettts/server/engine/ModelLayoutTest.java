package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Both published layouts load, and exports or files that do not fit are refused clearly. */
class ModelLayoutTest {

  private static final GenerationParams EXACT = GenerationParams.defaults().withTemperature(0);

  @ParameterizedTest
  @ValueSource(strings = {"alba", "marius", "javert"}) // v1 audio_prompt, v2 current_end, v3 offset
  void legacyFlatSetSpeaksWithEveryOlderVoiceFormat(String name) {
    try (PocketTtsEngine legacy = TinyModels.legacy()) {
      assertThat(legacy.config().insertBosBeforeVoice()).isFalse();
      VoiceState v =
          legacy.voiceFromFile(TinyModels.LEGACY.resolve("voices/" + name + ".safetensors"));
      assertThat(v.positions()).isEqualTo(6); // no BOS-before-voice in the legacy model
      PcmCollector pcm = new PcmCollector();
      legacy.synthesize("The legacy model still speaks.", v, EXACT, pcm, null);
      float[] s = pcm.samples();
      assertThat(Signal.rms(s, 0, s.length)).isGreaterThan(0.05);
      assertThat(Signal.frequency(s, 24000)).isCloseTo(TinyModels.voiceHz(name), within(1.0));
    }
  }

  @Test
  void legacyCloningAddsNoBosBeforeVoice() {
    try (PocketTtsEngine legacy = TinyModels.legacy()) {
      VoiceState v = legacy.voiceFromAudio(Signal.sine(300, 0.2, 1920 * 5, 24000));
      assertThat(v.positions()).isEqualTo(5);
      PcmCollector pcm = new PcmCollector();
      legacy.synthesize("Cloned in the legacy model.", v, EXACT, pcm, null);
      float[] s = pcm.samples();
      assertThat(Signal.rms(s, 0, s.length)).isGreaterThan(0.05);
    }
  }

  @Test
  void fp32PrecisionLoadsTheFullPrecisionFiles() {
    try (PocketTtsEngine e =
        PocketTtsEngine.load(TinyModels.BUNDLE, new EngineOptions(Precision.FP32, 1, 1))) {
      VoiceState v = e.voiceFromFile(TinyModels.BUNDLE.resolve("voices/alba.safetensors"));
      assertThat(e.synthesize("Full precision.", v, EXACT, s -> {}, null).frames()).isPositive();
    }
    assertThat(ModelFiles.locate(TinyModels.BUNDLE, Precision.FP32).flowLmMain().getFileName())
        .hasToString("flow_lm_main.onnx");
    assertThat(ModelFiles.locate(TinyModels.BUNDLE, Precision.INT8).flowLmMain().getFileName())
        .hasToString("flow_lm_main_int8.onnx");
    assertThat(ModelFiles.locate(TinyModels.BUNDLE, Precision.INT8).mimiEncoder().getFileName())
        .hasToString("mimi_encoder.onnx");
  }

  @Test
  void anExportWithAnotherStateLayoutIsRefusedSayingWhatDiffers(@TempDir Path tmp)
      throws IOException {
    TinyModels.copy(TinyModels.LEGACY, tmp);
    Files.copy(
        TinyModels.INCOMPATIBLE.resolve("flow_lm_main_int8.onnx"),
        tmp.resolve("flow_lm_main_int8.onnx"),
        StandardCopyOption.REPLACE_EXISTING);
    assertThatThrownBy(() -> PocketTtsEngine.load(tmp, EngineOptions.defaults()))
        .isInstanceOf(IncompatibleModelException.class)
        .hasMessageContaining("flow_lm_main")
        .hasMessageContaining("3 per layer")
        .hasMessageContaining("alfredomariamilano");
  }

  @Test
  void aMissingGraphIsNamed(@TempDir Path tmp) throws IOException {
    TinyModels.copy(TinyModels.LEGACY, tmp);
    Files.delete(tmp.resolve("flow_lm_flow_int8.onnx"));
    Files.delete(tmp.resolve("flow_lm_flow.onnx"));
    assertThatThrownBy(() -> PocketTtsEngine.load(tmp, EngineOptions.defaults()))
        .isInstanceOf(EngineException.class)
        .hasMessageContaining("flow_lm_flow_int8.onnx is missing");
  }

  @Test
  void aMissingFolderIsNamed(@TempDir Path tmp) {
    assertThatThrownBy(() -> PocketTtsEngine.load(tmp.resolve("nope"), EngineOptions.defaults()))
        .isInstanceOf(EngineException.class)
        .hasMessageContaining("does not exist");
  }

  @Test
  void withoutTheEncoderBuiltInVoicesWorkAndCloningSaysWhy(@TempDir Path tmp) throws IOException {
    TinyModels.copy(TinyModels.BUNDLE, tmp);
    Files.delete(tmp.resolve("mimi_encoder.onnx"));
    Files.delete(tmp.resolve("mimi_encoder_int8.onnx"));
    try (PocketTtsEngine e = PocketTtsEngine.load(tmp, EngineOptions.defaults())) {
      assertThat(e.cloningUnavailableReason()).contains("mimi_encoder.onnx is missing");
      assertThatThrownBy(() -> e.voiceFromAudio(new float[1920]))
          .isInstanceOf(CloningUnavailableException.class);
      VoiceState v = e.voiceFromFile(tmp.resolve("voices/alba.safetensors"));
      assertThat(e.synthesize("Still speaking.", v, EXACT, s -> {}, null).frames()).isPositive();
    }
  }

  @Test
  void aManifestThatDisagreesWithTheGraphIsRefused(@TempDir Path tmp) throws IOException {
    TinyModels.copy(TinyModels.BUNDLE, tmp);
    Path json = tmp.resolve("bundle.json");
    Files.writeString(
        json, Files.readString(json).replaceFirst("\"shape\": \\[\\s*0\\s*\\]", "\"shape\": [1]"));
    assertThatThrownBy(() -> PocketTtsEngine.load(tmp, EngineOptions.defaults()))
        .isInstanceOf(IncompatibleModelException.class)
        .hasMessageContaining("state_1")
        .hasMessageContaining("bundle.json says");
  }

  @Test
  void aNewerBundleSchemaIsRefused(@TempDir Path tmp) throws IOException {
    TinyModels.copy(TinyModels.BUNDLE, tmp);
    Path json = tmp.resolve("bundle.json");
    Files.writeString(
        json, Files.readString(json).replace("\"schema_version\": 2", "\"schema_version\": 3"));
    assertThatThrownBy(() -> PocketTtsEngine.load(tmp, EngineOptions.defaults()))
        .isInstanceOf(IncompatibleModelException.class)
        .hasMessageContaining("schema_version");
  }

  @Test
  void bundleFlagsAreRead() {
    try (PocketTtsEngine e = TinyModels.bundle()) {
      BundleConfig c = e.config();
      assertThat(c.insertBosBeforeVoice()).isTrue();
      assertThat(c.maxTokensPerChunk()).isEqualTo(50);
      assertThat(c.framesAfterEos()).isNull();
      assertThat(c.predefinedVoices()).containsAll(TinyModels.VOICES);
      assertThat(c.flowStates()).hasSize(6);
      assertThat(c.mimiStates()).hasSize(56);
      assertThat(c.mimiStates().stream().filter(s -> s.dtype() == StateDtype.BOOL)).hasSize(20);
    }
  }

  @Test
  void modelRecommendedFramesAfterEosApply(@TempDir Path tmp) throws IOException {
    TinyModels.copy(TinyModels.BUNDLE, tmp);
    Path json = tmp.resolve("bundle.json");
    Files.writeString(
        json,
        Files.readString(json)
            .replace(
                "\"model_recommended_frames_after_eos\": null",
                "\"model_recommended_frames_after_eos\": 8")
            .replace("\"remove_semicolons\": false", "\"remove_semicolons\": true"));
    try (PocketTtsEngine e = PocketTtsEngine.load(tmp, EngineOptions.defaults())) {
      VoiceState v = e.voiceFromFile(tmp.resolve("voices/alba.safetensors"));
      TextChunk c = e.chunk("Eight frames after the end; always.", EXACT).get(0);
      assertThat(c.text()).isEqualTo("Eight frames after the end, always.");
      assertThat(e.synthesize(c.text(), v, EXACT, s -> {}, null).frames())
          .isEqualTo(2 * c.tokens().length + 8);
    }
  }
}
