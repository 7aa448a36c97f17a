package dev.pockettts.server.bench;

import dev.pockettts.server.engine.EngineOptions;
import dev.pockettts.server.engine.GenerationParams;
import dev.pockettts.server.engine.PocketTtsEngine;
import dev.pockettts.server.engine.Precision;
import dev.pockettts.server.engine.SynthesisResult;
import dev.pockettts.server.engine.VoiceState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Measures the engine on a model folder (the real published files, or the full-size stand-ins of
 * {@code tools/make_test_models.py --full-size}): real-time factor, time to the first PCM block,
 * time per 80 ms frame in each graph, voice-cloning time and peak resident memory. Run by hand:
 * {@code java -jar target/pockettts-server-*.jar bench-engine <model-folder> [int8|fp32] [runs]
 * [--unmodified] [--sequential]}. {@code --unmodified} runs the published graphs without the
 * load-time rewrites; {@code --sequential} is the baseline the Python runtimes run: the unmodified
 * graphs called one after another on one thread, the decoder one frame at a time.
 */
public final class EngineBenchmark {

  static final String PARAGRAPH =
      "It is a truth universally acknowledged, that a single man in"
          + " possession of a good fortune, must be in want of a wife. However little known the feelings"
          + " or views of such a man may be on his first entering a neighbourhood, this truth is so well"
          + " fixed in the minds of the surrounding families, that he is considered the rightful property"
          + " of some one or other of their daughters.";

  private EngineBenchmark() {}

  public static void main(String[] args) throws IOException {
    List<String> flags = Stream.of(args).filter(a -> a.startsWith("--")).toList();
    List<String> positional = Stream.of(args).filter(a -> !a.startsWith("--")).toList();
    boolean sequential = flags.contains("--sequential");
    boolean unmodified = sequential || flags.contains("--unmodified");
    if (positional.isEmpty()
        || flags.stream().anyMatch(f -> !f.equals("--sequential") && !f.equals("--unmodified"))) {
      System.err.println(
          "usage: bench-engine <model-folder> [int8|fp32] [runs] [--unmodified] [--sequential]");
      System.exit(2);
    }
    Path dir = Path.of(positional.get(0));
    Precision precision =
        positional.size() > 1 && positional.get(1).equalsIgnoreCase("fp32")
            ? Precision.FP32
            : Precision.INT8;
    int runs = positional.size() > 2 ? Integer.parseInt(positional.get(2)) : 3;
    int gen = sequential ? 1 : Integer.getInteger("generationThreads", 1);
    int dec = sequential ? 1 : Integer.getInteger("decoderThreads", 1);
    System.out.printf(
        Locale.ROOT,
        "model %s, %s, %s, %d run(s), threads: generation %d, decoder %d, %d cores%n",
        dir,
        precision,
        sequential
            ? "sequential loop over the unmodified graphs"
            : unmodified ? "pipelined, unmodified graphs" : "pipelined, rewritten graphs",
        runs,
        gen,
        dec,
        Runtime.getRuntime().availableProcessors());
    long t0 = System.nanoTime();
    try (PocketTtsEngine engine =
        PocketTtsEngine.load(dir, new EngineOptions(precision, gen, dec, !unmodified))) {
      System.out.printf(Locale.ROOT, "load: %.0f ms%n", ms(System.nanoTime() - t0));
      VoiceState voice = voice(engine, dir);
      GenerationParams params = GenerationParams.defaults().withSeed(1L);
      if (sequential) {
        engine.synthesizeSequential("Warm up.", voice, params, s -> {});
      } else {
        engine.synthesize("Warm up.", voice, params, s -> {}, null);
      }
      List<SynthesisResult> results = new ArrayList<>();
      for (int i = 0; i < runs; i++) {
        GenerationParams p = params.withSeed((long) i);
        SynthesisResult r =
            sequential
                ? engine.synthesizeSequential(PARAGRAPH, voice, p, s -> {})
                : engine.synthesize(PARAGRAPH, voice, p, s -> {}, null);
        results.add(r);
        double audio = r.samples() / (double) engine.sampleRate();
        System.out.printf(
            Locale.ROOT,
            "run %d: %d chunks, %d frames, %.2f s audio in %.2f s: %.2fx real time, first PCM after %.0f ms;"
                + " per frame: flow LM %.1f ms, flow head %.1f ms, decoder %.1f ms%n",
            i + 1,
            r.chunks(),
            r.frames(),
            audio,
            r.totalNanos() / 1e9,
            r.realTimeFactor(engine.sampleRate()),
            ms(r.firstPcmNanos()),
            ms(r.flowLmNanos()) / r.frames(),
            ms(r.flowHeadNanos()) / r.frames(),
            ms(r.decoderNanos()) / r.frames());
      }
      double rtf =
          results.stream()
              .mapToDouble(r -> r.realTimeFactor(engine.sampleRate()))
              .sorted()
              .skip(results.size() / 2)
              .findFirst()
              .orElse(0);
      double first =
          results.stream()
              .mapToDouble(r -> ms(r.firstPcmNanos()))
              .sorted()
              .skip(results.size() / 2)
              .findFirst()
              .orElse(0);
      System.out.printf(
          Locale.ROOT, "median: %.2fx real time, first PCM block after %.0f ms%n", rtf, first);
      System.out.printf(
          Locale.ROOT, "peak resident memory: %d MB%n", NativeMemory.peakResidentMb());
    }
  }

  /** A cloned voice from 10 s of noise when the encoder is there (timed), else a voice file. */
  private static VoiceState voice(PocketTtsEngine engine, Path dir) throws IOException {
    if (engine.cloningUnavailableReason() == null) {
      float[] ref = new float[10 * engine.sampleRate()];
      Random random = new Random(7);
      for (int i = 0; i < ref.length; i++) {
        ref[i] = (float) (0.1 * random.nextGaussian());
      }
      long t = System.nanoTime();
      VoiceState v = engine.voiceFromAudio(ref);
      System.out.printf(
          Locale.ROOT,
          "voice from 10 s of reference audio: %.0f ms (%d positions)%n",
          ms(System.nanoTime() - t),
          v.positions());
      return v;
    }
    try (Stream<Path> files = Files.list(dir.resolve("voices"))) {
      Path file =
          files
              .filter(p -> p.toString().endsWith(".safetensors"))
              .sorted()
              .findFirst()
              .orElseThrow(
                  () ->
                      new IllegalStateException(
                          "no encoder and no voices/*.safetensors in " + dir));
      long t = System.nanoTime();
      VoiceState v = engine.voiceFromFile(file);
      System.out.printf(
          Locale.ROOT, "voice %s: %.0f ms%n", file.getFileName(), ms(System.nanoTime() - t));
      return v;
    }
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }
}
