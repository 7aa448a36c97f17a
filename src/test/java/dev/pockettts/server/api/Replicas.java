package dev.pockettts.server.api;

import dev.pockettts.server.TtsApplication;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Several servers running at once in this JVM, each on a free port with its own folders, as
 * replicas behind a load balancer would run: what they share is only what their settings point at
 * (a Redis, an object store).
 */
final class Replicas implements AutoCloseable {

  private final List<ConfigurableApplicationContext> contexts = new ArrayList<>();
  private final List<ServerHarness> servers = new ArrayList<>();

  /**
   * Starts {@code count} servers with the tiny models, the test key and {@code settings}, each with
   * its own {@code VOICE_DIR} and {@code VOICES_DIR} under {@code dir}, and waits until all are
   * ready.
   */
  static Replicas start(int count, Path dir, Map<String, String> settings) throws Exception {
    Replicas r = new Replicas();
    try {
      for (int i = 0; i < count; i++) {
        Map<String, Object> p = new HashMap<>();
        p.put("API_KEY", ServerHarness.KEY);
        p.put("MODELS_DIR", "src/test/resources/models/tiny-bundle");
        p.put("OFFLINE", "true");
        p.put("VOICE_DIR", dir.resolve("voice-" + i).toString());
        p.put("VOICES_DIR", dir.resolve("voices-" + i).toString());
        p.put("server.port", "0");
        p.putAll(settings);
        // as arguments, the source that comes first (application.properties maps PORT on)
        String[] args =
            p.entrySet().stream()
                .map(e -> "--" + e.getKey() + "=" + e.getValue())
                .toArray(String[]::new);
        ConfigurableApplicationContext c =
            new SpringApplicationBuilder(TtsApplication.class).run(args);
        r.contexts.add(c);
        int port = ((WebServerApplicationContext) c).getWebServer().getPort();
        r.servers.add(new ServerHarness(port));
      }
      for (ServerHarness s : r.servers) {
        s.awaitReady();
      }
      return r;
    } catch (Exception | Error e) {
      r.close();
      throw e;
    }
  }

  /** The settings that put servers on {@code bucket} of {@code s3}, with {@code more}. */
  static Map<String, String> onBucket(
      dev.pockettts.server.testing.S3Server s3, String bucket, Map<String, String> more) {
    Map<String, String> m = new HashMap<>(more);
    m.put("STORAGE", "s3");
    m.put("S3_ENDPOINT", s3.endpoint());
    m.put("S3_BUCKET", bucket);
    return m;
  }

  /** Closes what was started (nulls skipped), servers first. */
  static void closeAll(AutoCloseable... started) throws Exception {
    for (AutoCloseable c : started) {
      if (c != null) {
        c.close();
      }
    }
  }

  ServerHarness get(int i) {
    return servers.get(i);
  }

  /** A bean of server {@code i}. */
  <T> T bean(int i, Class<T> type) {
    return contexts.get(i).getBean(type);
  }

  @Override
  public void close() {
    contexts.forEach(ConfigurableApplicationContext::close);
  }
}
