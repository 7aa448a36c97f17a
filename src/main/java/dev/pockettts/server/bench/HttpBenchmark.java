package dev.pockettts.server.bench;

import dev.pockettts.server.audio.WavEncoder;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server benchmark: starts the server as a child process on 127.0.0.1 with a model folder,
 * drives it over HTTP with a bounded number of requests and prints real-time factor, time to first
 * byte (median and p95), throughput at 1, 2 and 4 concurrent clients, voice-cloning time and the
 * server's resident memory. Run by hand: {@code java -jar target/pockettts-server-*.jar bench
 * <model-folder> [requests] [--jar FILE] [--unmodified]}; {@code --jar} benchmarks another build of
 * the server (for before/after figures), {@code --unmodified} runs it with {@code
 * GRAPH_REWRITES=false} (the published graphs as they are). The server inherits the environment, so
 * {@code MODEL_PRECISION}, {@code GENERATION_THREADS} and the like apply to it.
 */
public final class HttpBenchmark {

  private static final String KEY = "bench-key";

  /** One sentence: one chunk. */
  static final String SENTENCE = "It is a truth universally acknowledged, that a single man.";

  /** Two sentences for the throughput runs. */
  static final String MEDIUM =
      "Mr. Bennet was among the earliest of those who waited on Mr. Bingley. He had always"
          + " intended to visit him.";

  /** The opening of Pride and Prejudice (public domain): several chunks. */
  static final String LONG =
      "It is a truth universally acknowledged, that a single man in possession of a good fortune,"
          + " must be in want of a wife. However little known the feelings or views of such a man"
          + " may be on his first entering a neighbourhood, this truth is so well fixed in the"
          + " minds of the surrounding families, that he is considered as the rightful property of"
          + " some one or other of their daughters. My dear Mr. Bennet, said his lady to him one"
          + " day, have you heard that Netherfield Park is let at last?";

  private static final Pattern PREPARE = Pattern.compile("prepare;dur=([0-9.]+)");

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final String base;

  private HttpBenchmark(String base) {
    this.base = base;
  }

  /** What one request gave: status, time to the first body byte and to the end, body size. */
  record Timed(int status, long firstByteNanos, long totalNanos, long bytes, String timing) {

    double audioSeconds() {
      return Math.max(0, bytes - 44) / 2.0 / 24000;
    }
  }

  public static void main(String[] args) throws Exception {
    List<String> positional = new ArrayList<>();
    List<String> flags = new ArrayList<>();
    String jar = System.getProperty("java.class.path");
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--jar") && i + 1 < args.length) {
        jar = args[++i];
      } else if (args[i].startsWith("--")) {
        flags.add(args[i]);
      } else {
        positional.add(args[i]);
      }
    }
    if (positional.isEmpty()
        || !jar.endsWith(".jar")
        || flags.stream().anyMatch(f -> !f.equals("--unmodified"))) {
      System.err.println("usage: bench <model-folder> [requests] [--jar FILE] [--unmodified]");
      System.exit(2);
    }
    Path models = Path.of(positional.get(0)).toAbsolutePath();
    int requests = positional.size() > 1 ? Integer.parseInt(positional.get(1)) : 20;
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path work = Files.createTempDirectory("pockettts-bench");
    Path log = work.resolve("server.log");
    ProcessBuilder pb =
        new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            // the settings README.md gives for running the server
            "-XX:+UseSerialGC",
            "-Xms64m",
            "-Xmx512m",
            "-XX:MaxDirectMemorySize=2g",
            "-jar",
            jar,
            "--server.address=127.0.0.1",
            "--server.port=" + port);
    pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2");
    pb.environment().putIfAbsent("MALLOC_MMAP_THRESHOLD_", "7340032");
    pb.environment().putIfAbsent("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1");
    pb.environment().put("API_KEY", KEY);
    pb.environment().put("MODELS_DIR", models.toString());
    pb.environment().put("OFFLINE", "true");
    if (flags.contains("--unmodified")) {
      pb.environment().put("GRAPH_REWRITES", "false");
    }
    pb.environment().put("VOICE_DIR", work.resolve("voice").toString());
    pb.redirectErrorStream(true).redirectOutput(log.toFile());
    long startNanos = System.nanoTime();
    Process server = pb.start();
    System.out.printf(
        Locale.ROOT,
        "bench: server %s (pid %d) on 127.0.0.1:%d, model %s, %d cores; its log: %s%n",
        jar,
        server.pid(),
        port,
        models,
        Runtime.getRuntime().availableProcessors(),
        log);
    try {
      HttpBenchmark b = new HttpBenchmark("http://127.0.0.1:" + port);
      awaitReady(b.http, b.base, server, Duration.ofMinutes(5));
      System.out.printf(
          Locale.ROOT,
          "ready after %.1f s; resident memory %d MB%n",
          (System.nanoTime() - startNanos) / 1e9,
          NativeMemory.residentMb(Long.toString(server.pid())));
      b.run(requests, server.pid());
    } finally {
      server.destroy(); // SIGTERM: a graceful shutdown
      if (!server.waitFor(60, TimeUnit.SECONDS)) {
        server.destroyForcibly();
      }
    }
  }

  /**
   * Runs this benchmark's own HTTP client through the request it times, against a stand-in server
   * in this process: the first timed request then measures the server's first request, not the
   * client's first use. The server under test sees nothing of it.
   */
  private void warmClient() throws IOException, InterruptedException {
    com.sun.net.httpserver.HttpServer standIn =
        com.sun.net.httpserver.HttpServer.create(
            new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
    standIn.createContext(
        "/tts",
        exchange -> {
          exchange.getRequestBody().readAllBytes();
          exchange.sendResponseHeaders(200, 0);
          try (var out = exchange.getResponseBody()) {
            for (int i = 0; i < 8; i++) {
              out.write(new byte[8192]);
              out.flush();
            }
          }
        });
    standIn.start();
    try {
      URI uri = URI.create("http://127.0.0.1:" + standIn.getAddress().getPort() + "/tts");
      for (int i = 0; i < 20; i++) {
        timed(
            HttpRequest.newBuilder(uri)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"script\":\"" + SENTENCE + "\"}")));
      }
    } finally {
      standIn.stop(0);
    }
  }

  private void run(int requests, long pid) throws Exception {
    warmClient();
    Timed first = tts(SENTENCE, "wav", "alba");
    System.out.printf(
        Locale.ROOT,
        "first request after start (one sentence, WAV): first byte %.0f ms, %.2f s of audio in"
            + " %.0f ms%n",
        first.firstByteNanos / 1e6,
        first.audioSeconds(),
        first.totalNanos / 1e6);

    for (String format : List.of("wav", "mp3")) {
      List<Long> ttfb = new ArrayList<>();
      for (int i = 0; i < requests; i++) {
        ttfb.add(tts(SENTENCE, format, "alba").firstByteNanos);
      }
      System.out.printf(
          Locale.ROOT,
          "time to first byte, one sentence, %s, cached voice, %d requests: median %.0f ms, p95"
              + " %.0f ms%n",
          format.toUpperCase(Locale.ROOT),
          requests,
          percentile(ttfb, 0.5) / 1e6,
          percentile(ttfb, 0.95) / 1e6);
    }

    List<Double> factors = new ArrayList<>();
    double audio = 0;
    for (int i = 0; i < 3; i++) {
      Timed t = tts(LONG, "wav", "alba");
      audio = t.audioSeconds();
      factors.add(t.audioSeconds() / (t.totalNanos / 1e9));
    }
    Collections.sort(factors);
    System.out.printf(
        Locale.ROOT,
        "one stream, %.1f s of audio (WAV), 3 requests: %.2fx real time (median; %.2f-%.2f)%n",
        audio,
        factors.get(1),
        factors.get(0),
        factors.get(2));

    List<String> voices =
        List.of("alba", "marius", "javert", "jean", "fantine", "cosette", "eponine", "azelma");
    // a folder with fewer built-in voices (bench-model has two) makes up the 8 with cloned ones
    int builtIn = 0;
    List<Double> clonedMillis = new ArrayList<>();
    for (int i = 0; i < voices.size(); i++) {
      Timed t = tts(SENTENCE, "wav", voices.get(i));
      if (t.status == 200) {
        builtIn++;
        continue;
      }
      Timed c = clone(referenceWav(10, 100 + i));
      if (c.status != 200) {
        System.out.printf(
            Locale.ROOT, "voice %s: HTTP %d, cloned: HTTP %d%n", voices.get(i), t.status, c.status);
      }
      clonedMillis.add(prepareMillis(c));
    }
    System.out.printf(
        Locale.ROOT,
        "after one request with each of 8 voices (%d built-in, %d cloned from 10 s: voice ready"
            + " after %s ms), one at a time: resident memory %d MB%n",
        builtIn,
        clonedMillis.size(),
        clonedMillis.stream().map(m -> String.format(Locale.ROOT, "%.0f", m)).toList(),
        NativeMemory.residentMb(Long.toString(pid)));

    double single = 0;
    for (int clients : new int[] {1, 2, 4}) {
      long cpu0 = cpuNanos(pid);
      long t0 = System.nanoTime();
      double perSecond = throughput(clients, Math.max(clients, requests / 2));
      long wall = System.nanoTime() - t0;
      long cpu = cpuNanos(pid) - cpu0;
      if (clients == 1) {
        single = perSecond;
      }
      System.out.printf(
          Locale.ROOT,
          "%d concurrent client(s): %.2f s of audio per second (%.0f%% of one client)%s%n",
          clients,
          perSecond,
          100 * perSecond / single,
          cpu0 < 0
              ? ""
              : String.format(
                  Locale.ROOT,
                  ", server CPU %.0f%% (of %d00%%)",
                  100.0 * cpu / wall,
                  Runtime.getRuntime().availableProcessors()));
    }

    byte[] reference = referenceWav(10);
    Timed cloned = clone(reference);
    List<Long> cachedPrepare = new ArrayList<>();
    List<Long> cachedFirstByte = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Timed again = clone(reference);
      cachedPrepare.add((long) (prepareMillis(again) * 1e6));
      cachedFirstByte.add(again.firstByteNanos);
    }
    System.out.printf(
        Locale.ROOT,
        "cloning from 10 s of audio: voice ready (Server-Timing prepare) after %.1f ms, first byte"
            + " %.0f ms; the same upload 5 times more (cached voice): prepare median %.1f ms, first"
            + " byte median %.0f ms%n",
        prepareMillis(cloned),
        cloned.firstByteNanos / 1e6,
        percentile(cachedPrepare, 0.5) / 1e6,
        percentile(cachedFirstByte, 0.5) / 1e6);
    System.out.printf(
        Locale.ROOT,
        "server resident memory at the end: %d MB now, peak %d MB%n",
        NativeMemory.residentMb(Long.toString(pid)),
        NativeMemory.peakResidentMb(Long.toString(pid)));
  }

  /**
   * The CPU time the process {@code pid} has used so far, in nanoseconds; -1 where the system does
   * not say (several streams gain only while one leaves a core idle, which this shows).
   */
  private static long cpuNanos(long pid) {
    return ProcessHandle.of(pid)
        .flatMap(h -> h.info().totalCpuDuration())
        .map(Duration::toNanos)
        .orElse(-1L);
  }

  /** Seconds of audio per second of wall time with {@code clients} clients sharing the work. */
  private double throughput(int clients, int total) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    try {
      long t0 = System.nanoTime();
      List<Future<Double>> results = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        int share = total / clients + (c < total % clients ? 1 : 0);
        results.add(
            pool.submit(
                () -> {
                  double audio = 0;
                  for (int i = 0; i < share; i++) {
                    Timed t = tts(MEDIUM, "wav", "alba");
                    if (t.status != 200) {
                      System.out.printf(Locale.ROOT, "  a request got HTTP %d%n", t.status);
                    }
                    audio += t.audioSeconds();
                  }
                  return audio;
                }));
      }
      double audio = 0;
      for (Future<Double> f : results) {
        audio += f.get();
      }
      return audio / ((System.nanoTime() - t0) / 1e9);
    } finally {
      pool.shutdown();
    }
  }

  private Timed tts(String script, String format, String voice)
      throws IOException, InterruptedException {
    String json =
        String.format(
            Locale.ROOT,
            "{\"script\":\"%s\",\"format\":\"%s\",\"type\":\"file\",\"model\":\"%s\"}",
            script,
            format,
            voice);
    return timed(
        HttpRequest.newBuilder(URI.create(base + "/tts"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json)));
  }

  private Timed clone(byte[] reference) throws IOException, InterruptedException {
    String boundary = "bench" + System.nanoTime();
    byte[] head =
        ("--"
                + boundary
                + "\r\nContent-Disposition: form-data; name=\"script\"\r\n\r\n"
                + SENTENCE
                + "\r\n--"
                + boundary
                + "\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\nwav\r\n--"
                + boundary
                + "\r\nContent-Disposition: form-data; name=\"voice_file\"; filename=\"ref.wav\""
                + "\r\nContent-Type: audio/wav\r\n\r\n")
            .getBytes(StandardCharsets.UTF_8);
    byte[] tail = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8);
    return timed(
        HttpRequest.newBuilder(URI.create(base + "/tts/clone"))
            .header("Content-Type", "multipart/form-data; boundary=" + boundary)
            .POST(HttpRequest.BodyPublishers.ofByteArrays(List.of(head, reference, tail))));
  }

  private Timed timed(HttpRequest.Builder request) throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    HttpResponse<InputStream> r =
        http.send(
            request.header("API_KEY", KEY).timeout(Duration.ofMinutes(10)).build(),
            HttpResponse.BodyHandlers.ofInputStream());
    long first = -1;
    long bytes = 0;
    byte[] buf = new byte[16384];
    try (InputStream in = r.body()) {
      int n;
      while ((n = in.read(buf)) > 0) {
        if (first < 0) {
          first = System.nanoTime() - t0;
        }
        bytes += n;
      }
    }
    return new Timed(
        r.statusCode(),
        first,
        System.nanoTime() - t0,
        bytes,
        r.headers().firstValue("Server-Timing").orElse(""));
  }

  private static double prepareMillis(Timed t) {
    Matcher m = PREPARE.matcher(t.timing);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  /**
   * Waits until {@code /health} at {@code base} says the model is loaded, failing when it says the
   * load failed, when {@code server} (null for one in this process) has exited, or after {@code
   * limit}.
   */
  static void awaitReady(HttpClient http, String base, Process server, Duration limit)
      throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    while (System.nanoTime() < deadline) {
      if (server != null && !server.isAlive()) {
        throw new IllegalStateException("the server exited with status " + server.exitValue());
      }
      try {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.body().contains("\"model_loaded\":true")) {
          return;
        }
        if (r.body().contains("\"model_state\":\"failed\"")) {
          throw new IllegalStateException("the model failed to load: " + r.body());
        }
      } catch (IOException notListeningYet) {
        // the server is still starting
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("the server was not ready within " + limit.toSeconds() + " s");
  }

  /** The {@code p} percentile (nearest rank) of {@code values}; 0 when there are none. */
  static double percentile(List<Long> values, double p) {
    if (values.isEmpty()) {
      return 0;
    }
    List<Long> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int i = (int) Math.ceil(p * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
  }

  /** {@code seconds} of a voiced-like tone with noise as a 16-bit 24 kHz WAV. */
  static byte[] referenceWav(int seconds) {
    return referenceWav(seconds, 3);
  }

  /** A 140 Hz tone with noise from {@code seed}: another seed, another upload (another voice). */
  static byte[] referenceWav(int seconds, long seed) {
    int n = seconds * 24000;
    ByteBuffer b = ByteBuffer.allocate(44 + 2 * n).order(ByteOrder.LITTLE_ENDIAN);
    b.put(WavEncoder.header(24000, 2L * n));
    Random random = new Random(seed);
    for (int i = 0; i < n; i++) {
      double s = 0.3 * Math.sin(2 * Math.PI * 140 * i / 24000.0) + 0.02 * random.nextGaussian();
      b.putShort((short) (Math.max(-1, Math.min(1, s)) * 32767));
    }
    return b.array();
  }
}
