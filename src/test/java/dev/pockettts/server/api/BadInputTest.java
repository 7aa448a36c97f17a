package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.test.context.TestPropertySource;
import ws.schild.jave.process.ffmpeg.DefaultFFMPEGLocator;

/**
 * What programs send a speech server: every case gets a clear answer (a problem, or speech when the
 * input is odd but valid), and after each the server still speaks normally.
 */
@TestPropertySource(
    properties = {
      "TEMPERATURE=0",
      "MAX_SCRIPT_CHARS=60000",
      "MAX_UPLOAD_MB=10",
      "VOICE_DIR=target/test-voice-bad"
    })
class BadInputTest extends ServerTest {

  static final Path AUDIO = Path.of("src/test/resources/audio");
  static final Path MADE = Path.of("target/bad-input-audio");

  ServerHarness server;

  /** A request and what it must get: a status, and the problem type for errors. */
  record Case(String name, Request request, int status, String type) {
    @Override
    public String toString() {
      return name;
    }
  }

  @FunctionalInterface
  interface Request {
    HttpResponse<byte[]> send(ServerHarness s) throws Exception;
  }

  /** Audio made with FFmpeg for the cases: a 1 ms clip, 3 s of silence, a 2-hour file. */
  @BeforeAll
  static void makeAudio() throws Exception {
    Files.createDirectories(MADE);
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:sample_rate=24000:duration=0.001", "oneMs.wav");
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=24000:cl=mono", "-t", "3", "silence.wav");
    if (!Files.exists(MADE.resolve("twoHours.mp3"))) {
      ffmpeg(
          "-f",
          "lavfi",
          "-i",
          "sine=frequency=220:sample_rate=8000:duration=7200",
          "-b:a",
          "8k",
          "twoHours.mp3");
    }
    byte[] mp3 = Files.readAllBytes(AUDIO.resolve("speech.mp3"));
    Files.write(MADE.resolve("truncated.mp3"), Arrays.copyOf(mp3, mp3.length / 3));
  }

  private static void ffmpeg(String... args) throws IOException, InterruptedException {
    List<String> cmd =
        new java.util.ArrayList<>(
            List.of(
                new DefaultFFMPEGLocator().getExecutablePath(),
                "-hide_banner",
                "-loglevel",
                "error",
                "-y"));
    cmd.addAll(List.of(args).subList(0, args.length - 1));
    cmd.add(MADE.resolve(args[args.length - 1]).toString());
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    assertThat(p.waitFor()).isZero();
  }

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  static HttpResponse<byte[]> json(ServerHarness s, String body) throws Exception {
    return s.postJson("/tts", body);
  }

  static HttpResponse<byte[]> raw(ServerHarness s, String contentType, byte[] body)
      throws Exception {
    return s.send(
        s.request("/tts")
            .header("API_KEY", KEY)
            .header("Content-Type", contentType)
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build());
  }

  static HttpResponse<byte[]> clone(ServerHarness s, String filename, byte[] audio)
      throws Exception {
    return s.postForm(
        "/tts/clone",
        new ServerHarness.Multipart()
            .field("script", "Hello there.")
            .field("format", "wav")
            .file("voice_file", filename, audio));
  }

  static HttpResponse<byte[]> clone(ServerHarness s, Path file) throws Exception {
    return clone(s, file.getFileName().toString(), Files.readAllBytes(file));
  }

  static String quoted(String script) {
    return "{\"script\":" + ServerHarness.JSON.writeValueAsString(script) + ",\"format\":\"wav\"}";
  }

  static Stream<Arguments> cases() {
    List<Case> cases =
        List.of(
            new Case("malformed JSON", s -> json(s, "{\"script\": \"Hi"), 400, "malformed-request"),
            new Case(
                "JSON that is not an object", s -> json(s, "[\"Hi\"]"), 400, "malformed-request"),
            new Case(
                "wrong content type",
                s -> raw(s, "text/plain", "Hi".getBytes()),
                415,
                "unsupported-media-type"),
            new Case(
                "no content type",
                s ->
                    s.send(
                        s.request("/tts")
                            .header("API_KEY", KEY)
                            .POST(HttpRequest.BodyPublishers.ofString("{}"))
                            .build()),
                415,
                "unsupported-media-type"),
            new Case(
                "empty body",
                s -> raw(s, "application/json", new byte[0]),
                400,
                "malformed-request"),
            new Case("missing script", s -> json(s, "{\"format\":\"wav\"}"), 400, "missing-script"),
            new Case("script is a number", s -> json(s, "{\"script\": 42}"), 400, "invalid-field"),
            new Case(
                "model is a list",
                s -> json(s, "{\"script\":\"Hi.\",\"model\":[\"alba\"]}"),
                400,
                "invalid-field"),
            new Case("empty script", s -> json(s, quoted("")), 400, "missing-script"),
            new Case("whitespace only", s -> json(s, quoted(" \t\n\r  ")), 400, "missing-script"),
            new Case(
                "only punctuation", s -> json(s, quoted("?!... ,;:")), 400, "nothing-to-speak"),
            new Case(
                "only emoji",
                s -> json(s, quoted("\uD83D\uDE00\uD83C\uDF89")),
                400,
                "nothing-to-speak"),
            new Case(
                "NUL character",
                s -> json(s, quoted("Hello\u0000world")),
                400,
                "invalid-characters"),
            new Case(
                "escape character",
                s -> json(s, quoted("Hello \u001b[31mred")),
                400,
                "invalid-characters"),
            new Case(
                "invalid UTF-8",
                s ->
                    raw(
                        s,
                        "application/json",
                        concat(
                            "{\"script\":\"Hi ".getBytes(),
                            new byte[] {(byte) 0xC3, (byte) 0x28, (byte) 0xFF},
                            "\"}".getBytes())),
                400,
                "malformed-request"),
            new Case(
                "right-to-left text",
                s -> json(s, quoted("\u05E9\u05DC\u05D5\u05DD \u05E2\u05D5\u05DC\u05DD")),
                200,
                null),
            new Case(
                "combining characters", s -> json(s, quoted("Cafe\u0301 na\u0308ive")), 200, null),
            new Case(
                "text with emoji", s -> json(s, quoted("Party time \uD83C\uDF89 now.")), 200, null),
            new Case(
                "a 50,000-character word",
                s -> json(s, quoted("a".repeat(50_000))),
                400,
                "word-too-long"),
            new Case(
                "script over the limit",
                s -> json(s, quoted("word ".repeat(12_001))),
                413,
                "script-too-long"),
            new Case(
                "unknown format",
                s -> json(s, "{\"script\":\"Hi.\",\"format\":\"aiff\"}"),
                400,
                "unknown-format"),
            new Case(
                "unknown type",
                s -> json(s, "{\"script\":\"Hi.\",\"type\":\"email\"}"),
                400,
                "unknown-type"),
            new Case(
                "unknown voice",
                s -> json(s, "{\"script\":\"Hi.\",\"model\":\"nobody\"}"),
                400,
                "unknown-voice"),
            new Case(
                "voice with a path",
                s -> json(s, "{\"script\":\"Hi.\",\"model\":\"../alba\"}"),
                400,
                "unknown-voice"),
            new Case(
                "voice with an absolute path",
                s -> json(s, "{\"script\":\"Hi.\",\"model\":\"/etc/passwd\"}"),
                400,
                "unknown-voice"),
            new Case(
                "upload that is not audio",
                s -> clone(s, "notes.txt", "just some text".getBytes()),
                415,
                "undecodable-audio"),
            new Case("truncated MP3", s -> clone(s, MADE.resolve("truncated.mp3")), 200, null),
            new Case("zero-byte file", s -> clone(s, "empty.wav", new byte[0]), 422, "empty-audio"),
            new Case(
                "1 ms clip", s -> clone(s, MADE.resolve("oneMs.wav")), 422, "reference-too-short"),
            new Case(
                "pure silence",
                s -> clone(s, MADE.resolve("silence.wav")),
                422,
                "reference-silent"),
            new Case(
                "2-hour file (trimmed to MAX_REF_DURATION)",
                s -> clone(s, MADE.resolve("twoHours.mp3")),
                200,
                null),
            new Case(
                "file over the upload limit",
                s -> clone(s, "big.wav", new byte[11 * 1024 * 1024]),
                413,
                "upload-too-large"),
            new Case(
                "many form parts",
                s -> {
                  ServerHarness.Multipart m = new ServerHarness.Multipart().field("script", "Hi.");
                  for (int i = 0; i < 200; i++) {
                    m.field("extra" + i, "x");
                  }
                  return s.postForm(
                      "/tts/clone", m.file("voice_file", AUDIO.resolve("speech.wav")));
                },
                413,
                "upload-too-large"),
            new Case(
                "huge multipart header",
                s ->
                    s.postForm(
                        "/tts/clone",
                        new ServerHarness.Multipart()
                            .field("script", "Hi.")
                            .file(
                                "voice_file",
                                "x".repeat(20_000) + ".wav",
                                Files.readAllBytes(AUDIO.resolve("speech.wav")))),
                413,
                "upload-too-large"),
            new Case(
                "broken multipart body",
                s ->
                    s.send(
                        s.request("/tts/clone")
                            .header("API_KEY", KEY)
                            .header("Content-Type", "multipart/form-data; boundary=abc")
                            .POST(
                                HttpRequest.BodyPublishers.ofString(
                                    "--abc\r\nContent-Disposition: form-data; name=\"script\"\r\n"))
                            .build()),
                400,
                "malformed-multipart"),
            new Case(
                "missing voice_file",
                s -> s.postForm("/tts/clone", new ServerHarness.Multipart().field("script", "Hi.")),
                400,
                "missing-voice-file"),
            new Case(
                "clone without script",
                s ->
                    s.postForm(
                        "/tts/clone",
                        new ServerHarness.Multipart()
                            .file("voice_file", AUDIO.resolve("speech.wav"))),
                400,
                "missing-script"));
    return cases.stream().map(Arguments::of);
  }

  static byte[] concat(byte[]... parts) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void everyInputGetsAClearAnswer(Case c) throws Exception {
    HttpResponse<byte[]> r = c.request().send(server);
    if (c.type() == null) {
      assertThat(r.statusCode())
          .as(new String(r.body(), StandardCharsets.UTF_8))
          .isEqualTo(c.status());
      assertThat(r.headers().firstValue("Content-Type"))
          .hasValueSatisfying(ct -> assertThat(ct).startsWith("audio/"));
      assertThat(r.body().length).isGreaterThan(44 + 1920 * 2);
    } else {
      assertProblem(r, c.status(), c.type());
    }
  }

  @AfterEach
  void theServerStillSpeaks() throws Exception {
    HttpResponse<byte[]> r =
        server.postJson("/tts", "{\"script\":\"Still here.\",\"format\":\"wav\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body().length).isGreaterThan(44);
  }
}
