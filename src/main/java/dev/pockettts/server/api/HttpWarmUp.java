package dev.pockettts.server.api;

import dev.pockettts.server.security.WarmUpToken;
import dev.pockettts.server.synthesis.ModelService;
import dev.pockettts.server.synthesis.StartupWarmUp;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.boot.web.server.context.WebServerInitializedEvent;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationListener;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/**
 * After the engine's own warm-up ({@link StartupWarmUp}) and before {@code /health} says ready, the
 * server sends one short {@code POST /tts} (WAV, the default voice) to itself over loopback and
 * reads the answer to its end. That runs what the engine's warm-up cannot: Tomcat, the filters, the
 * JSON binding, the controller and the streamed response, whose first use made the first request
 * after a start about 100 ms slower than the next ones (211-213 ms against 87-145 ms by curl on
 * bench-model). It carries {@link WarmUpToken}'s secret, so it needs no key, counts against no rate
 * limit and stays out of the speech metrics (Spring's HTTP request metrics and the access log do
 * show it). Where it cannot reach the server (an address other than the wildcard or loopback, a TLS
 * connector) it is skipped with a log line; nothing else depends on it.
 */
@Component
public class HttpWarmUp implements ApplicationListener<WebServerInitializedEvent> {

  private static final Logger log = LoggerFactory.getLogger(HttpWarmUp.class);
  private static final String BODY =
      "{\"script\":\"Ready to speak.\",\"format\":\"wav\",\"type\":\"file\"}";

  private final WarmUpToken token;
  private final String contextPath;
  private final CompletableFuture<Integer> port = new CompletableFuture<>();

  public HttpWarmUp(
      ModelService models,
      StartupWarmUp engineFirst,
      WarmUpToken token,
      Environment env,
      ApplicationContext context) {
    this.token = token;
    if (!(context instanceof WebServerApplicationContext)) {
      port.completeExceptionally(new IllegalStateException("no web server")); // a mock one
    }
    this.contextPath = env.getProperty("server.servlet.context-path", "");
    models.whenReady(this::warm); // after engineFirst's, which was registered when it was made
  }

  @Override
  public void onApplicationEvent(WebServerInitializedEvent event) {
    if (event.getApplicationContext().getServerNamespace() == null) { // not a management port
      port.complete(event.getWebServer().getPort());
    }
  }

  private void warm() {
    int p;
    try {
      p = port.get(60, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      log.info("The HTTP warm-up is skipped: the web server did not start within 60 s");
      return;
    } catch (ExecutionException e) {
      return; // no web server to warm up
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    URI uri = URI.create("http://127.0.0.1:" + p + contextPath + "/tts");
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    HttpRequest request =
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(60))
            .header(WarmUpToken.HEADER, token.value())
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(BODY))
            .build();
    long t0 = System.nanoTime();
    try {
      HttpResponse<InputStream> r = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
      long bytes;
      try (InputStream in = r.body()) {
        bytes = in.transferTo(OutputStream.nullOutputStream());
      }
      log.info(
          "HTTP warm-up: POST /tts answered {} ({} bytes) in {} ms",
          r.statusCode(),
          bytes,
          (System.nanoTime() - t0) / 1_000_000);
    } catch (IOException e) {
      log.info("The HTTP warm-up is skipped: {} did not answer ({})", uri, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
