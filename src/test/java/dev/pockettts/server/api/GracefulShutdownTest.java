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

  @Test
  void anFfmpegThatHangsDoesNotOutliveTheServer() throws Exception {
    java.nio.file.Path fake =
        java.nio.file.Path.of("target/fake-ffmpeg/hanging-at-shutdown.sh").toAbsolutePath();
    java.nio.file.Files.createDirectories(fake.getParent());
    java.nio.file.Files.writeString(fake, "#!/bin/sh\nsleep 301\n");
    java.nio.file.Files.setPosixFilePermissions(
        fake, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    ConfigurableApplicationContext ctx =
        new SpringApplicationBuilder(TtsApplication.class)
            .properties(
                "API_KEY=" + KEY,
                "MODELS_DIR=src/test/resources/models/tiny-bundle",
                "OFFLINE=true",
                "FFMPEG_PATH=" + fake,
                "REQUEST_TIMEOUT=10m",
                "VOICE_DIR=target/test-voice-shutdown-ffmpeg")
            .run("--server.port=0", "--spring.lifecycle.timeout-per-shutdown-phase=2s");
    ServerHarness server =
        new ServerHarness(Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port")));
    server.awaitReady();
    CompletableFuture<?> clone =
        CompletableFuture.runAsync(
            () -> {
              try {
                server.postForm(
                    "/tts/clone",
                    new ServerHarness.Multipart()
                        .field("script", "Hello.")
                        .file(
                            "voice_file",
                            java.nio.file.Path.of("src/test/resources/audio/speech.wav")));
              } catch (Exception e) {
                // the server goes away under it
              }
            });
    java.util.function.Supplier<Long> fakes =
        () ->
            ProcessHandle.current()
                .descendants()
                .filter(ProcessHandle::isAlive)
                .filter(
                    p ->
                        p.info()
                            .commandLine()
                            .map(c -> c.contains("sleep 301") || c.contains(fake.toString()))
                            .orElse(false))
                .count();
    long until = System.nanoTime() + 20_000_000_000L;
    while (fakes.get() == 0 && System.nanoTime() < until) {
      Thread.sleep(20);
    }
    assertThat(fakes.get()).as("the hanging FFmpeg runs").isPositive();
    long closing = System.nanoTime();
    ctx.close(); // what SIGTERM does: the graceful period, then the beans are destroyed
    // the hung FFmpeg is killed once the 2 s graceful period is over, not at its own deadline
    assertThat((System.nanoTime() - closing) / 1_000_000).isLessThan(15_000);
    until = System.nanoTime() + 10_000_000_000L;
    while (fakes.get() > 0 && System.nanoTime() < until) {
      Thread.sleep(20);
    }
    assertThat(fakes.get()).as("FFmpeg children left").isZero();
    clone.get(30, TimeUnit.SECONDS);
  }
}
