package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.test.context.TestPropertySource;
import tools.jackson.databind.JsonNode;

/** The real server on a random port, with the tiny models and the bundled FFmpeg. */
@TestPropertySource(
    properties = {
      "TEMPERATURE=0",
      "MAX_SCRIPT_CHARS=5000",
      "MAX_UPLOAD_MB=2",
      "VOICE_DIR=target/test-voice"
    })
class TtsEndToEndTest extends ServerTest {

  /** "Hello there, how are you today?" is 18 tokens: EOS after 36 frames, then 3 more. */
  static final String HELLO = "Hello there, how are you today?";

  static final double HELLO_SECONDS = 39 * 0.08;

  ServerHarness server;

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  @Test
  void healthAndInfoAnswerWithoutAKey() throws Exception {
    HttpResponse<byte[]> health = server.get("/health");
    assertThat(health.statusCode()).isEqualTo(200);
    JsonNode h = json(health);
    assertThat(h.path("status").asString()).isEqualTo("ok");
    assertThat(h.path("cloning_available").asBoolean()).isTrue();
    assertThat(h.path("voices").toString()).contains("alba", "caro_davy");
    assertThat(h.path("version").asString()).isNotBlank();

    JsonNode info = json(server.get("/"));
    assertThat(info.path("formats").toString()).contains("mp3", "wav", "ogg");
    assertThat(info.path("limits").path("max_chars_per_chunk").asInt()).isEqualTo(218);
    assertThat(info.path("endpoints").toString()).contains("POST /tts/clone");
  }

  @Test
  void theKeyIsRequiredAndAcceptedInThreeHeaders() throws Exception {
    String body = "{\"script\":\"Key check.\",\"format\":\"wav\"}";
    HttpRequest.Builder base = server.request("/tts").header("Content-Type", "application/json");
    assertProblem(
        server.send(base.copy().POST(HttpRequest.BodyPublishers.ofString(body)).build()),
        401,
        "unauthorized");
    assertProblem(
        server.send(
            base.copy()
                .header("API_KEY", "wrong")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build()),
        401,
        "unauthorized");
    for (String[] h :
        new String[][] {{"API_KEY", KEY}, {"X-API-Key", KEY}, {"Authorization", "Bearer " + KEY}}) {
      HttpResponse<byte[]> r =
          server.send(
              base.copy()
                  .header(h[0], h[1])
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build());
      assertThat(r.statusCode()).as(h[0]).isEqualTo(200);
    }
  }

  @Test
  void wavStreamsTheExpectedSpeech() throws Exception {
    HttpResponse<byte[]> r =
        server.postJson("/tts", "{\"script\":\"" + HELLO + "\",\"format\":\"wav\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("audio/wav");
    assertThat(r.headers().firstValue("Content-Disposition"))
        .hasValueSatisfying(v -> assertThat(v).contains("speech.wav"));
    assertThat(r.headers().firstValue("Transfer-Encoding")).hasValue("chunked");
    assertThat(AudioCheck.wavSampleRate(r.body())).isEqualTo(24000);
    float[] pcm = AudioCheck.wavSamples(r.body());
    assertThat(pcm).hasSize(39 * 1920);
    assertThat(AudioCheck.frequency(pcm, 24000))
        .isCloseTo(150, within(1.0)); // alba, the default voice
  }

  @Test
  void englishScriptsAreReadAsWrittenAloudUnlessNormalizeIsFalse() throws Exception {
    // the model's bundle.json says "english_2026-04", as the published one does
    JsonNode model = ServerHarness.json(server.get("/health")).path("models").get(0);
    assertThat(model.path("language_variant").asString()).isEqualTo("english_2026-04");
    assertThat(model.path("language").asString()).isEqualTo("english");
    String written = "It costs $1,234.56 at 3:30 pm.";
    String spoken =
        "It costs one thousand two hundred thirty-four dollars and fifty-six cents at three thirty"
            + " p m.";
    int normalized = wavLength("{\"script\":\"" + written + "\",\"format\":\"wav\"}");
    int asWritten =
        wavLength("{\"script\":\"" + written + "\",\"format\":\"wav\",\"normalize\":false}");
    int reference =
        wavLength("{\"script\":\"" + spoken + "\",\"format\":\"wav\",\"normalize\":false}");
    assertThat(normalized).isEqualTo(reference);
    assertThat(asWritten).isLessThan(normalized);
    ServerHarness.assertProblem(
        server.postJson("/tts", "{\"script\":\"Hi.\",\"normalize\":\"yes\"}"),
        400,
        "invalid-field");
  }

  private int wavLength(String json) throws Exception {
    HttpResponse<byte[]> r = server.postJson("/tts", json);
    assertThat(r.statusCode()).isEqualTo(200);
    return AudioCheck.wavSamples(r.body()).length;
  }

  @ParameterizedTest
  @ValueSource(strings = {"[pause:1.5s]", "[pause:1500ms]", "[PAUSE:1.50s]", "[pause: 1.5 s]"})
  void pauseMarkersAreTakenOutBeforeNormalisationSoDecimalsAreNotReadAloud(String marker)
      throws Exception {
    String script = "Ready? " + marker + " Go!";
    int normalized = wavLength("{\"script\":\"" + script + "\",\"format\":\"wav\"}");
    int asSent =
        wavLength("{\"script\":\"" + script + "\",\"format\":\"wav\",\"normalize\":false}");
    int ready = wavLength("{\"script\":\"Ready?\",\"format\":\"wav\"}");
    int go = wavLength("{\"script\":\"Go!\",\"format\":\"wav\"}");
    assertThat(normalized).isEqualTo(ready + 36_000 + go); // 1.5 s of silence, nothing spoken
    assertThat(asSent).isEqualTo(normalized);
  }

  @ParameterizedTest
  @ValueSource(strings = {"[pause:10.0001s]", "[pause:10.5s]", "[pause:10000.4ms]"})
  void aDecimalPauseJustOverTenSecondsIsRefusedAlsoWithNormalisation(String marker)
      throws Exception {
    ServerHarness.assertProblem(
        server.postJson("/tts", "{\"script\":\"Hi. " + marker + " Bye.\",\"format\":\"wav\"}"),
        400,
        "invalid-script");
  }

  @Test
  void aPauseMarkerAddsSilenceAndATooLongOneIsAProblem() throws Exception {
    HttpResponse<byte[]> r =
        server.postJson("/tts", "{\"script\":\"" + HELLO + " [pause:1s]\",\"format\":\"wav\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    float[] pcm = AudioCheck.wavSamples(r.body());
    assertThat(pcm).hasSize(39 * 1920 + 24000);
    for (int i = 39 * 1920; i < pcm.length; i++) {
      assertThat(pcm[i]).isZero();
    }
    ServerHarness.assertProblem(
        server.postJson("/tts", "{\"script\":\"Hi. [pause:30s]\",\"format\":\"wav\"}"),
        400,
        "invalid-script");
  }

  @ParameterizedTest
  @CsvSource({"mp3,mp3,audio/mpeg", "ogg,ogg,audio/ogg", "wav,wav,audio/wav"})
  void everyFormatDecodesToMono24kOfTheRightLength(
      String format, String ffmpegFormat, String contentType) throws Exception {
    HttpResponse<byte[]> r =
        server.postJson(
            "/tts",
            "{\"script\":\""
                + HELLO
                + "\",\"model\":\"marius\",\"format\":\""
                + format
                + "\",\"type\":\"file\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue(contentType);
    AudioCheck.Info info = AudioCheck.probe(r.body(), format);
    assertThat(info.format()).isEqualTo(ffmpegFormat);
    assertThat(info.sampleRate()).isEqualTo(24000);
    assertThat(info.channels()).isEqualTo(1);
    assertThat(info.seconds()).isCloseTo(HELLO_SECONDS, within(0.1));
  }

  @Test
  void defaultsAreMp3AndFile() throws Exception {
    HttpResponse<byte[]> r = server.postJson("/tts", "{\"script\":\"" + HELLO + "\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("audio/mpeg");
    assertThat(AudioCheck.probe(r.body(), "mp3").seconds()).isCloseTo(HELLO_SECONDS, within(0.1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"wav", "mp3", "ogg"})
  void urlAnswersPointToAServedFile(String format) throws Exception {
    HttpResponse<byte[]> r =
        server.postJson(
            "/tts",
            "{\"script\":\"" + HELLO + "\",\"format\":\"" + format + "\",\"type\":\"url\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode body = json(r);
    String name = body.path("filename").asString();
    assertThat(name).matches("audio_\\d+_[0-9a-f]{32}\\." + format);
    assertThat(body.path("url").asString()).isEqualTo(server.base + "/voice/" + name);

    HttpResponse<byte[]> file = server.get("/voice/" + name); // no key needed
    assertThat(file.statusCode()).isEqualTo(200);
    assertThat(file.headers().firstValue("Cache-Control"))
        .hasValueSatisfying(v -> assertThat(v).contains("max-age"));
    AudioCheck.Info info = AudioCheck.probe(file.body(), format);
    assertThat(info.sampleRate()).isEqualTo(24000);
    assertThat(info.seconds()).isCloseTo(HELLO_SECONDS, within(0.1));
    if (format.equals("wav")) {
      assertThat(file.body()).hasSize(44 + 39 * 1920 * 2); // exact sizes in the saved header
    }

    HttpResponse<byte[]> range =
        server.send(server.request("/voice/" + name).header("Range", "bytes=0-99").GET().build());
    assertThat(range.statusCode()).isEqualTo(206);
    assertThat(range.body()).hasSize(100);
    try (Stream<Path> files = Files.list(Path.of("target/test-voice"))) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".part"));
    }
  }

  @Test
  void onlyFilesTheServerMadeAreServed() throws Exception {
    Files.createDirectories(Path.of("target/test-voice"));
    Files.writeString(Path.of("target/test-voice/secret.txt"), "not for you");
    for (String path :
        new String[] {
          "/voice/secret.txt",
          "/voice/",
          "/voice/..%2fpom.xml",
          "/voice/%2e%2e/pom.xml",
          "/voice/audio_1700000000_0123456789abcdef0123456789abcdef.mp3"
        }) {
      assertThat(server.get(path).statusCode()).as(path).isIn(400, 401, 404);
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"/ui/../tts", "/ui/..%2ftts", "/ui/%2e%2e/tts", "/ui/..;/tts", "/voice/../tts"})
  void theOpenPathsOfThePageAndFilesLeadNowhereElseWithoutTheKey(String path) throws Exception {
    // sent as written, without the client's path normalisation
    try (java.net.Socket socket = new java.net.Socket("localhost", port)) {
      String body = "{\"script\":\"Hi.\",\"format\":\"wav\"}";
      socket
          .getOutputStream()
          .write(
              ("POST "
                      + path
                      + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      + "Connection: close\r\nContent-Length: "
                      + body.length()
                      + "\r\n\r\n"
                      + body)
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      String status =
          new String(
              socket.getInputStream().readNBytes(12), java.nio.charset.StandardCharsets.US_ASCII);
      assertThat(status).as(path).matches("HTTP/1.1 (400|401|404)");
    }
  }

  @Test
  void cloningTakesASpeedAndRefusesOneOutOfRange() throws Exception {
    HttpResponse<byte[]> fast =
        server.postForm(
            "/tts/clone",
            new ServerHarness.Multipart()
                .field("script", HELLO)
                .field("format", "wav")
                .field("speed", "2")
                .file("voice_file", Path.of("src/test/resources/audio/speech.flac")));
    assertThat(fast.statusCode()).isEqualTo(200);
    assertThat(AudioCheck.wavSamples(fast.body()).length).isCloseTo(39 * 1920 / 2, within(2000));
    for (String speed : new String[] {"9", "0.1", "fast"}) {
      assertProblem(
          server.postForm(
              "/tts/clone",
              new ServerHarness.Multipart()
                  .field("script", HELLO)
                  .field("speed", speed)
                  .file("voice_file", Path.of("src/test/resources/audio/speech.flac"))),
          400,
          "invalid-speed");
    }
  }

  @Test
  void cloningUsesTheUploadedVoiceAndEncodesTheSameFileOnce() throws Exception {
    long missesBefore = json(server.get("/health")).path("voice_cache").path("misses").asLong();
    byte[] first = null;
    for (int i = 0; i < 2; i++) {
      HttpResponse<byte[]> r =
          server.postForm(
              "/tts/clone",
              new ServerHarness.Multipart()
                  .field("script", HELLO)
                  .field("format", "wav")
                  .file("voice_file", Path.of("src/test/resources/audio/speech.wav")));
      assertThat(r.statusCode()).isEqualTo(200);
      float[] pcm = AudioCheck.wavSamples(r.body());
      assertThat(pcm).hasSize(39 * 1920); // only the new speech, none of the reference
      assertThat(AudioCheck.frequency(pcm, 24000)).isNotCloseTo(150, within(5.0)); // not alba
      if (first == null) {
        first = r.body();
      } else {
        assertThat(r.body()).isEqualTo(first);
      }
    }
    long missesAfter = json(server.get("/health")).path("voice_cache").path("misses").asLong();
    assertThat(missesAfter - missesBefore).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(strings = {"speech.mp3", "speech.ogg", "speech.flac", "speech-stereo.m4a"})
  void cloningReadsAnyFormatFfmpegReads(String file) throws Exception {
    HttpResponse<byte[]> r =
        server.postForm(
            "/tts/clone",
            new ServerHarness.Multipart()
                .field("script", HELLO)
                .field("format", "ogg")
                .field("type", "url")
                .file("voice_file", Path.of("src/test/resources/audio/" + file)));
    assertThat(r.statusCode()).isEqualTo(200);
    HttpResponse<byte[]> audio = server.get("/voice/" + json(r).path("filename").asString());
    assertThat(AudioCheck.probe(audio.body(), "ogg").seconds())
        .isCloseTo(HELLO_SECONDS, within(0.1));
  }

  @Test
  void theFirstAudioArrivesWhileLaterSentencesAreStillGenerated() throws Exception {
    String script = "This sentence is one of many in a long script. ".repeat(40);
    long start = System.nanoTime();
    HttpResponse<InputStream> r =
        server.http.send(
            server.jsonPost("/tts", "{\"script\":\"" + script + "\",\"format\":\"wav\"}").build(),
            HttpResponse.BodyHandlers.ofInputStream());
    long firstByte;
    long total;
    try (InputStream in = r.body()) {
      byte[] head = in.readNBytes(1000);
      firstByte = System.nanoTime() - start;
      assertThat(head).hasSize(1000);
      total = 1000 + in.readAllBytes().length;
    }
    long end = System.nanoTime() - start;
    System.out.printf(
        "first audio after %.0f ms, all %d bytes after %.0f ms%n",
        firstByte / 1e6, total, end / 1e6);
    assertThat(firstByte).isLessThan(end / 3);
  }

  @Test
  void requestsCarryAnIdAndTimings() throws Exception {
    HttpResponse<byte[]> mine =
        server.send(
            server
                .jsonPost("/tts", "{\"script\":\"" + HELLO + "\",\"type\":\"url\"}")
                .header("X-Request-Id", "client-42")
                .build());
    assertThat(mine.headers().firstValue("X-Request-Id")).hasValue("client-42");
    assertThat(mine.headers().firstValue("Server-Timing"))
        .hasValueSatisfying(
            t -> assertThat(t).contains("queue;dur=", "first-audio;dur=", "total;dur="));
    HttpResponse<byte[]> streamed =
        server.postJson("/tts", "{\"script\":\"" + HELLO + "\",\"format\":\"wav\"}");
    assertThat(streamed.headers().firstValue("Server-Timing"))
        .hasValueSatisfying(t -> assertThat(t).contains("prepare;dur="));
    assertThat(streamed.headers().firstValue("X-Request-Id"))
        .hasValueSatisfying(id -> assertThat(id).matches("[0-9a-f-]{36}"));
    HttpResponse<byte[]> bad =
        server.send(
            server
                .request("/health")
                .header("X-Request-Id", "not a sane id; /../etc")
                .GET()
                .build());
    assertThat(bad.headers().firstValue("X-Request-Id"))
        .hasValueSatisfying(id -> assertThat(id).doesNotContain(" "));
    assertThat(
            server
                .send(server.request("/tts").POST(HttpRequest.BodyPublishers.noBody()).build())
                .headers()
                .firstValue("X-Request-Id"))
        .isPresent();
  }

  @Test
  void actuatorProbesAreOpenAndMetricsNeedTheKey() throws Exception {
    assertThat(server.get("/actuator/health/liveness").statusCode()).isEqualTo(200);
    HttpResponse<byte[]> readiness = server.get("/actuator/health/readiness");
    assertThat(readiness.statusCode()).isEqualTo(200);
    assertThat(json(readiness).path("status").asString()).isEqualTo("UP");
    assertProblem(server.get("/actuator/prometheus"), 401, "unauthorized");
    assertProblem(server.get("/actuator/metrics"), 401, "unauthorized");
    server.postJson("/tts", "{\"script\":\"" + HELLO + "\",\"format\":\"wav\"}");
    HttpResponse<byte[]> prom =
        server.send(server.request("/actuator/prometheus").header("API_KEY", KEY).GET().build());
    assertThat(prom.statusCode()).isEqualTo(200);
    String text = new String(prom.body(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(text)
        .contains(
            "tts_synthesis_realtime_factor",
            "tts_synthesis_first_audio_seconds",
            "tts_synthesis_queued",
            "tts_model_ready",
            "cache_gets_total{",
            "cache=\"voices\"",
            "http_server_requests_seconds_count{");
    assertThat(text)
        .containsPattern(
            "http_server_requests_seconds_count\\{[^}]*status=\"200\"[^}]*uri=\"/tts\"");
  }

  @Test
  void badRequestsGetProblems() throws Exception {
    assertProblem(
        server.postJson("/tts", "{\"script\":\"Hi.\",\"format\":\"aiff\"}"), 400, "unknown-format");
    assertProblem(
        server.postJson("/tts", "{\"script\":\"Hi.\",\"type\":\"stream\"}"), 400, "unknown-type");
    assertProblem(server.postJson("/tts", "{\"script\":\"   \"}"), 400, "missing-script");
    assertProblem(server.postJson("/tts", "{\"format\":\"wav\"}"), 400, "missing-script");
    assertProblem(
        server.postJson("/tts", "{\"script\":\"Hi.\",\"model\":\"nobody\"}"), 400, "unknown-voice");
    assertProblem(
        server.postJson("/tts", "{\"script\":\"Hi.\",\"model\":\"../alba\"}"),
        400,
        "unknown-voice");
    assertProblem(
        server.postJson("/tts", "{\"script\":\"" + "a".repeat(5001) + "\"}"),
        413,
        "script-too-long");
    assertProblem(server.postJson("/tts", "{\"script\": \"unterminated"), 400, "malformed-request");
    assertProblem(server.postJson("/tts", "{\"script\": 42, \"model\": []}"), 400, "invalid-field");
    HttpResponse<byte[]> plain =
        server.send(
            server
                .request("/tts")
                .header("API_KEY", KEY)
                .header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString("Hello"))
                .build());
    assertThat(plain.statusCode()).isEqualTo(415);
    assertThat(plain.headers().firstValue("Content-Type"))
        .hasValueSatisfying(ct -> assertThat(ct).contains("problem+json"));

    assertProblem(
        server.postForm("/tts/clone", new ServerHarness.Multipart().field("script", "Hi.")),
        400,
        "missing-voice-file");
    assertProblem(
        server.postForm(
            "/tts/clone",
            new ServerHarness.Multipart()
                .field("script", "Hi.")
                .file("voice_file", "notes.txt", "this is not audio at all".getBytes())),
        415,
        "undecodable-audio");
    assertProblem(
        server.postForm(
            "/tts/clone",
            new ServerHarness.Multipart()
                .field("script", "Hi.")
                .file("voice_file", "empty.wav", new byte[0])),
        422,
        "empty-audio");

    // the server is unharmed
    assertThat(
            server
                .postJson("/tts", "{\"script\":\"" + HELLO + "\",\"format\":\"wav\"}")
                .statusCode())
        .isEqualTo(200);
  }
}
