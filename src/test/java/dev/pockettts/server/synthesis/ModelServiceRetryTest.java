package dev.pockettts.server.synthesis;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.pockettts.server.config.ServerSettings;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Without the network the loader keeps trying, says why and when next; other failures are final.
 */
class ModelServiceRetryTest {

  private static ModelService service(Path models, String endpoint) {
    ServerSettings settings =
        ServerSettings.parse(
            Map.of("API_KEY", "k", "MODELS_DIR", models.toString(), "HF_ENDPOINT", endpoint)::get);
    return new ModelService(settings, Duration.ofMillis(100), 1, Duration.ofMillis(10));
  }

  private static void await(BooleanSupplier condition) throws InterruptedException {
    long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!condition.getAsBoolean() && System.nanoTime() < until) {
      Thread.sleep(20);
    }
    assertThat(condition.getAsBoolean()).isTrue();
  }

  @Test
  void aRefusedConnectionIsTriedAgainAndAgainWithTheReasonAndTheNextAttempt(@TempDir Path dir)
      throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort(); // closed again: connections are refused
    }
    ModelService models = service(dir, "http://127.0.0.1:" + port);
    try {
      models.startLoading();
      await(() -> models.retry() != null && models.retry().failures() >= 3);
      ModelService.Retry r = models.retry();
      assertThat(models.state()).isEqualTo(ModelService.State.DOWNLOADING);
      assertThat(r.lastError()).contains("127.0.0.1").contains("the connection was refused");
      assertThat(r.lastError()).doesNotContain("null").doesNotContain(dir.toString());
      assertThat(r.nextAttempt()).isAfter(Instant.now().minusSeconds(5));
      // the wait doubles with each failure: 100, 200, 400 ms, ...
      assertThat(r.delay()).isEqualTo(Duration.ofMillis(100L << (r.failures() - 1)));
    } finally {
      models.destroy();
    }
  }

  @Test
  void aHostThatDoesNotResolveSaysSo(@TempDir Path dir) throws Exception {
    ModelService models = service(dir, "http://no-such-host.invalid");
    try {
      models.startLoading();
      await(() -> models.retry() != null);
      assertThat(models.retry().lastError()).contains("does not resolve (DNS)");
    } finally {
      models.destroy();
    }
  }

  @Test
  void onceTheHubAnswersAFileThatIsNotThereTheFailureIsFinal(@TempDir Path dir) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort(); // the hub is down for now
    }
    ModelService models = service(dir, "http://127.0.0.1:" + port);
    try {
      models.startLoading();
      await(() -> models.retry() != null);
      // the hub comes up and knows no such repository: a 404 is not retried
      HttpServer up = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
      up.createContext(
          "/",
          ex -> {
            ex.sendResponseHeaders(404, -1);
            ex.close();
          });
      up.start();
      try {
        await(() -> models.state() == ModelService.State.FAILED);
        assertThat(models.retry()).isNull();
        assertThat(models.error()).contains("404").doesNotContain(dir.toString());
      } finally {
        up.stop(0);
      }
    } finally {
      models.destroy();
    }
  }
}
