package dev.pockettts.server.voice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class VoiceLibraryTest {

  @TempDir Path dir;

  static VoiceLibrary.Entry entry(String id, String created) {
    return new VoiceLibrary.Entry(
        id, "tiny_english", "english", "cloned", created, 3, 4, true, null);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"../x", "..", "/etc/passwd", "a/b", "a\\b", "A", "", " x", "x.json", "-x"})
  void pathLikeOrOddIdsAreNeverIds(String id) {
    LocalVoiceLibrary lib = new LocalVoiceLibrary(dir, 10);
    assertThat(VoiceLibrary.validId(id)).isFalse();
    assertThat(lib.find(id)).isEmpty();
    assertThatThrownBy(() -> lib.stateFile(id)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> lib.save(entry(id, "2026-01-01T00:00:00Z"), new byte[4]))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void savedVoicesAreListedOldestFirstAndDeleted() throws Exception {
    LocalVoiceLibrary lib = new LocalVoiceLibrary(dir.resolve("lib"), 10);
    assertThat(lib.list()).isEmpty();
    lib.save(entry("b", "2026-01-02T00:00:00Z"), new byte[] {1, 2, 3, 4});
    lib.save(entry("a", "2026-01-03T00:00:00Z"), new byte[] {5, 6, 7, 8});
    assertThat(lib.list()).extracting(VoiceLibrary.Entry::id).containsExactly("b", "a");
    assertThat(Files.readAllBytes(lib.stateFile("a"))).containsExactly(5, 6, 7, 8);
    assertThatThrownBy(() -> lib.save(entry("a", "2026-01-04T00:00:00Z"), new byte[4]))
        .isInstanceOf(VoiceLibrary.ExistsException.class);
    assertThat(lib.delete("b")).isTrue();
    assertThat(lib.delete("b")).isFalse();
    assertThat(lib.list()).extracting(VoiceLibrary.Entry::id).containsExactly("a");
  }

  @Test
  void theLibraryStopsAtItsMaximum() throws Exception {
    LocalVoiceLibrary lib = new LocalVoiceLibrary(dir, 1);
    lib.save(entry("one", "2026-01-01T00:00:00Z"), new byte[4]);
    assertThatThrownBy(() -> lib.save(entry("two", "2026-01-01T00:00:00Z"), new byte[4]))
        .isInstanceOf(VoiceLibrary.FullException.class);
    assertThat(files(dir)).containsExactlyInAnyOrder("one.json", "one.safetensors");
  }

  @Test
  void brokenOrOrphanEntriesAreSkipped() throws Exception {
    LocalVoiceLibrary lib = new LocalVoiceLibrary(dir, 10);
    lib.save(entry("good", "2026-01-01T00:00:00Z"), new byte[4]);
    Files.writeString(dir.resolve("broken.json"), "{not json");
    Files.write(dir.resolve("broken.safetensors"), new byte[4]);
    lib.save(entry("orphan", "2026-01-01T00:00:00Z"), new byte[4]);
    Files.delete(dir.resolve("orphan.safetensors"));
    Files.writeString(
        dir.resolve("liar.json"),
        "{\"id\":\"other\",\"bundle\":\"b\",\"language\":\"english\",\"source\":\"cloned\","
            + "\"created\":\"x\",\"positions\":3,\"bytes\":4,\"consent\":true}");
    Files.write(dir.resolve("liar.safetensors"), new byte[4]);
    Files.writeString(dir.resolve("partial.json"), "{\"id\":\"partial\"}");
    Files.write(dir.resolve("partial.safetensors"), new byte[4]);
    assertThat(lib.list()).extracting(VoiceLibrary.Entry::id).containsExactly("good");
    assertThat(lib.find("broken")).isEmpty();
  }

  @Test
  void aSaveThatCannotWriteLeavesNothingBehind() throws Exception {
    Path notADir = dir.resolve("file");
    Files.writeString(notADir, "x");
    LocalVoiceLibrary lib = new LocalVoiceLibrary(notADir, 10);
    assertThatThrownBy(() -> lib.save(entry("v", "2026-01-01T00:00:00Z"), new byte[4]))
        .isInstanceOf(IOException.class);
    assertThat(files(dir)).containsExactly("file");
  }

  @Test
  void leftoversOfAnInterruptedSaveAreRemoved() throws Exception {
    LocalVoiceLibrary lib = new LocalVoiceLibrary(dir, 10);
    lib.save(entry("kept", "2026-01-01T00:00:00Z"), new byte[4]);
    Files.write(dir.resolve("new.safetensors.partial"), new byte[4]);
    lib.removeLeftovers();
    assertThat(files(dir)).containsExactlyInAnyOrder("kept.json", "kept.safetensors");
  }

  private static java.util.List<String> files(Path d) throws IOException {
    try (Stream<Path> s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).toList();
    }
  }
}
