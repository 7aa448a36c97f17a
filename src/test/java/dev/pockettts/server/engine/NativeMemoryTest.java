package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Many syntheses and clones must not grow the process without bound (native tensors closed). */
class NativeMemoryTest {

  private static final Path STATUS = Path.of("/proc/self/status");

  static long residentKb() throws IOException {
    for (String line : Files.readAllLines(STATUS)) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("\\D", ""));
      }
    }
    throw new IllegalStateException("no VmRSS");
  }

  private static long floor(List<Long> values) {
    return values.stream().mapToLong(Long::longValue).min().orElseThrow();
  }

  @Test
  void manySynthesesDoNotGrowResidentMemory() throws IOException {
    assumeTrue(Files.isReadable(STATUS), "needs Linux /proc to read the resident size");
    GenerationParams p = GenerationParams.defaults().withSeed(1L);
    try (PocketTtsEngine engine = TinyModels.bundle()) {
      VoiceState voice = engine.voiceFromFile(TinyModels.BUNDLE.resolve("voices/alba.safetensors"));
      float[] ref = Signal.sine(200, 0.3, 24000, 24000);
      Runnable round =
          () -> {
            engine.synthesize("A short sentence. And another one.", voice, p, s -> {}, null);
            engine.voiceFromAudio(ref);
          };
      List<Long> samples = new ArrayList<>();
      for (int i = 1; i <= 800; i++) {
        round.run();
        if (i % 50 == 0) {
          System.gc();
          samples.add(residentKb());
        }
      }
      System.out.println("resident size every 50 rounds (kB): " + samples);
      long early = floor(samples.subList(2, 8));
      long late = floor(samples.subList(samples.size() - 6, samples.size()));
      // each round creates and frees about 120 native tensors; the allocator's arenas make the
      // resident size swing by up to 100 MB, so compare the floors: a leak raises the floor
      assertThat(late - early).isLessThan(32 * 1024);
    }
  }
}
