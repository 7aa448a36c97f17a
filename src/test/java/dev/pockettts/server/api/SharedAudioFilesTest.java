package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.storage.AudioFileJanitor;
import dev.pockettts.server.testing.S3Server;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Two servers with {@code STORAGE=s3} and one bucket: a {@code type=url} file made on one is served
 * by the other (whole, in byte ranges, as HEAD), lies in the bucket and not in either server's
 * folder, and goes when either sweeps past its retention.
 */
class SharedAudioFilesTest {

  private static final String BUCKET = "pockettts-shared";
  @TempDir static Path dir;
  private static S3Server s3;
  private static Replicas replicas;

  @BeforeAll
  static void start() throws Exception {
    s3 = S3Server.start(dir, BUCKET);
    replicas =
        Replicas.start(
            2,
            dir,
            Replicas.onBucket(s3, BUCKET, Map.of("S3_PREFIX", "team-a", "VOICE_RETENTION", "1h")));
  }

  @AfterAll
  static void stop() throws Exception {
    Replicas.closeAll(replicas, s3);
  }

  private static String makeOnA(String format) throws Exception {
    HttpResponse<byte[]> r =
        replicas
            .get(0)
            .postJson(
                "/tts",
                "{\"script\":\"Shared between the servers.\",\"format\":\""
                    + format
                    + "\",\"type\":\"url\"}");
    assertThat(r.statusCode()).as(new String(r.body())).isEqualTo(200);
    String url = json(r).path("url").asString();
    assertThat(url).startsWith(replicas.get(0).base + "/voice/audio_");
    return url.substring(url.lastIndexOf('/') + 1);
  }

  private static long filesIn(Path folder) throws Exception {
    if (!Files.isDirectory(folder)) {
      return 0;
    }
    try (Stream<Path> s = Files.list(folder)) {
      return s.count();
    }
  }

  @Test
  void aFileMadeOnOneServerIsServedByTheOtherWholeAndInRanges() throws Exception {
    String name = makeOnA("wav");
    ServerHarness b = replicas.get(1);
    HttpResponse<byte[]> whole = b.get("/voice/" + name);
    assertThat(whole.statusCode()).isEqualTo(200);
    assertThat(whole.headers().firstValue("Content-Type")).hasValue("audio/wav");
    byte[] body = whole.body();
    assertThat(new String(body, 0, 4)).isEqualTo("RIFF");
    assertThat(whole.headers().firstValueAsLong("Content-Length")).hasValue(body.length);

    HttpResponse<byte[]> part =
        b.send(b.request("/voice/" + name).header("Range", "bytes=10-109").GET().build());
    assertThat(part.statusCode()).isEqualTo(206);
    assertThat(part.headers().firstValue("Content-Range")).hasValue("bytes 10-109/" + body.length);
    assertThat(part.body()).isEqualTo(Arrays.copyOfRange(body, 10, 110));

    HttpResponse<byte[]> tail =
        b.send(b.request("/voice/" + name).header("Range", "bytes=-20").GET().build());
    assertThat(tail.body()).isEqualTo(Arrays.copyOfRange(body, body.length - 20, body.length));

    HttpResponse<byte[]> head =
        b.send(
            b.request("/voice/" + name)
                .method("HEAD", HttpRequest.BodyPublishers.noBody())
                .build());
    assertThat(head.headers().firstValueAsLong("Content-Length")).hasValue(body.length);
    String etag = whole.headers().firstValue("ETag").orElseThrow();
    assertThat(
            b.send(b.request("/voice/" + name).header("If-None-Match", etag).GET().build())
                .statusCode())
        .isEqualTo(304);

    // in the bucket, under the prefix; in neither server's folder
    try (S3Client c = s3.client()) {
      assertThat(c.headObject(h -> h.bucket(BUCKET).key("team-a/audio/" + name)).contentLength())
          .isEqualTo(body.length);
    }
    assertThat(filesIn(dir.resolve("voice-0"))).isZero();
    assertThat(filesIn(dir.resolve("voice-1"))).isZero();
    assertThat(b.get("/voice/audio_1700000000_0123456789abcdef0123456789abcdef.wav").statusCode())
        .isEqualTo(404);
  }

  @Test
  void largeFilesGoUpInPartsAndComeBackTheSame() throws Exception {
    // a long script in WAV passes the 8 MB of one part (24 kHz 16-bit: 3 min of audio)
    String script = "One more sentence for the long file, spoken slowly. ".repeat(120);
    HttpResponse<byte[]> r =
        replicas
            .get(0)
            .postJson(
                "/tts", "{\"script\":\"" + script + "\",\"format\":\"wav\",\"type\":\"url\"}");
    assertThat(r.statusCode()).as(new String(r.body())).isEqualTo(200);
    String url = json(r).path("url").asString();
    String name = url.substring(url.lastIndexOf('/') + 1);
    HttpResponse<byte[]> fromB = replicas.get(1).get("/voice/" + name);
    assertThat(fromB.statusCode()).isEqualTo(200);
    HttpResponse<byte[]> fromA = replicas.get(0).get("/voice/" + name);
    assertThat(fromB.body()).isEqualTo(fromA.body());
    assertThat(fromB.body().length).isGreaterThan(8 * 1024 * 1024);
  }

  @Test
  void eitherServerSweepsTheBucketAndTheFileIsGoneForBoth() throws Exception {
    String name = makeOnA("mp3");
    assertThat(replicas.get(1).get("/voice/" + name).statusCode()).isEqualTo(200);
    AudioFileJanitor janitorB = replicas.bean(1, AudioFileJanitor.class);
    assertThat(janitorB.sweep(Instant.now())).isZero(); // not old yet
    assertThat(janitorB.sweep(Instant.now().plus(Duration.ofHours(2)))).isPositive();
    assertThat(replicas.get(0).get("/voice/" + name).statusCode()).isEqualTo(404);
    // a second sweep of the same files (another replica's) finds nothing to do and fails nothing
    assertThat(
            replicas.bean(0, AudioFileJanitor.class).sweep(Instant.now().plus(Duration.ofHours(2))))
        .isZero();
  }

  @Test
  void presignedUrlsServeTheObjectWithoutTheServer() throws Exception {
    try (Replicas presigning =
        Replicas.start(
            1,
            dir.resolve("presigned"),
            Replicas.onBucket(s3, BUCKET, Map.of("S3_PRESIGNED_URLS", "true")))) {
      HttpResponse<byte[]> r =
          presigning
              .get(0)
              .postJson(
                  "/tts",
                  "{\"script\":\"Straight from the bucket.\",\"format\":\"mp3\",\"type\":\"url\"}");
      assertThat(r.statusCode()).isEqualTo(200);
      String url = json(r).path("url").asString();
      assertThat(url)
          .startsWith(s3.endpoint() + "/" + BUCKET + "/audio/audio_")
          .contains("X-Amz-Signature=");
      HttpResponse<byte[]> direct =
          presigning.get(0).send(HttpRequest.newBuilder(URI.create(url)).GET().build());
      assertThat(direct.statusCode()).isEqualTo(200);
      assertThat(direct.body().length).isGreaterThan(1000);
      // the signature covers the key: another key with it is refused
      String other = url.replace("/audio/audio_", "/audio/xaudio_");
      assertThat(
              presigning
                  .get(0)
                  .send(HttpRequest.newBuilder(URI.create(other)).GET().build())
                  .statusCode())
          .isEqualTo(403);
    }
  }
}
