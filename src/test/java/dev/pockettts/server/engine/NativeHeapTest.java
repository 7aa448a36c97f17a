package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Trimming the C heap returns its free pages and stays available for later calls. */
class NativeHeapTest {

  @Test
  void trimReportsTheResidentSizeAndCanRunAgain() throws Exception {
    // HotSpot since 17.0.9 on glibc (the machines and images this server runs on)
    assumeTrue(Files.exists(Path.of("/proc/self/status")), "needs Linux");
    assumeTrue(
        Files.exists(Path.of("/lib/x86_64-linux-gnu/libc.so.6"))
            || Files.exists(Path.of("/lib/aarch64-linux-gnu/libc.so.6")),
        "needs glibc");
    assumeTrue(
        Runtime.version().feature() > 17 || Runtime.version().update() >= 9,
        "needs a JVM with System.trim_native_heap");
    String first = NativeHeap.trim();
    assertThat(first).contains("RSS").contains("->");
    // a direct buffer below the mmap threshold comes from the C heap: freed, then trimmed again
    ByteBuffer b = Tensors.direct(1 << 20);
    Tensors.free(b);
    assertThat(NativeHeap.trim()).contains("->");
  }

  @Test
  void trimLaterRunsOnItsOwnThread() throws Exception {
    assumeTrue(NativeHeap.trim() != null, "trimming is unavailable here");
    // many calls while one waits make one trim, run by a daemon thread of its own
    for (int i = 0; i < 100; i++) {
      NativeHeap.trimLater();
    }
    Thread trimmer = null;
    for (int i = 0; i < 100 && trimmer == null; i++) {
      trimmer =
          Thread.getAllStackTraces().keySet().stream()
              .filter(t -> t.getName().equals("native-heap-trim"))
              .findFirst()
              .orElse(null);
      Thread.sleep(10);
    }
    assertThat(trimmer).isNotNull();
    assertThat(trimmer.isDaemon()).isTrue();
  }

  private static boolean awaitIdleTrims(long above, long millis) throws InterruptedException {
    long until = System.nanoTime() + millis * 1_000_000;
    while (NativeHeap.idleTrims() <= above && System.nanoTime() < until) {
      Thread.sleep(10);
    }
    return NativeHeap.idleTrims() > above;
  }

  @Test
  void theHeapIsTrimmedOnceTheEngineHasBeenIdleAndNotWhileItWorks() throws Exception {
    assumeTrue(NativeHeap.trim() != null, "trimming is unavailable here");
    java.time.Duration saved = NativeHeap.idleDelay;
    NativeHeap.idleDelay = java.time.Duration.ofMillis(300);
    try {
      long before = NativeHeap.idleTrims();
      NativeHeap.busy();
      NativeHeap.idle();
      NativeHeap.busy(); // new work within the delay: the trim waits for it
      Thread.sleep(600);
      assertThat(NativeHeap.idleTrims()).isEqualTo(before);
      NativeHeap.busy(); // two at once: the end of one is not idle
      NativeHeap.idle();
      Thread.sleep(600);
      assertThat(NativeHeap.idleTrims()).isEqualTo(before);
      NativeHeap.idle();
      assertThat(awaitIdleTrims(before, 5_000)).isTrue();
      Thread.sleep(600);
      assertThat(NativeHeap.idleTrims()).as("one trim per idle period").isEqualTo(before + 1);
    } finally {
      NativeHeap.idleDelay = saved;
    }
  }

  @Test
  void aSynthesisIsFollowedByAnIdleTrim() throws Exception {
    assumeTrue(NativeHeap.trim() != null, "trimming is unavailable here");
    java.time.Duration saved = NativeHeap.idleDelay;
    NativeHeap.idleDelay = java.time.Duration.ofMillis(50);
    try (PocketTtsEngine engine = TinyModels.bundle()) {
      VoiceState voice = engine.voiceFromAudio(new float[TinyModels.SAMPLES_PER_FRAME * 4]);
      Thread.sleep(300); // the voice's own idle trim has run by now
      long before = NativeHeap.idleTrims();
      engine.synthesize("Hello there.", voice, GenerationParams.defaults(), s -> {}, null);
      assertThat(awaitIdleTrims(before, 5_000)).isTrue();
    } finally {
      NativeHeap.idleDelay = saved;
    }
  }
}
