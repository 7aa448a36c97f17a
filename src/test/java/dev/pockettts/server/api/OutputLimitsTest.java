package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pockettts.server.storage.AudioFileJanitor;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.TestPropertySource;

/**
 * What one request may make is bounded: the audio (MAX_AUDIO_SECONDS, pauses counted) and, for
 * type=url, the room left in the audio folder (VOICE_DIR_MAX_BYTES), which a new file never takes
 * from the files already there. Every format that can be saved is served and swept, and the folder
 * serves only regular files of its own.
 */
@TestPropertySource(properties = {"MAX_AUDIO_SECONDS=30", "VOICE_DIR_MAX_BYTES=600K"})
class OutputLimitsTest extends ServerTest {

  static Path folder;

  @DynamicPropertySource
  static void voiceDir(DynamicPropertyRegistry registry) throws IOException {
    folder = Files.createTempDirectory("pockettts-limits-voice");
    registry.add("VOICE_DIR", folder::toString);
  }

  @Autowired AudioFileJanitor janitor;
  ServerHarness server;

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
    try (Stream<Path> files = Files.list(folder)) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
  }

  static List<String> names() throws IOException {
    try (Stream<Path> files = Files.list(folder)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private HttpResponse<byte[]> url(String script, String format) throws Exception {
    return server.postJson(
        "/tts", "{\"script\":\"" + script + "\",\"format\":\"" + format + "\",\"type\":\"url\"}");
  }

  @Test
  void pausesThatAddUpPastTheLimitAre413BeforeAnySynthesis() throws Exception {
    String script = "Wait. [pause:10s] ".repeat(4); // 40 s of silence alone
    long start = System.nanoTime();
    assertProblem(
        server.postJson("/tts", "{\"script\":\"" + script + "\",\"format\":\"wav\"}"),
        413,
        "audio-too-long");
    assertProblem(url(script, "wav"), 413, "audio-too-long");
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(5_000);
    assertThat(names()).isEmpty();
    // the attack of the report: 2500 markers in 30 kB
    String attack = "[pause:10s] ".repeat(2500);
    assertProblem(
        server.postJson("/tts", "{\"script\":\"" + attack + "\",\"format\":\"wav\"}"),
        413,
        "audio-too-long");
  }

  /** 16 sentences: at least 9 s by the minimum rule, about 45 s as the tiny model speaks them. */
  static final String LONG =
      "This sentence is spoken at its natural length by the model. ".repeat(16);

  @Test
  void speechThatGrowsPastTheLimitStopsThere() throws Exception {
    // streamed: the audio has started, so the transfer fails rather than ending short
    assertThatThrownBy(
            () -> server.postJson("/tts", "{\"script\":\"" + LONG + "\",\"format\":\"wav\"}"))
        .isInstanceOf(IOException.class);
    // saved: a problem, and no file
    assertProblem(url(LONG, "mp3"), 413, "audio-too-long");
    assertThat(names()).isEmpty();
    HttpResponseCheckOk.ok(server.postJson("/tts", "{\"script\":\"Fine.\",\"format\":\"wav\"}"));
  }

  @Test
  void aFileThatWouldOverfillTheFolderFailsAndTheOthersStay() throws Exception {
    // two short files fit; a long WAV (about 1.3 MB) does not fit the 600 kB left
    String a = json(url("First file.", "mp3")).path("filename").asString();
    String b = json(url("Second file.", "wav")).path("filename").asString();
    List<String> before = names();
    assertThat(before).containsExactlyInAnyOrder(a, b);
    String longScript = "This sentence is spoken at its natural length. ".repeat(6);
    assertProblem(url(longScript, "wav"), 507, "storage-full");
    assertThat(names()).isEqualTo(before); // nothing evicted, no partial file left
    janitor.sweep(Instant.now());
    assertThat(names()).isEqualTo(before);
    assertThat(server.get("/voice/" + a).statusCode()).isEqualTo(200);
    assertThat(server.get("/voice/" + b).statusCode()).isEqualTo(200);
  }

  @ParameterizedTest
  @CsvSource({
    "wav, audio/wav",
    "mp3, audio/mpeg",
    "ogg, audio/ogg",
    "opus, audio/ogg; codecs=opus",
    "aac, audio/aac",
    "flac, audio/flac",
    "pcm, audio/pcm"
  })
  void everySavedFormatIsServedPrivatelyAndSweptWhenOld(String format, String type)
      throws Exception {
    HttpResponse<byte[]> r = url("Saved in every format.", format);
    assertThat(r.statusCode()).as(new String(r.body())).isEqualTo(200);
    String name = json(r).path("filename").asString();
    assertThat(name).endsWith("." + format);
    HttpResponse<byte[]> file = server.get("/voice/" + name);
    assertThat(file.statusCode()).isEqualTo(200);
    assertThat(file.headers().firstValue("Content-Type").orElse("")).startsWith(type);
    assertThat(file.headers().firstValue("Cache-Control").orElse(""))
        .contains("private")
        .doesNotContain("public");
    assertThat(file.body()).isNotEmpty();
    // past its retention, the janitor removes it like any other
    Files.setLastModifiedTime(
        folder.resolve(name),
        java.nio.file.attribute.FileTime.from(Instant.now().minusSeconds(3 * 86_400)));
    janitor.sweep(Instant.now());
    assertThat(names()).doesNotContain(name);
    assertThat(server.get("/voice/" + name).statusCode()).isEqualTo(404);
  }

  @Test
  void aLinkInTheFolderIsNeverFollowed() throws Exception {
    Path secret = Files.createTempFile("pockettts-secret", ".txt");
    Files.writeString(secret, "server secret");
    String outside = "audio_1700000000_0123456789abcdef0123456789abcdef.wav";
    Files.createSymbolicLink(folder.resolve(outside), secret);
    String real = json(url("A real file.", "wav")).path("filename").asString();
    String inside = "audio_1700000001_0123456789abcdef0123456789abcdef.wav";
    Files.createSymbolicLink(folder.resolve(inside), folder.resolve(real));
    for (String name : List.of(outside, inside)) {
      HttpResponse<byte[]> r = server.get("/voice/" + name);
      assertProblem(r, 404, "file-not-found");
      assertThat(new String(r.body())).doesNotContain("server secret");
    }
    assertThat(server.get("/voice/" + real).statusCode()).isEqualTo(200);
    Files.delete(secret);
  }

  @Test
  void rangesAreServedOrRefusedAsProblems() throws Exception {
    String name = json(url("Ranges of a file.", "wav")).path("filename").asString();
    int length = server.get("/voice/" + name).body().length;
    HttpResponse<byte[]> part = range(name, "bytes=0-99");
    assertThat(part.statusCode()).isEqualTo(206);
    assertThat(part.body()).hasSize(100);
    assertThat(part.headers().firstValue("Content-Range")).hasValue("bytes 0-99/" + length);
    HttpResponse<byte[]> tail = range(name, "bytes=-10");
    assertThat(tail.statusCode()).isEqualTo(206);
    assertThat(tail.body()).hasSize(10);
    HttpResponse<byte[]> past = range(name, "bytes=" + (length + 10) + "-");
    assertProblem(past, 416, "range-not-satisfiable");
    assertThat(past.headers().firstValue("Content-Range")).hasValue("bytes */" + length);
    // a header that is no valid range, or several ranges: the whole file
    for (String header : List.of("bytes=", "bytes=abc", "lines=0-9", "bytes=0-9,20-29")) {
      HttpResponse<byte[]> whole = range(name, header);
      assertThat(whole.statusCode()).as(header).isEqualTo(200);
      assertThat(whole.body()).as(header).hasSize(length);
    }
    HttpResponse<byte[]> head =
        server.send(
            server
                .request("/voice/" + name)
                .method("HEAD", java.net.http.HttpRequest.BodyPublishers.noBody())
                .build());
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.headers().firstValue("Content-Length")).hasValue(Integer.toString(length));
  }

  private HttpResponse<byte[]> range(String name, String header) throws Exception {
    return server.send(server.request("/voice/" + name).header("Range", header).GET().build());
  }

  static final class HttpResponseCheckOk {
    static void ok(HttpResponse<byte[]> r) {
      assertThat(r.statusCode()).as(new String(r.body())).isEqualTo(200);
    }
  }
}
