package dev.pockettts.server.bench;

import dev.pockettts.server.TtsApplication;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * A bounded load test on loopback: starts the server in this process on 127.0.0.1 with a model
 * folder, then runs clients for a fixed time with a mix of requests (short and long scripts, every
 * format, both types, cloning, clients that hang up early) and prints requests served, answers by
 * status, latency percentiles and resident memory at start and end. Run by hand: {@code java -jar
 * target/pockettts-server-*.jar load-test <model-folder> [seconds] [clients]}.
 */
public final class LoadTest {

  private static final String KEY = "load-test-key";
  private static final int MAX_REQUESTS = 20_000;
  private static final HttpClient HANG_UPS =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  private LoadTest() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: load-test <model-folder> [seconds] [clients] [--no-hang-ups]");
      System.exit(2);
    }
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 180;
    int clients = args.length > 2 ? Integer.parseInt(args[2]) : 4;
    // without the clients that hang up (to tell their effect apart, e.g. with hang-ups sent from
    // another process)
    boolean hangUps = !java.util.Arrays.asList(args).contains("--no-hang-ups");
    // the client drops an idle connection before the server's keep-alive timeout can close it
    // under a request being sent (a client-side race that is not the server's failure)
    System.setProperty("jdk.httpclient.keepalive.timeout", "5");
    Path voiceDir = Files.createTempDirectory("load-test-voice");
    SpringApplication app = new SpringApplication(TtsApplication.class);
    app.setDefaultProperties(
        Map.of(
            "API_KEY",
            KEY,
            "MODELS_DIR",
            args[0],
            "OFFLINE",
            "true",
            "VOICE_DIR",
            voiceDir.toString(),
            "logging.level.root",
            "WARN"));
    // command-line arguments win over application.properties: loopback only, a free port
    try (ConfigurableApplicationContext ctx =
        app.run("--server.port=0", "--server.address=127.0.0.1")) {
      String base = "http://127.0.0.1:" + ctx.getEnvironment().getProperty("local.server.port");
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
      HttpBenchmark.awaitReady(http, base, null, Duration.ofMinutes(2));
      long rssStart = NativeMemory.residentMb();
      System.out.printf(
          Locale.ROOT,
          "load test: %d clients for %d s against %s (model %s)%n",
          clients,
          seconds,
          base,
          args[0]);
      Map<String, LongAdder> byOutcome = new ConcurrentHashMap<>();
      List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
      AtomicInteger sent = new AtomicInteger();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      byte[] reference = HttpBenchmark.referenceWav(3);
      ExecutorService pool = Executors.newFixedThreadPool(clients);
      for (int c = 0; c < clients; c++) {
        long seed = c;
        pool.submit(
            () -> {
              Random random = new Random(seed);
              String[] what = {""}; // the kind of the request under way, for error reports
              while (System.nanoTime() < deadline && sent.incrementAndGet() <= MAX_REQUESTS) {
                long t0 = System.nanoTime();
                String outcome;
                try {
                  outcome = oneRequest(http, base, random, reference, what, hangUps);
                } catch (IOException e) {
                  outcome =
                      "io-error in "
                          + what[0]
                          + ": "
                          + e.getClass().getSimpleName()
                          + ": "
                          + e.getMessage();
                  // when, to match with the server's log
                  System.err.printf(
                      Locale.ROOT, "%s client %d: %s%n", java.time.Instant.now(), seed, outcome);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  return;
                }
                latencies.add(System.nanoTime() - t0);
                byOutcome.computeIfAbsent(outcome, k -> new LongAdder()).increment();
              }
            });
      }
      pool.shutdown();
      List<String> rssSamples = new ArrayList<>();
      while (!pool.awaitTermination(30, TimeUnit.SECONDS)) {
        rssSamples.add(
            NativeMemory.residentMb() + "/" + Runtime.getRuntime().totalMemory() / (1 << 20));
      }
      System.gc();
      long rssEnd = NativeMemory.residentMb();
      List<Long> sorted = new ArrayList<>(latencies);
      Collections.sort(sorted);
      System.out.printf(Locale.ROOT, "requests: %d%n", sorted.size());
      new TreeMap<>(byOutcome)
          .forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-28s %d%n", k, v.sum()));
      System.out.printf(
          Locale.ROOT,
          "latency ms: p50 %.0f, p90 %.0f, p99 %.0f, max %.0f%n",
          HttpBenchmark.percentile(sorted, 0.50) / 1e6,
          HttpBenchmark.percentile(sorted, 0.90) / 1e6,
          HttpBenchmark.percentile(sorted, 0.99) / 1e6,
          HttpBenchmark.percentile(sorted, 1.0) / 1e6);
      System.out.println("resident memory / Java heap committed, every 30 s (MB): " + rssSamples);
      System.out.printf(
          Locale.ROOT,
          "resident memory: %d MB after start, %d MB at the end (peak %d MB)%n",
          rssStart,
          rssEnd,
          NativeMemory.peakResidentMb());
    }
  }

  /** One request of the mix; returns what came back, e.g. "200 wav file" or "503". */
  private static String oneRequest(
      HttpClient http, String base, Random random, byte[] reference, String[] what, boolean hangUps)
      throws IOException, InterruptedException {
    int kind = random.nextInt(hangUps ? 10 : 9);
    String[] formats = {"wav", "mp3", "ogg"};
    String format = formats[random.nextInt(3)];
    what[0] = format + " kind " + kind;
    String shortText = "Hello there, how are you today?";
    String longText =
        "This is one sentence of a longer script that the server reads aloud. ".repeat(8);
    switch (kind) {
      case 0, 1, 2, 3 -> {
        return send(http, json(base, shortText, format, "file"), format + " file short");
      }
      case 4, 5 -> {
        return send(http, json(base, longText, format, "file"), format + " file long");
      }
      case 6 -> {
        HttpResponse<byte[]> r =
            http.send(
                json(base, shortText, format, "url"), HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() != 200) {
          return r.statusCode() + " " + format + " url";
        }
        String body = new String(r.body(), StandardCharsets.UTF_8);
        String url = body.replaceAll(".*\"url\":\"([^\"]+)\".*", "$1");
        HttpResponse<Void> file =
            http.send(
                HttpRequest.newBuilder(URI.create(url)).GET().build(),
                HttpResponse.BodyHandlers.discarding());
        return file.statusCode() + " " + format + " url+fetch";
      }
      case 7, 8 -> {
        String boundary = "load" + random.nextLong();
        ByteArrayOutputStream form = new ByteArrayOutputStream();
        form.writeBytes(
            ("--"
                    + boundary
                    + "\r\nContent-Disposition: form-data; name=\"script\"\r\n\r\n"
                    + shortText
                    + "\r\n--"
                    + boundary
                    + "\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\n"
                    + format
                    + "\r\n--"
                    + boundary
                    + "\r\nContent-Disposition: form-data; name=\"voice_file\"; "
                    + "filename=\"ref.wav\"\r\nContent-Type: audio/wav\r\n\r\n")
                .getBytes(StandardCharsets.UTF_8));
        form.writeBytes(reference);
        form.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        HttpRequest req =
            HttpRequest.newBuilder(URI.create(base + "/tts/clone"))
                .header("API_KEY", KEY)
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(form.toByteArray()))
                .build();
        return send(http, req, format + " clone");
      }
      default -> {
        // clients that hang up get their own connection pool, apart from the others' (the JDK
        // client may keep a connection whose body was left unread)
        HttpResponse<InputStream> r =
            HANG_UPS.send(
                json(base, longText, "wav", "file"), HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = r.body()) {
          in.readNBytes(4096); // then hang up
        }
        return r.statusCode() + " hung up early";
      }
    }
  }

  private static HttpRequest json(String base, String script, String format, String type) {
    return HttpRequest.newBuilder(URI.create(base + "/tts"))
        .header("API_KEY", KEY)
        .header("Content-Type", "application/json")
        .timeout(Duration.ofMinutes(5))
        .POST(
            HttpRequest.BodyPublishers.ofString(
                "{\"script\":\""
                    + script
                    + "\",\"format\":\""
                    + format
                    + "\",\"type\":\""
                    + type
                    + "\"}"))
        .build();
  }

  private static String send(HttpClient http, HttpRequest req, String what)
      throws IOException, InterruptedException {
    HttpResponse<Void> r = http.send(req, HttpResponse.BodyHandlers.discarding());
    return r.statusCode() + " " + what;
  }
}
