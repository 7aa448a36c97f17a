package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.pockettts.server.TtsApplication;
import dev.pockettts.server.engine.TinyModels;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.support.ui.Select;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;

/**
 * Two bundles at once (MODEL_BUNDLES): the tiny English one and the tiny 12-layer French one, each
 * in its own folder under MODELS_DIR as a download would leave them. Voices speak at known pitches
 * (English alba 150 Hz; French alba 250, lucie 262.5, olivier 275 Hz), so each answer shows which
 * model and voice spoke.
 */
class LanguageBundlesTest {

  static final String ENGLISH = "tiny_english";
  static final String FRENCH = "tiny_french_12l";

  @TempDir static Path root;
  static ConfigurableApplicationContext ctx;
  static ServerHarness server;

  @BeforeAll
  static void start() throws Exception {
    TinyModels.copy(TinyModels.BUNDLE, root.resolve("models").resolve(ENGLISH));
    TinyModels.copy(TinyModels.FRENCH, root.resolve("models").resolve(FRENCH));
    ctx =
        new SpringApplicationBuilder(TtsApplication.class)
            .properties(
                "API_KEY=" + KEY,
                "MODELS_DIR=" + root.resolve("models"),
                "MODEL_BUNDLES=" + ENGLISH + "," + FRENCH,
                "OFFLINE=true",
                "TEMPERATURE=0",
                "VOICES_DIR=" + root.resolve("voices"),
                "VOICE_DIR=" + root.resolve("voice"))
            .run("--server.port=0");
    server =
        new ServerHarness(Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port")));
    server.awaitReady();
  }

  @AfterAll
  static void stop() {
    if (ctx != null) {
      ctx.close();
    }
  }

  private static double ttsHz(String json) throws Exception {
    HttpResponse<byte[]> r = server.postJson("/tts", json);
    assertThat(r.statusCode()).as(new String(r.body())).isEqualTo(200);
    return AudioCheck.frequency(AudioCheck.wavSamples(r.body()), 24000);
  }

  private static double openAiHz(String model, String voice) throws Exception {
    HttpResponse<byte[]> r =
        server.postJson(
            "/v1/audio/speech",
            "{\"model\":\""
                + model
                + "\",\"input\":\"Une phrase pour la voix.\",\"voice\":\""
                + voice
                + "\",\"response_format\":\"wav\"}");
    assertThat(r.statusCode()).as(new String(r.body())).isEqualTo(200);
    return AudioCheck.frequency(AudioCheck.wavSamples(r.body()), 24000);
  }

  @Test
  void healthAndTheModelListShowBothBundles() throws Exception {
    JsonNode health = json(server.get("/health"));
    assertThat(health.path("models").get(0).path("name").asString()).isEqualTo(ENGLISH);
    assertThat(health.path("models").get(0).path("language").asString()).isEqualTo("english");
    assertThat(health.path("models").get(1).path("name").asString()).isEqualTo(FRENCH);
    assertThat(health.path("models").get(1).path("language").asString()).isEqualTo("french");
    // the bundles' own values, as the exporter writes them
    assertThat(health.path("models").get(0).path("language_variant").asString())
        .isEqualTo("english_2026-04");
    assertThat(health.path("models").get(1).path("language_variant").asString())
        .isEqualTo("french_24l");
    assertThat(health.path("models").get(1).path("voices").toString())
        .isEqualTo("[\"alba\",\"lucie\",\"olivier\"]");
    assertThat(
            json(server.send(server.request("/v1/models").header("API_KEY", KEY).build()))
                .path("data")
                .toString())
        .contains(ENGLISH, FRENCH, "tts-1");
  }

  @Test
  void theBundleIsChosenPerRequest() throws Exception {
    String script = "{\"script\":\"Une phrase pour la voix.\",\"format\":\"wav\"";
    assertThat(ttsHz(script + "}")).isCloseTo(150, within(2.0)); // default: English alba
    assertThat(ttsHz(script + ",\"bundle\":\"" + FRENCH + "\"}")).isCloseTo(250, within(2.0));
    // a voice only one bundle has picks that bundle
    assertThat(ttsHz(script + ",\"model\":\"lucie\"}")).isCloseTo(262.5, within(2.0));
    assertThat(openAiHz(FRENCH, "olivier")).isCloseTo(275, within(2.0));
    assertThat(openAiHz(FRENCH, "alba")).isCloseTo(250, within(2.0));
    assertThat(openAiHz("tts-1", "alloy")).isCloseTo(150, within(2.0));
    assertThat(openAiHz(ENGLISH, "marius")).isCloseTo(162.5, within(2.0));
  }

  @Test
  void wrongModelsAndVoicesAreClearErrors() throws Exception {
    assertProblem(
        server.postJson("/tts", "{\"script\":\"Hi.\",\"bundle\":\"klingon\"}"),
        400,
        "unknown-model");
    assertProblem(
        server.postJson(
            "/tts", "{\"script\":\"Hi.\",\"model\":\"marius\",\"bundle\":\"" + FRENCH + "\"}"),
        400,
        "unknown-voice");
    HttpResponse<byte[]> openAi =
        server.postJson(
            "/v1/audio/speech", "{\"model\":\"klingon\",\"input\":\"Hi.\",\"voice\":\"alba\"}");
    assertThat(openAi.statusCode()).isEqualTo(400);
    assertThat(json(openAi).path("error").path("code").asString()).isEqualTo("unknown-model");
  }

  @Test
  void theWebPageOffersTheModelsAndSpeaksWithTheOneChosen() throws Exception {
    HeadlessChromium browser = HeadlessChromium.start();
    try {
      browser.open(server.base);
      browser.enterKey(KEY);
      assertThat(browser.el("model-choice").isDisplayed()).isTrue();
      new Select(browser.el("model")).selectByValue(FRENCH);
      browser.waitFor(
          Duration.ofSeconds(5),
          () -> new Select(browser.el("voice")).getOptions().size() == 3); // only its voices
      new Select(browser.el("voice")).selectByValue("lucie");
      new Select(browser.el("format")).selectByValue("wav");
      browser.el("text").sendKeys("Une phrase pour la voix.");
      browser.el("speak").click();
      browser.awaitDone();
      assertThat(AudioCheck.frequency(AudioCheck.wavSamples(browser.download()), 24000))
          .isCloseTo(262.5, within(2.0));
    } finally {
      browser.quit();
    }
  }

  @Test
  void aVoiceSavedWithOneBundleSpeaksWithItAndNotWithTheOther() throws Exception {
    HttpResponse<byte[]> saved =
        server.postForm(
            "/voices",
            new ServerHarness.Multipart()
                .field("name", "chanteuse")
                .field("consent", "true")
                .field("bundle", FRENCH)
                .file("audio", Path.of("src/test/resources/audio/speech.wav")));
    assertThat(saved.statusCode()).as(new String(saved.body())).isEqualTo(201);
    assertThat(json(saved).path("language").asString()).isEqualTo("french");
    assertThat(json(saved).path("bundle").asString()).isEqualTo(FRENCH);

    HttpResponse<byte[]> clone =
        server.postForm(
            "/tts/clone",
            new ServerHarness.Multipart()
                .field("script", "Une phrase pour la voix.")
                .field("format", "wav")
                .field("bundle", FRENCH)
                .file("voice_file", Path.of("src/test/resources/audio/speech.wav")));
    assertThat(clone.statusCode()).isEqualTo(200);
    HttpResponse<byte[]> byName =
        server.postJson(
            "/tts",
            "{\"script\":\"Une phrase pour la voix.\",\"format\":\"wav\",\"model\":\"chanteuse\"}");
    assertThat(byName.body()).isEqualTo(clone.body());
    assertProblem(
        server.postJson(
            "/tts", "{\"script\":\"Hi.\",\"model\":\"chanteuse\",\"bundle\":\"" + ENGLISH + "\"}"),
        400,
        "voice-model-mismatch");

    String list =
        json(server.send(server.request("/voices").header("API_KEY", KEY).build())).toString();
    assertThat(list)
        .contains(
            "{\"id\":\"alba\",\"name\":\"alba\",\"language\":\"english\",\"bundle\":\"" + ENGLISH)
        .contains(
            "{\"id\":\"alba\",\"name\":\"alba\",\"language\":\"french\",\"bundle\":\"" + FRENCH)
        .contains("{\"id\":\"chanteuse\",\"name\":\"chanteuse\",\"language\":\"french\"");
    String openAi =
        json(server.send(server.request("/v1/audio/voices").header("API_KEY", KEY).build()))
            .toString();
    assertThat(openAi)
        .contains(
            "\"id\":\"lucie\",\"name\":\"lucie\",\"source\":\"built-in\",\"language\":\"french\",\"model\":\""
                + FRENCH);
  }
}
