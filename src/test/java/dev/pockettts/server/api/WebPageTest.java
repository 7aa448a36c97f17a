package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;
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

  static ChromeDriver browser;
  ServerHarness server;

  @BeforeAll
  static void startBrowser() {
    Path driver = firstPresent("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver");
    Path chromium = firstPresent("/usr/bin/chromium", "/usr/lib/chromium/chromium");
    if (driver == null || chromium == null) {
      String why =
          "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)";
      if ("true".equals(System.getenv("UI_TESTS_REQUIRED"))) {
        Assertions.fail(why);
      }
      Assumptions.abort(why);
    }
    ChromeOptions options = new ChromeOptions();
    options.setBinary(chromium.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=390,844");
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(driver.toFile())
            .usingAnyFreePort()
            .build();
    browser = new ChromeDriver(service, options);
  }

  @AfterAll
  static void stopBrowser() {
    if (browser != null) {
      browser.quit();
    }
  }

  private static Path firstPresent(String... paths) {
    for (String p : paths) {
      if (Files.isExecutable(Path.of(p))) {
        return Path.of(p);
      }
    }
    return null;
  }

  @BeforeEach
  void openPage() throws Exception {
    server = readyServer();
    browser.get(server.base + "/ui");
    js("sessionStorage.clear();");
    browser.navigate().refresh();
    waitFor(Duration.ofSeconds(15), () -> "ok".equals(attr("health", "data-status")));
    // the phases the status goes through, for the tests to read
    js(
        "window.phases = [];"
            + "new MutationObserver(() => window.phases.push(document.getElementById('status')"
            + ".dataset.phase)).observe(document.getElementById('status'),"
            + " {attributes: true, attributeFilter: ['data-phase']});");
  }

  @Test
  void thePageLoadsWithoutAKeyShowsHealthAndVoicesAndFitsAPhone() throws Exception {
    assertThat(browser.getTitle()).isEqualTo("PocketTTS");
    assertThat(text("health")).matches("Ready: \\d+ built-in voices, cloning available");
    assertThat(new Select(el("voice")).getOptions())
        .extracting(WebElement::getText)
        .contains("alba", "marius");
    assertThat(text("voice-list")).contains("alba: built-in");
    // every control has a label
    assertThat(
            (List<?>)
                js(
                    "return [...document.querySelectorAll('input, select, textarea')]"
                        + ".filter(e => e.labels.length === 0).map(e => e.id);"))
        .isEmpty();
    // nothing wider than the phone's screen
    assertThat((Boolean) js("return document.documentElement.scrollWidth <= window.innerWidth;"))
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
    enterKey(KEY);
    assertThat(el("key-form").isDisplayed()).isFalse();
    assertThat(js("return sessionStorage.getItem('pockettts.apiKey');")).isEqualTo(KEY);
    el("text").sendKeys(TtsEndToEndTest.HELLO);
    new Select(el("voice")).selectByValue("marius");
    el("speak").sendKeys(Keys.ENTER); // the keyboard is enough

    waitFor(Duration.ofSeconds(30), () -> "done".equals(attr("status", "data-phase")));
    assertThat(phases()).containsSubsequence("generating", "playing", "done");
    assertThat(el("error").isDisplayed()).isFalse();
    waitFor(
        Duration.ofSeconds(10),
        () ->
            ((Number) js("return document.getElementById('player').currentTime;")).doubleValue()
                > 0.1);

    WebElement link = el("download");
    assertThat(link.isDisplayed()).isTrue();
    assertThat(link.getDomAttribute("download")).isEqualTo("speech.mp3");
    byte[] downloaded = blob(link.getDomProperty("href"));
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
    enterKey(KEY);
    el("text").sendKeys(TtsEndToEndTest.HELLO);
    new Select(el("format")).selectByValue("wav");
    el("speak").click();
    waitFor(Duration.ofSeconds(30), () -> "done".equals(attr("status", "data-phase")));
    assertThat(phases()).containsSubsequence("generating", "playing", "done");
    byte[] wav = blob(el("download").getDomProperty("href"));
    assertThat(AudioCheck.wavSamples(wav)).hasSize(39 * 1920);
    assertThat(AudioCheck.frequency(AudioCheck.wavSamples(wav), 24000)).isBetween(145.0, 155.0);
  }

  @Test
  void aWrongKeyIsShownToTheUser() throws Exception {
    enterKey("not-the-key");
    el("text").sendKeys("Hello.");
    el("speak").click();
    waitFor(Duration.ofSeconds(15), () -> el("error").isDisplayed());
    assertThat(text("error")).contains("refused the API key (401)");
    assertThat(attr("status", "data-phase")).isEqualTo("error");
    assertThat(el("download").isDisplayed()).isFalse();
    el("forget-key").click();
    assertThat(el("key-form").isDisplayed()).isTrue();
  }

  @Test
  void anUploadedClipNeedsConsentAndCanBeSavedAsAVoice() throws Exception {
    enterKey(KEY);
    el("text").sendKeys("A voice from a clip.");
    el("clip").sendKeys(new File("src/test/resources/audio/speech.wav").getAbsolutePath());
    assertThat(el("source-upload").isSelected()).isTrue();
    el("speak").click();
    waitFor(Duration.ofSeconds(10), () -> el("error").isDisplayed());
    assertThat(text("error")).contains("agreed to have their voice cloned");

    String name = "ui-" + UUID.randomUUID().toString().substring(0, 8);
    el("consent").click();
    el("save-name").sendKeys(name);
    el("speak").click();
    waitFor(Duration.ofSeconds(30), () -> "done".equals(attr("status", "data-phase")));
    assertThat(new Select(el("voice")).getFirstSelectedOption().getDomAttribute("value"))
        .isEqualTo(name);
    assertThat(text("voice-list")).contains(name + ": cloned");
    assertThat(
            server
                .send(server.request("/voices/" + name).header("API_KEY", KEY).DELETE().build())
                .statusCode())
        .isEqualTo(204);
  }

  // ------------------------------------------------------------------ helpers

  private void enterKey(String key) {
    el("key").sendKeys(key, Keys.ENTER);
    waitFor(Duration.ofSeconds(5), () -> el("key-set").isDisplayed());
  }

  @SuppressWarnings("unchecked")
  private List<Object> phases() {
    return (List<Object>) js("return window.phases;");
  }

  private WebElement el(String id) {
    return browser.findElement(By.id(id));
  }

  private String text(String id) {
    return el(id).getText();
  }

  private String attr(String id, String name) {
    return el(id).getDomAttribute(name);
  }

  private Object js(String script) {
    return ((JavascriptExecutor) browser).executeScript(script);
  }

  /** The bytes of a blob: URL of the page. */
  private byte[] blob(String url) {
    Object b64 =
        ((JavascriptExecutor) browser)
            .executeAsyncScript(
                "const done = arguments[arguments.length - 1];"
                    + "fetch(arguments[0]).then(r => r.blob()).then(b => {"
                    + " const reader = new FileReader();"
                    + " reader.onload = () => done(reader.result.split(',')[1]);"
                    + " reader.readAsDataURL(b); });",
                url);
    return Base64.getDecoder().decode((String) b64);
  }

  private void waitFor(Duration timeout, java.util.function.BooleanSupplier condition) {
    new WebDriverWait(browser, timeout)
        .pollingEvery(Duration.ofMillis(50))
        .until(d -> condition.getAsBoolean());
  }
}
