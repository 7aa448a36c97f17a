package dev.pockettts.server.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pockettts.server.engine.EngineOptions;
import dev.pockettts.server.engine.GenerationParams;
import dev.pockettts.server.engine.ModelFiles;
import dev.pockettts.server.engine.PocketTtsEngine;
import dev.pockettts.server.engine.Precision;
import dev.pockettts.server.engine.VoiceState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelStoreTest {

  private static final Path TINY = Path.of("src/test/resources/models/tiny-bundle");
  private static final String REPO = "test/pocket-tts-onnx";
  private static final String REV = "0123456789abcdef0123456789abcdef01234567";
  private static final String VOICE_REPO = "test/voices";
  private static final String VOICE_REV = "fedcba9876543210fedcba9876543210fedcba98";
  private static final String TOKEN = "hf_secret";

  @TempDir Path models;
  private FakeHub hub;

  @BeforeEach
  void serve() throws IOException {
    hub = new FakeHub(TOKEN);
    hub.putFolder(REPO, REV, "onnx/tiny/", TINY);
    hub.put(REPO, REV, "onnx/LICENSE", "Licence of the tiny test models: CC0".getBytes());
    for (String voice : List.of("alba", "marius")) {
      hub.put(
          VOICE_REPO,
          VOICE_REV,
          "languages/tiny/embeddings/" + voice + ".safetensors",
          Files.readAllBytes(TINY.resolve("voices/" + voice + ".safetensors")));
    }
  }

  @AfterEach
  void stop() {
    hub.close();
  }

  private ModelStore store(boolean offline, String token) {
    ModelSettings s =
        new ModelSettings(
            models,
            REPO,
            REV,
            "tiny",
            token,
            Precision.INT8,
            offline,
            hub.endpoint(),
            VOICE_REPO,
            VOICE_REV);
    return new ModelStore(s, new HubClient(hub.endpoint(), token, 3, Duration.ofMillis(10)));
  }

  @Test
  void downloadsTheBundleRecordsChecksumsAndTheEngineRunsOnIt() throws IOException {
    ModelStore store = store(false, null);
    Path folder = store.ensureModel();
    assertThat(folder).isEqualTo(models.resolve("tiny"));
    for (String f :
        List.of(
            "bundle.json",
            "tokenizer.model",
            "bos_before_voice.npy",
            "flow_lm_main_int8.onnx",
            "flow_lm_flow_int8.onnx",
            "mimi_decoder_int8.onnx",
            "text_conditioner.onnx",
            "mimi_encoder.onnx")) {
      assertThat(folder.resolve(f)).hasSameBinaryContentAs(TINY.resolve(f));
    }
    assertThat(folder.resolve("flow_lm_main.onnx")).doesNotExist(); // int8 set only
    assertThat(Files.readString(folder.resolve("checksums.json")))
        .contains(ModelFiles.sha256(TINY.resolve("flow_lm_main_int8.onnx")));
    assertThat(store.progress().doneBytes()).isPositive();
    assertThat(store.cloningProblem()).isNull();
    try (Stream<Path> parts = Files.list(folder)) {
      assertThat(parts.map(Path::toString)).noneMatch(n -> n.endsWith(".part"));
    }

    Path voice = store.ensureVoice("alba");
    try (PocketTtsEngine engine = PocketTtsEngine.load(folder, EngineOptions.defaults())) {
      VoiceState alba = engine.voiceFromFile(voice);
      assertThat(
              engine
                  .synthesize(
                      "Downloaded and speaking.",
                      alba,
                      GenerationParams.defaults().withTemperature(0),
                      s -> {},
                      null)
                  .frames())
          .isPositive();
    }

    int before = hub.requests.size();
    store(false, null).ensureModel();
    assertThat(hub.requests).hasSize(before); // everything intact: nothing fetched again
  }

  @Test
  void aDroppedConnectionResumesWithARangeRequest() {
    hub.dropOnce("flow_lm_main_int8.onnx");
    Path folder = store(false, null).ensureModel();
    assertThat(folder.resolve("flow_lm_main_int8.onnx"))
        .hasSameBinaryContentAs(TINY.resolve("flow_lm_main_int8.onnx"));
    assertThat(hub.requests)
        .filteredOn(r -> r.path().endsWith("flow_lm_main_int8.onnx"))
        .hasSize(2)
        .last()
        .satisfies(r -> assertThat(r.range()).startsWith("bytes="));
  }

  @Test
  void aMissingRequiredFileFailsNamingIt() {
    hub.remove(REPO, REV, "onnx/tiny/flow_lm_flow_int8.onnx");
    assertThatThrownBy(() -> store(false, null).ensureModel())
        .isInstanceOf(ModelFileException.class)
        .hasMessageContaining("flow_lm_flow_int8.onnx")
        .hasMessageContaining("404")
        .satisfies(
            e ->
                assertThat(((ModelFileException) e).reason())
                    .isEqualTo(ModelFileException.Reason.NOT_FOUND));
  }

  @Test
  void aGatedEncoderLeavesBuiltInVoicesWorkingAndSaysWhyCloningIsOff() {
    hub.gate("mimi_encoder.onnx");
    ModelStore store = store(false, null);
    Path folder = store.ensureModel();
    assertThat(folder.resolve("mimi_encoder.onnx")).doesNotExist();
    assertThat(store.cloningProblem()).contains("401").contains("HF_TOKEN");

    ModelStore withToken = store(false, TOKEN);
    withToken.ensureModel();
    assertThat(folder.resolve("mimi_encoder.onnx")).exists();
    assertThat(withToken.cloningProblem()).isNull();
  }

  @Test
  void theTokenGoesToTheHubButNotToTheHostItRedirectsTo() {
    hub.redirect("mimi_decoder_int8.onnx");
    store(false, TOKEN).ensureModel();
    assertThat(hub.requests)
        .filteredOn(r -> r.path().startsWith("/cdn/"))
        .singleElement()
        .satisfies(r -> assertThat(r.authorization()).isNull());
    assertThat(hub.requests)
        .filteredOn(r -> r.path().endsWith("bundle.json"))
        .allSatisfy(r -> assertThat(r.authorization()).isEqualTo("Bearer " + TOKEN));
    assertThat(models.resolve("tiny/mimi_decoder_int8.onnx"))
        .hasSameBinaryContentAs(TINY.resolve("mimi_decoder_int8.onnx"));
  }

  @Test
  void aCorruptFileIsDownloadedAgainOnlineAndRefusedOffline() throws IOException {
    Path folder = store(false, null).ensureModel();
    Path main = folder.resolve("flow_lm_main_int8.onnx");
    byte[] bytes = Files.readAllBytes(main);
    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(main, bytes);

    assertThatThrownBy(() -> store(true, null).ensureModel())
        .isInstanceOf(ModelFileException.class)
        .hasMessageContaining("flow_lm_main_int8.onnx is corrupt");

    store(false, null).ensureModel();
    assertThat(main).hasSameBinaryContentAs(TINY.resolve("flow_lm_main_int8.onnx"));
  }

  @Test
  void offlineNeverDownloadsAndNamesWhatIsMissing() {
    assertThatThrownBy(() -> store(true, null).ensureModel())
        .isInstanceOf(ModelFileException.class)
        .hasMessageContaining("OFFLINE=true");
    assertThat(hub.requests).isEmpty();
  }

  @Test
  void voicesDownloadOnFirstUseAndAreCheckedAfter() throws IOException {
    ModelStore store = store(false, null);
    store.ensureModel();
    Path alba = store.ensureVoice("alba");
    assertThat(alba).hasSameBinaryContentAs(TINY.resolve("voices/alba.safetensors"));
    assertThat(Files.readString(models.resolve("tiny/checksums.json")))
        .contains("voices/alba.safetensors");
    long fetched = hub.requestsFor("alba.safetensors");
    store.ensureVoice("alba");
    assertThat(hub.requestsFor("alba.safetensors")).isEqualTo(fetched);

    assertThatThrownBy(() -> store.ensureVoice("../alba")).isInstanceOf(ModelFileException.class);
    assertThatThrownBy(() -> store.ensureVoice("nobody"))
        .isInstanceOf(ModelFileException.class)
        .hasMessageContaining("nobody");

    Files.write(alba, new byte[] {1, 2, 3});
    ModelStore offline = store(true, null);
    offline.ensureModel();
    assertThatThrownBy(() -> offline.ensureVoice("alba"))
        .isInstanceOf(ModelFileException.class)
        .hasMessageContaining("corrupt");
  }

  @Test
  void aFolderThatHoldsAModelIsUsedAsItIs() {
    ModelSettings s =
        new ModelSettings(
            TINY,
            REPO,
            REV,
            "tiny",
            null,
            Precision.INT8,
            true,
            hub.endpoint(),
            VOICE_REPO,
            VOICE_REV);
    ModelStore store = new ModelStore(s, new HubClient(hub.endpoint(), null, 1, Duration.ZERO));
    assertThat(store.ensureModel()).isEqualTo(TINY);
    assertThat(store.voiceNames()).contains("alba", "caro_davy").hasSize(21);
    assertThat(store.ensureVoice("vera")).exists();
    assertThat(hub.requests).isEmpty();
  }
}
