package dev.pockettts.server.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pockettts.server.engine.ModelFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HubClientTest {

  @TempDir Path dir;

  @Test
  void aFileThatDoesNotMatchItsPinIsNeverPutInPlace() throws IOException {
    try (FakeHub hub = new FakeHub(null)) {
      hub.put("r/m", "abc", "onnx/x.onnx", "not the published bytes".getBytes());
      HubClient client = new HubClient(hub.endpoint(), null, 2, Duration.ofMillis(1));
      RemoteFile f =
          new RemoteFile("r/m", "abc", "onnx/x.onnx", "x.onnx", 23, "00".repeat(32), true);
      Path target = dir.resolve("x.onnx");
      assertThatThrownBy(
              () -> client.download(f, f.size(), f.sha256(), target, new DownloadProgress()))
          .isInstanceOf(ModelFileException.class)
          .hasMessageContaining("does not match its pinned checksum")
          .satisfies(
              e ->
                  assertThat(((ModelFileException) e).reason())
                      .isEqualTo(ModelFileException.Reason.CHECKSUM));
      assertThat(target).doesNotExist();
      assertThat(dir.resolve("x.onnx.part")).doesNotExist();
      assertThat(hub.requests).hasSize(2); // tried again once before giving up
    }
  }

  @Test
  void aPartialFileFromAnEarlierRunIsResumed() throws IOException {
    byte[] content = new byte[100_000];
    for (int i = 0; i < content.length; i++) {
      content[i] = (byte) (i * 31);
    }
    try (FakeHub hub = new FakeHub(null)) {
      hub.put("r/m", "abc", "f.bin", content);
      Files.write(dir.resolve("f.bin.part"), java.util.Arrays.copyOf(content, 40_000));
      HubClient client = new HubClient(hub.endpoint(), null, 1, Duration.ZERO);
      RemoteFile f = new RemoteFile("r/m", "abc", "f.bin", "f.bin", -1, null, true);
      DownloadProgress progress = new DownloadProgress();
      String sha = client.download(f, content.length, null, dir.resolve("f.bin"), progress);
      assertThat(dir.resolve("f.bin")).hasBinaryContent(content);
      assertThat(sha).isEqualTo(ModelFiles.sha256(dir.resolve("f.bin")));
      assertThat(hub.requests)
          .singleElement()
          .satisfies(r -> assertThat(r.range()).isEqualTo("bytes=40000-"));
      assertThat(progress.doneBytes()).isEqualTo(60_000);
    }
  }

  @Test
  void theUrlHasTheHubForm() {
    HubClient client = new HubClient(ModelSettings.DEFAULT_ENDPOINT, null, 1, Duration.ZERO);
    RemoteFile f =
        new RemoteFile(
            ModelSettings.DEFAULT_REPO,
            ModelSettings.DEFAULT_REVISION,
            "onnx/english_2026-04/bundle.json",
            "bundle.json",
            -1,
            null,
            true);
    assertThat(client.url(f))
        .hasToString(
            "https://huggingface.co/KevinAHM/pocket-tts-onnx/resolve/"
                + "58a6d00cf13d239b6748cb0769f35c580a8f606c/onnx/english_2026-04/bundle.json");
    assertThat(
            PinnedFiles.lookup(
                    ModelSettings.DEFAULT_REPO,
                    ModelSettings.DEFAULT_REVISION,
                    "onnx/english_2026-04/flow_lm_main_int8.onnx")
                .size())
        .isEqualTo(76341079);
  }
}
