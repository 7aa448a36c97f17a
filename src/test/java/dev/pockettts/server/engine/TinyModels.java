package dev.pockettts.server.engine;

import dev.pockettts.server.model.ModelStore;
import java.nio.file.Path;
import java.util.List;

/** The tiny stand-in models written by tools/make_test_models.py, and what they compute. */
public final class TinyModels {

  public static final Path BUNDLE = Path.of("src/test/resources/models/tiny-bundle");
  public static final Path LEGACY = Path.of("src/test/resources/models/tiny-legacy");

  /** A second language: 12 layers (sorted module names differ from numeric order), own flags. */
  public static final Path FRENCH = Path.of("src/test/resources/models/tiny-french");

  public static final List<String> FRENCH_VOICES = List.of("alba", "lucie", "olivier");

  /** Tone frequency of a voice of the French tiny bundle. */
  public static double frenchVoiceHz(String voice) {
    return 100 * (2.5 + 0.125 * FRENCH_VOICES.indexOf(voice));
  }

  public static final Path INCOMPATIBLE = Path.of("src/test/resources/models/tiny-incompatible");
  public static final int SAMPLES_PER_FRAME = 1920;
  public static final int SAMPLE_RATE = 24000;
  public static final List<String> VOICES = ModelStore.ENGLISH_VOICES;

  private TinyModels() {}

  /** Tone frequency of a built-in tiny voice. */
  public static double voiceHz(String voice) {
    return 100 * (1.5 + 0.125 * VOICES.indexOf(voice));
  }

  /**
   * Frames of a chunk of {@code tokens} tokens: the EOS logit crosses the threshold after 2 frames
   * per token, which counts from frame 6 on (upstream's minimum), then the tail.
   */
  public static int chunkFrames(int tokens, int framesAfterEos) {
    return Math.max(2 * tokens, GenerationParams.DEFAULT_MIN_FRAMES_BEFORE_EOS) + framesAfterEos;
  }

  /** Tone amplitude of a chunk of {@code tokens} tokens. */
  public static double chunkAmplitude(int tokens) {
    return Math.min(0.05 + 0.01 * tokens, 0.6);
  }

  /** Copies a model folder (with its voices) to {@code to}, replacing what is there. */
  public static void copy(Path from, Path to) throws java.io.IOException {
    try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(from)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (java.nio.file.Files.isDirectory(p)) {
          java.nio.file.Files.createDirectories(target);
        } else {
          java.nio.file.Files.copy(p, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  public static PocketTtsEngine bundle() {
    return PocketTtsEngine.load(BUNDLE, EngineOptions.defaults());
  }

  public static PocketTtsEngine legacy() {
    return PocketTtsEngine.load(LEGACY, EngineOptions.defaults());
  }
}
