package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With the object store unreachable, {@code type=url} gets the problem a full disk gives, before
 * any synthesis, the voice library says it is unavailable, and streaming with built-in voices works
 * as ever.
 */
class StoreUnreachableTest {

  @TempDir Path dir;

  @Test
  void typeUrlFailsClearlyAndStreamingStillWorks() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort(); // nothing listens there once closed
    }
    System.setProperty("aws.accessKeyId", "x");
    System.setProperty("aws.secretAccessKey", "y");
    try (Replicas one =
        Replicas.start(
            1,
            dir,
            Map.of(
                "STORAGE", "s3",
                "S3_ENDPOINT", "http://127.0.0.1:" + port,
                "S3_BUCKET", "nowhere"))) {
      ServerHarness s = one.get(0);
      long t0 = System.nanoTime();
      HttpResponse<byte[]> url =
          s.postJson("/tts", "{\"script\":\"Keep this.\",\"format\":\"wav\",\"type\":\"url\"}");
      assertProblem(url, 500, "storage-unavailable");
      assertThat(new String(url.body()))
          .contains("object store", "type=file streaming still works");
      assertThat((System.nanoTime() - t0) / 1e9).as("seconds until the answer").isLessThan(30);
      HttpResponse<byte[]> stream =
          s.postJson("/tts", "{\"script\":\"Keep this.\",\"format\":\"wav\"}");
      assertThat(stream.statusCode()).isEqualTo(200);
      assertThat(new String(stream.body(), 0, 4)).isEqualTo("RIFF");
      assertProblem(
          s.get("/voice/audio_1700000000_0123456789abcdef0123456789abcdef.wav"),
          500,
          "storage-unavailable");
      // the voice library lives in the same bucket: it says so, and built-in voices speak
      HttpResponse<byte[]> voices =
          s.send(s.request("/voices").header("API_KEY", ServerHarness.KEY).GET().build());
      assertProblem(voices, 503, "voice-library-unavailable");
      assertThat(new String(voices.body())).contains("built-in voices");
      assertProblem(
          s.postJson("/tts", "{\"script\":\"Hi.\",\"format\":\"wav\",\"model\":\"someone\"}"),
          503,
          "voice-library-unavailable");
      assertThat(
              s.postJson("/tts", "{\"script\":\"Hi.\",\"format\":\"wav\",\"model\":\"alba\"}")
                  .statusCode())
          .isEqualTo(200);
    }
  }
}
