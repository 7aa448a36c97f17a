package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;
import org.springframework.test.context.TestPropertySource;

/**
 * The web page at /ui in a real headless Chromium (Debian's chromium and chromium-driver) on a
 * phone-sized window, against the running server with the tiny models. Without Chromium the tests
 * are skipped, unless UI_TESTS_REQUIRED=true (as in CI), where they fail.
 */
@TestPropertySource(
    properties = {
      "TEMPERATURE=0",
      "VOICES_DIR=target/test-voices-ui",
      "VOICE_DIR=target/test-voice"
    })
class WebPageTest extends ServerTest {

  static HeadlessChromium browser;
  ServerHarness server;

  @BeforeAll
  static void startBrowser() {
    browser = HeadlessChromium.start();
  }

  @AfterAll
  static void stopBrowser() {
    if (browser != null) {
      browser.quit();
    }
  }

  @BeforeEach
  void openPage() throws Exception {
    server = readyServer();
    browser.open(server.base);
  }

  @Test
  void thePageLoadsWithoutAKeyShowsHealthAndVoicesAndFitsAPhone() throws Exception {
    assertThat(browser.driver.getTitle()).isEqualTo("PocketTTS");
    assertThat(browser.text("health")).matches("Ready: \\d+ built-in voices, cloning available");
    assertThat(new Select(browser.el("voice")).getOptions())
        .extracting(WebElement::getText)
        .contains("alba", "marius");
    assertThat(browser.text("voice-list")).contains("alba: built-in");
    assertThat(browser.el("model-choice").isDisplayed()).isFalse(); // one model: no choice to make
    // every control has a label
    assertThat(
            (List<?>)
                browser.js(
                    "return [...document.querySelectorAll('input, select, textarea')]"
                        + ".filter(e => e.labels.length === 0).map(e => e.id);"))
        .isEmpty();
    // nothing wider than the phone's screen
    assertThat(
            (Boolean)
                browser.js("return document.documentElement.scrollWidth <= window.innerWidth;"))
        .isTrue();

    HttpResponse<byte[]> page = server.get("/ui");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type"))
        .hasValueSatisfying(ct -> assertThat(ct).startsWith("text/html"));
    assertThat(page.headers().firstValue("Content-Security-Policy"))
        .hasValueSatisfying(csp -> assertThat(csp).contains("script-src 'self'"));
    assertThat(server.get("/ui/ui.js").statusCode()).isEqualTo(200);
  }

  @Test
  void anMp3SynthesisPlaysWhileItStreamsAndDownloadsTheSameBytesTheApiGives() throws Exception {
    browser.enterKey(KEY);
    assertThat(browser.el("key-form").isDisplayed()).isFalse();
    assertThat(browser.js("return sessionStorage.getItem('pockettts.apiKey');")).isEqualTo(KEY);
    browser.el("text").sendKeys(TtsEndToEndTest.HELLO);
    new Select(browser.el("voice")).selectByValue("marius");
    browser.el("speak").sendKeys(Keys.ENTER); // the keyboard is enough

    browser.awaitDone();
    assertThat(browser.phases()).containsSubsequence("generating", "playing", "done");
    assertThat(browser.el("error").isDisplayed()).isFalse();
    browser.waitFor(
        Duration.ofSeconds(10),
        () ->
            ((Number) browser.js("return document.getElementById('player').currentTime;"))
                    .doubleValue()
                > 0.1);

    WebElement link = browser.el("download");
    assertThat(link.isDisplayed()).isTrue();
    assertThat(link.getDomAttribute("download")).isEqualTo("speech.mp3");
    byte[] downloaded = browser.blob(link.getDomProperty("href"));
    byte[] direct =
        server
            .postJson(
                "/v1/audio/speech",
                "{\"input\":\""
                    + TtsEndToEndTest.HELLO
                    + "\",\"voice\":\"marius\",\"response_format\":\"mp3\",\"speed\":1}")
            .body();
    assertThat(downloaded).isEqualTo(direct);
  }

  @Test
  void aWavSynthesisPlaysThroughWebAudioAndHoldsTheWholeSpeech() throws Exception {
    browser.enterKey(KEY);
    browser.el("text").sendKeys(TtsEndToEndTest.HELLO);
    new Select(browser.el("format")).selectByValue("wav");
    browser.el("speak").click();
    browser.awaitDone();
    assertThat(browser.phases()).containsSubsequence("generating", "playing", "done");
    byte[] wav = browser.blob(browser.el("download").getDomProperty("href"));
    assertThat(AudioCheck.wavSamples(wav)).hasSize(39 * 1920);
    assertThat(AudioCheck.frequency(AudioCheck.wavSamples(wav), 24000)).isBetween(145.0, 155.0);
  }

  @Test
  void aWrongKeyIsShownToTheUser() throws Exception {
    browser.enterKey("not-the-key");
    browser.el("text").sendKeys("Hello.");
    browser.el("speak").click();
    browser.waitFor(Duration.ofSeconds(15), () -> browser.el("error").isDisplayed());
    assertThat(browser.text("error")).contains("refused the API key (401)");
    assertThat(browser.attr("status", "data-phase")).isEqualTo("error");
    assertThat(browser.el("download").isDisplayed()).isFalse();
    browser.el("forget-key").click();
    assertThat(browser.el("key-form").isDisplayed()).isTrue();
  }

  @Test
  void anUploadedClipNeedsConsentAndCanBeSavedAsAVoice() throws Exception {
    browser.enterKey(KEY);
    browser.el("text").sendKeys("A voice from a clip.");
    browser.el("clip").sendKeys(new File("src/test/resources/audio/speech.wav").getAbsolutePath());
    assertThat(browser.el("source-upload").isSelected()).isTrue();
    browser.el("speak").click();
    browser.waitFor(Duration.ofSeconds(10), () -> browser.el("error").isDisplayed());
    assertThat(browser.text("error")).contains("agreed to have their voice cloned");

    String name = "ui-" + UUID.randomUUID().toString().substring(0, 8);
    browser.el("consent").click();
    browser.el("save-name").sendKeys(name);
    browser.el("speak").click();
    browser.awaitDone();
    assertThat(new Select(browser.el("voice")).getFirstSelectedOption().getDomAttribute("value"))
        .isEqualTo(name);
    assertThat(browser.text("voice-list")).contains(name + ": cloned");
    assertThat(
            server
                .send(server.request("/voices/" + name).header("API_KEY", KEY).DELETE().build())
                .statusCode())
        .isEqualTo(204);
  }
}
