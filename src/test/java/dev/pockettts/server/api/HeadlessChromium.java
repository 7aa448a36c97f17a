package dev.pockettts.server.api;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.logging.Level;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Debian's chromium and chromium-driver, headless, in a phone-sized window. Without them a test is
 * skipped with a message, unless UI_TESTS_REQUIRED=true (as in CI), where it fails.
 */
final class HeadlessChromium {

  final ChromeDriver driver;

  private HeadlessChromium(ChromeDriver driver) {
    this.driver = driver;
  }

  void quit() {
    driver.quit();
  }

  /**
   * Opens the web page of the server at {@code base} with an empty session (no key), waits until it
   * shows the server ready, and records the phases the status goes through in window.phases.
   */
  void open(String base) {
    driver.get(base + "/ui");
    js("sessionStorage.clear();");
    driver.navigate().refresh();
    waitFor(Duration.ofSeconds(15), () -> "ok".equals(attr("health", "data-status")));
    js(
        "window.phases = [];"
            + "new MutationObserver(() => window.phases.push(document.getElementById('status')"
            + ".dataset.phase)).observe(document.getElementById('status'),"
            + " {attributes: true, attributeFilter: ['data-phase']});");
  }

  void enterKey(String key) {
    el("key").sendKeys(key, Keys.ENTER);
    waitFor(Duration.ofSeconds(5), () -> el("key-set").isDisplayed());
  }

  /** Waits until the status says the synthesis is done. */
  void awaitDone() {
    waitFor(
        Duration.ofSeconds(30),
        () -> "done".equals(attr("status", "data-phase")),
        () ->
            "the page did not finish: status '"
                + text("status")
                + "', error '"
                + text("error")
                + "', phases "
                + phases()
                + ", browser log "
                + browserLog());
  }

  private String browserLog() {
    try {
      return driver.manage().logs().get(LogType.BROWSER).getAll().toString();
    } catch (RuntimeException e) {
      return "unavailable (" + e.getMessage() + ")";
    }
  }

  @SuppressWarnings("unchecked")
  List<Object> phases() {
    return (List<Object>) js("return window.phases;");
  }

  WebElement el(String id) {
    return driver.findElement(By.id(id));
  }

  String text(String id) {
    return el(id).getText();
  }

  String attr(String id, String name) {
    return el(id).getDomAttribute(name);
  }

  Object js(String script) {
    return driver.executeScript(script);
  }

  /** The bytes of a blob: URL of the page. */
  byte[] blob(String url) {
    Object b64 =
        driver.executeAsyncScript(
            "const done = arguments[arguments.length - 1];"
                + "fetch(arguments[0]).then(r => r.blob()).then(b => {"
                + " const reader = new FileReader();"
                + " reader.onload = () => done(reader.result.split(',')[1]);"
                + " reader.readAsDataURL(b); });",
            url);
    return Base64.getDecoder().decode((String) b64);
  }

  /** The bytes of the download link's audio. */
  byte[] download() {
    return blob(el("download").getDomProperty("href"));
  }

  void waitFor(Duration timeout, BooleanSupplier condition) {
    waitFor(timeout, condition, () -> "the condition did not hold within " + timeout);
  }

  private void waitFor(Duration timeout, BooleanSupplier condition, Supplier<String> failure) {
    new WebDriverWait(driver, timeout)
        .pollingEvery(Duration.ofMillis(50))
        .withMessage(failure)
        .until(d -> condition.getAsBoolean());
  }

  static HeadlessChromium start() {
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
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(driver.toFile())
            .usingAnyFreePort()
            .build();
    return new HeadlessChromium(new ChromeDriver(service, options));
  }

  private static Path firstPresent(String... paths) {
    for (String p : paths) {
      if (Files.isExecutable(Path.of(p))) {
        return Path.of(p);
      }
    }
    return null;
  }
}
