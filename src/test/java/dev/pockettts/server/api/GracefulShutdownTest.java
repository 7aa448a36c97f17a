package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.TtsApplication;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/** Shutting down while a synthesis streams lets it finish: the client gets every byte. */
class GracefulShutdownTest {

  @Test
  void anInFlightSynthesisFinishesDuringShutdown() throws Exception {
    ConfigurableApplicationContext ctx =
        new SpringApplicationBuilder(TtsApplication.class)
            .properties(
                "API_KEY=" + KEY,
                "MODELS_DIR=src/test/resources/models/tiny-bundle",
                "OFFLINE=true",
                "TEMPERATURE=0",
                "VOICE_DIR=target/test-voice-shutdown")
            .run("--server.port=0");
    ServerHarness server =
        new ServerHarness(Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port")));
    server.awaitReady();
    String body =
        "{\"script\":\""
            + "One of many sentences read while the server stops. ".repeat(300)
            + "\",\"format\":\"wav\"}";
    byte[] whole = server.postJson("/tts", body).body();

    HttpResponse<InputStream> r =
        server.http.send(
            server.jsonPost("/tts", body).build(), HttpResponse.BodyHandlers.ofInputStream());
    byte[] received;
    try (InputStream in = r.body()) {
      byte[] head = in.readNBytes(1000);
      CompletableFuture<Void> closing = CompletableFuture.runAsync(ctx::close);
      byte[] rest = in.readAllBytes();
      received = new byte[head.length + rest.length];
      System.arraycopy(head, 0, received, 0, head.length);
      System.arraycopy(rest, 0, received, head.length, rest.length);
      closing.get(60, TimeUnit.SECONDS);
    }
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(received).hasSameSizeAs(whole).isEqualTo(whole);
    assertThat(ctx.isActive()).isFalse();
  }
}
