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

  /** The server in this JVM with the tiny model, {@code settings} and command-line {@code args}. */
  private static ConfigurableApplicationContext start(String[] settings, String... args) {
    String[] all = new String[settings.length + 3];
    all[0] = "API_KEY=" + KEY;
    all[1] = "MODELS_DIR=src/test/resources/models/tiny-bundle";
    all[2] = "OFFLINE=true";
    System.arraycopy(settings, 0, all, 3, settings.length);
    String[] line = new String[args.length + 1];
    line[0] = "--server.port=0";
    System.arraycopy(args, 0, line, 1, args.length);
    return new SpringApplicationBuilder(TtsApplication.class).properties(all).run(line);
  }

  private static ServerHarness ready(ConfigurableApplicationContext ctx) throws Exception {
    ServerHarness server =
        new ServerHarness(Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port")));
    server.awaitReady();
    return server;
  }

  @Test
  void anInFlightSynthesisFinishesDuringShutdown() throws Exception {
    ConfigurableApplicationContext ctx =
        start(new String[] {"TEMPERATURE=0", "VOICE_DIR=target/test-voice-shutdown"});
    ServerHarness server = ready(ctx);
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
        start(
            new String[] {
              "FFMPEG_PATH=" + fake,
              "REQUEST_TIMEOUT=10m",
              "VOICE_DIR=target/test-voice-shutdown-ffmpeg"
            },
            "--spring.lifecycle.timeout-per-shutdown-phase=2s");
    ServerHarness server = ready(ctx);
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
        () -> (long) FfmpegDeadlineTest.running("sleep 301", fake.toString()).size();
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
