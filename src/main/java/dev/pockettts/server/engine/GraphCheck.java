package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Proves on a model folder that the load-time rewrites change no result: the folder is loaded
 * twice, with the published graphs and with the rewritten ones, and both run the same
 * autoregressive loop at temperature 0 from the same voice and text, each feeding back its own
 * latents. The report gives the largest difference seen in the conditioning, the EOS logit and the
 * latents of every step, in the PCM the two decoders make of the same latents, and in the voice
 * conditioning the two encoders make of the same reference audio.
 */
public final class GraphCheck {

  static final String TEXT = "The quick brown fox jumps over the lazy dog, again and again.";

  /** Largest absolute differences (and the largest absolute values, for scale). */
  public record Report(
      Map<String, String> rewritten,
      boolean inPlace,
      int steps,
      int startPosition,
      double conditioningDiff,
      double conditioningMax,
      double eosDiff,
      double latentDiff,
      int samples,
      double pcmDiff,
      double pcmMax,
      double plainStepMillis,
      double rewrittenStepMillis,
      Encoding encoding) {

    public String describe() {
      return String.format(
              java.util.Locale.ROOT,
              "rewritten graphs: %s; caches updated in place: %s%n"
                  + "flow_lm_main: %d autoregressive steps from cache position %d at temperature 0:"
                  + " max |difference| conditioning %.3g (largest |value| %.3g), eos_logit %.3g,"
                  + " latents %.3g%n"
                  + "flow_lm_main step, mean over those steps (one thread, the two graphs taking turns):"
                  + " published %.2f ms, rewritten %.2f ms (%.2fx)%n"
                  + "mimi_decoder: the same %d latents, %d samples: max |difference| %.3g (largest"
                  + " |sample| %.3g)",
              rewritten.isEmpty() ? "none (no rewrite recognised the graphs)" : rewritten,
              inPlace ? "yes" : "no",
              steps,
              startPosition,
              conditioningDiff,
              conditioningMax,
              eosDiff,
              latentDiff,
              plainStepMillis,
              rewrittenStepMillis,
              plainStepMillis > 0 ? rewrittenStepMillis / plainStepMillis : 0,
              steps,
              samples,
              pcmDiff,
              pcmMax)
          + (encoding == null
              ? String.format("%nmimi_encoder: not in the folder (no cloning), not compared")
              : encoding.describe());
    }
  }

  /** The two encoders on the same reference audio: largest difference and each one's time. */
  public record Encoding(
      double seconds,
      int frames,
      double diff,
      double max,
      double plainMillis,
      double rewrittenMillis) {

    String describe() {
      return String.format(
          java.util.Locale.ROOT,
          "%nmimi_encoder: %.0f s of audio, %d frames: max |difference| %.3g (largest |value|"
              + " %.3g); published %.0f ms, rewritten %.0f ms (%.2fx; both pools' threads, after"
              + " a warm-up run each)",
          seconds,
          frames,
          diff,
          max,
          plainMillis,
          rewrittenMillis,
          plainMillis > 0 ? rewrittenMillis / plainMillis : 0);
    }
  }

  /** Seconds of reference audio the encoders are compared on. */
  static final int ENCODER_SECONDS = 10;

  private GraphCheck() {}

  /** Runs both versions of the folder's graphs for up to {@code steps} steps. */
  public static Report run(Path dir, Precision precision, int steps) {
    EngineOptions options = new EngineOptions(precision, 1, 1, false);
    try (PocketTtsEngine plain = PocketTtsEngine.load(dir, options);
        PocketTtsEngine fast = PocketTtsEngine.load(dir, options.withRewriteGraphs(true))) {
      return compare(dir, plain, fast, steps);
    }
  }

  private static Report compare(Path dir, PocketTtsEngine a, PocketTtsEngine b, int steps) {
    VoiceState voiceA = voice(dir, a);
    VoiceState voiceB = voice(dir, b);
    GenerationParams params = GenerationParams.defaults();
    TextChunk chunk =
        a.chunk(TEXT, params).stream()
            .filter(c -> !c.isPause())
            .findFirst()
            .orElseThrow(() -> new EngineException("the check text made no chunk"));
    int room = a.flowLm().capacity() - voiceA.positions() - chunk.tokens().length - 1;
    int n = Math.max(0, Math.min(steps, room));
    double dCond = 0;
    double maxCond = 0;
    double dEos = 0;
    double dLatent = 0;
    List<float[]> latents = new ArrayList<>();
    long nanosA = 0;
    long nanosB = 0;
    Random unused = new Random(0); // temperature 0 draws no noise
    try (OnnxTensor embA = a.textConditioner().embed(chunk.tokens());
        OnnxTensor embB = b.textConditioner().embed(chunk.tokens());
        FlowLm.Chunk genA =
            a.flowLm().new Chunk(voiceA, embA, voiceA.positions() + chunk.tokens().length + n);
        FlowLm.Chunk genB =
            b.flowLm().new Chunk(voiceB, embB, voiceB.positions() + chunk.tokens().length + n)) {
      float[] latA = new float[a.flowLm().latentDim()];
      Arrays.fill(latA, Float.NaN);
      float[] latB = latA.clone();
      for (int step = 0; step < n; step++) {
        long t0 = System.nanoTime();
        float eosA = genA.step(latA);
        long t1 = System.nanoTime();
        float eosB = genB.step(latB);
        nanosA += t1 - t0;
        nanosB += System.nanoTime() - t1;
        dEos = Math.max(dEos, Math.abs(eosA - eosB));
        float[] ca = genA.conditioning();
        float[] cb = genB.conditioning();
        dCond = Math.max(dCond, maxDiff(ca, cb));
        maxCond = Math.max(maxCond, maxAbs(ca));
        latA = genA.sample(unused, 0f, params.lsdSteps());
        latB = genB.sample(unused, 0f, params.lsdSteps());
        dLatent = Math.max(dLatent, maxDiff(latA, latB));
        latents.add(latA);
      }
    }
    float[] pcmA = decode(a, latents);
    float[] pcmB = decode(b, latents);
    return new Report(
        b.rewrittenGraphs(),
        b.flowLm().inPlace(),
        n,
        voiceA.positions(),
        dCond,
        maxCond,
        dEos,
        dLatent,
        pcmA.length,
        maxDiff(pcmA, pcmB),
        maxAbs(pcmA),
        n == 0 ? 0 : nanosA / 1e6 / n,
        n == 0 ? 0 : nanosB / 1e6 / n,
        a.encoder() == null || b.encoder() == null ? null : encode(a.encoder(), b.encoder()));
  }

  /** Both encoders on the same speech-like signal (a pitch glide with harmonics and noise). */
  private static Encoding encode(MimiEncoder a, MimiEncoder b) {
    int rate = 24_000;
    float[] pcm = new float[ENCODER_SECONDS * rate];
    Random r = new Random(7);
    double phase = 0;
    for (int i = 0; i < pcm.length; i++) {
      double t = (double) i / rate;
      phase += 2 * Math.PI * (120 + 40 * Math.sin(2 * Math.PI * 0.7 * t)) / rate;
      double voiced = Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.25 * Math.sin(3 * phase);
      pcm[i] =
          (float)
              (0.2 * voiced * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t))
                  + 0.02 * r.nextGaussian());
    }
    float[] warm = Arrays.copyOf(pcm, rate);
    a.encode(warm);
    long t0 = System.nanoTime();
    MimiEncoder.Frames fa = a.encode(pcm);
    long t1 = System.nanoTime();
    b.encode(warm);
    long t2 = System.nanoTime();
    MimiEncoder.Frames fb = b.encode(pcm);
    long t3 = System.nanoTime();
    return new Encoding(
        ENCODER_SECONDS,
        fa.count(),
        maxDiff(fa.data(), fb.data()),
        maxAbs(fa.data()),
        (t1 - t0) / 1e6,
        (t3 - t2) / 1e6);
  }

  /** Decodes in blocks of 12 frames, as the server's longer blocks are. */
  private static float[] decode(PocketTtsEngine engine, List<float[]> latents) {
    int dim = engine.flowLm().latentDim();
    List<float[]> parts = new ArrayList<>();
    try (MimiDecoder.Stream stream = engine.decoder().new Stream()) {
      for (int from = 0; from < latents.size(); from += 12) {
        int count = Math.min(12, latents.size() - from);
        float[] block = new float[count * dim];
        for (int i = 0; i < count; i++) {
          System.arraycopy(latents.get(from + i), 0, block, i * dim, dim);
        }
        parts.add(stream.decode(block, count));
      }
    }
    return MimiDecoder.concat(parts);
  }

  /** The folder's first voice file; else a voice cloned from seeded noise; else no voice. */
  private static VoiceState voice(Path dir, PocketTtsEngine engine) {
    Path voices = dir.resolve("voices");
    if (Files.isDirectory(voices)) {
      try (Stream<Path> files = Files.list(voices)) {
        Path first =
            files
                .filter(p -> p.toString().endsWith(".safetensors"))
                .sorted()
                .findFirst()
                .orElse(null);
        if (first != null) {
          return engine.voiceFromFile(first);
        }
      } catch (IOException e) {
        throw new EngineException("cannot list " + voices + ": " + e.getMessage(), e);
      }
    }
    if (engine.cloningUnavailableReason() == null) {
      Random r = new Random(3);
      float[] pcm = new float[2 * engine.sampleRate()];
      for (int i = 0; i < pcm.length; i++) {
        pcm[i] = (float) (0.1 * r.nextGaussian());
      }
      return engine.voiceFromAudio(pcm);
    }
    return engine.flowLm().emptyState();
  }

  private static double maxDiff(float[] x, float[] y) {
    if (x.length != y.length) {
      return Double.POSITIVE_INFINITY;
    }
    double m = 0;
    for (int i = 0; i < x.length; i++) {
      double d = Math.abs((double) x[i] - y[i]);
      if (Double.isNaN(d)) {
        return Double.NaN;
      }
      m = Math.max(m, d);
    }
    return m;
  }

  private static double maxAbs(float[] x) {
    double m = 0;
    for (float v : x) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }
}
