package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.testing.S3Server;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two servers with {@code STORAGE=s3} share one voice library: a voice saved on one speaks on the
 * other at once and the same; deleted on one, it speaks on neither; saved anew, the new one speaks
 * everywhere; two saves of one name at once give one 201 and one 409; the maximum counts both.
 */
class SharedVoiceLibraryTest {

  private static final String BUCKET = "pockettts-voices";
  private static final Path SPEECH = Path.of("src/test/resources/audio/speech.wav");
  @TempDir static Path dir;
  private static Path other;
  private static S3Server s3;
  private static Replicas replicas;

  @BeforeAll
  static void start() throws Exception {
    // another recording: 2 s of a 220 Hz tone with a little noise
    int n = 2 * 24_000;
    java.nio.ByteBuffer wav =
        java.nio.ByteBuffer.allocate(44 + 2 * n).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    wav.put(dev.pockettts.server.audio.WavEncoder.header(24_000, 2L * n));
    java.util.Random r = new java.util.Random(5);
    for (int i = 0; i < n; i++) {
      wav.putShort(
          (short) (8000 * Math.sin(2 * Math.PI * 220 * i / 24_000.0) + 300 * r.nextGaussian()));
    }
    other = java.nio.file.Files.write(dir.resolve("tone.wav"), wav.array());
    s3 = S3Server.start(dir, BUCKET);
    replicas =
        Replicas.start(
            2,
            dir,
            Replicas.onBucket(s3, BUCKET, Map.of("TEMPERATURE", "0", "VOICE_LIBRARY_MAX", "6")));
  }

  @AfterAll
  static void stop() throws Exception {
    Replicas.closeAll(replicas, s3);
  }

  private static String newName() {
    return "v-" + UUID.randomUUID().toString().substring(0, 8);
  }

  private static HttpResponse<byte[]> save(int on, String name, Path audio) throws Exception {
    return replicas
        .get(on)
        .postForm(
            "/voices",
            new ServerHarness.Multipart()
                .field("name", name)
                .field("consent", "true")
                .file("audio", audio));
  }

  private static HttpResponse<byte[]> speak(int on, String voice) throws Exception {
    return replicas
        .get(on)
        .postJson(
            "/tts",
            "{\"script\":\"Hello from the shared library.\",\"format\":\"pcm\",\"model\":\""
                + voice
                + "\"}");
  }

  private static HttpResponse<byte[]> delete(int on, String name) throws Exception {
    ServerHarness s = replicas.get(on);
    return s.send(s.request("/voices/" + name).header("API_KEY", KEY).DELETE().build());
  }

  @Test
  void savedOnOneItSpeaksOnTheOtherTheSameAndDeletedOnTheOtherItSpeaksOnNeither() throws Exception {
    String name = newName();
    assertThat(save(0, name, SPEECH).statusCode()).isEqualTo(201);
    HttpResponse<byte[]> onA = speak(0, name);
    HttpResponse<byte[]> onB = speak(1, name);
    assertThat(onA.statusCode()).isEqualTo(200);
    assertThat(onB.statusCode()).as(new String(onB.body())).isEqualTo(200);
    assertThat(onB.body()).isEqualTo(onA.body());
    assertThat(
            json(replicas
                    .get(1)
                    .send(
                        replicas
                            .get(1)
                            .request("/voices/" + name)
                            .header("API_KEY", KEY)
                            .GET()
                            .build()))
                .path("source")
                .asString())
        .isEqualTo("cloned");

    assertThat(delete(1, name).statusCode()).isEqualTo(204);
    assertProblem(speak(0, name), 400, "unknown-voice"); // A had its state cached
    assertProblem(speak(1, name), 400, "unknown-voice");
    assertThat(delete(0, name).statusCode()).isEqualTo(404);
  }

  @Test
  void aVoiceSavedAnewUnderTheSameNameIsTheNewOneEverywhere() throws Exception {
    String name = newName();
    assertThat(save(0, name, SPEECH).statusCode()).isEqualTo(201);
    byte[] first = speak(1, name).body(); // cached on B
    assertThat(delete(0, name).statusCode()).isEqualTo(204);
    assertThat(save(0, name, other).statusCode()).isEqualTo(201);
    HttpResponse<byte[]> again = speak(1, name);
    assertThat(again.statusCode()).isEqualTo(200);
    assertThat(again.body()).isEqualTo(speak(0, name).body()).isNotEqualTo(first);
    delete(1, name);
  }

  @Test
  void twoSavesOfOneNameAtOnceHaveOneWinner() throws Exception {
    for (int round = 0; round < 6; round++) {
      String name = newName();
      CompletableFuture<HttpResponse<byte[]>> a =
          CompletableFuture.supplyAsync(() -> call(() -> save(0, name, SPEECH)));
      CompletableFuture<HttpResponse<byte[]>> b =
          CompletableFuture.supplyAsync(() -> call(() -> save(1, name, other)));
      List<Integer> statuses = new ArrayList<>(List.of(a.get().statusCode(), b.get().statusCode()));
      statuses.sort(null);
      assertThat(statuses).as("round " + round).containsExactly(201, 409);
      HttpResponse<byte[]> loser = a.get().statusCode() == 409 ? a.get() : b.get();
      assertProblem(loser, 409, "voice-exists");
      // both speak the winner's voice
      assertThat(speak(0, name).body()).isEqualTo(speak(1, name).body());
      delete(0, name);
    }
  }

  @Test
  void theMaximumCountsTheSharedLibrary() throws Exception {
    List<String> names = new ArrayList<>();
    int saved = 0;
    for (tools.jackson.databind.JsonNode v :
        json(replicas
                .get(0)
                .send(replicas.get(0).request("/voices").header("API_KEY", KEY).GET().build()))
            .path("voices")) {
      saved += v.path("source").asString().equals("built-in") ? 0 : 1;
    }
    for (int i = 0; saved < 6; i++, saved++) {
      String name = newName();
      assertThat(save(i % 2, name, SPEECH).statusCode()).isEqualTo(201);
      names.add(name);
    }
    HttpResponse<byte[]> full = save(1, newName(), SPEECH);
    assertProblem(full, 507, "voice-library-full");
    for (String n : names) {
      delete(0, n);
    }
  }

  private interface Call {
    HttpResponse<byte[]> run() throws Exception;
  }

  private static HttpResponse<byte[]> call(Call c) {
    try {
      return c.run();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
