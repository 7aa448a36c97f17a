package dev.pockettts.server.engine;

/**
 * Sampling and chunking settings of one synthesis; every field has the reference default
 * (kyutai-labs/pocket-tts as of its 3.x loop).
 *
 * @param temperature variance of the initial flow noise; null for the model's {@code
 *     default_temperature}, else {@link #DEFAULT_TEMPERATURE}; 0 means no noise at all
 * @param lsdSteps Euler steps of the flow head per frame (1)
 * @param eosThreshold raw EOS logit above which the end of speech is detected (-4)
 * @param framesAfterEos frames emitted from the EOS frame on; null for the model's or the reference
 *     rule (5 for chunks of four words or fewer, else 3)
 * @param maxTokensPerChunk token limit of a chunk; null for the model's (50)
 * @param maxCharsPerChunk character limit of a chunk (218, the seed server's)
 * @param seed noise seed for reproducible output; null for a random one
 * @param firstBlockFrames latents in the first decoder call of a chunk (small: first audio soon)
 * @param maxBlockFrames most latents per later decoder call (at most 46, CONTRACT.md 2.1)
 * @param minFramesBeforeEos an EOS logit over the threshold counts only from this frame of a chunk
 *     on (upstream's {@code _MIN_FRAMES_BEFORE_EOS}, 6)
 * @param fadeIn whether the first 5 ms of each chunk fade in linearly from 0 (upstream #332/#335)
 */
public record GenerationParams(
    Float temperature,
    int lsdSteps,
    float eosThreshold,
    Integer framesAfterEos,
    Integer maxTokensPerChunk,
    int maxCharsPerChunk,
    Long seed,
    int firstBlockFrames,
    int maxBlockFrames,
    int minFramesBeforeEos,
    boolean fadeIn) {

  public static final int MAX_DECODER_BLOCK = 46;

  /** Upstream's {@code default_temperature} of every model config (kyutai-labs/pocket-tts #223). */
  public static final float DEFAULT_TEMPERATURE = 0.3f;

  /** Upstream's {@code _MIN_FRAMES_BEFORE_EOS} (kyutai-labs/pocket-tts #319). */
  public static final int DEFAULT_MIN_FRAMES_BEFORE_EOS = 6;

  public GenerationParams {
    if (temperature != null && (!(temperature >= 0) || Float.isInfinite(temperature))) {
      throw new IllegalArgumentException("temperature must be a number >= 0");
    }
    if (lsdSteps < 1 || lsdSteps > 64) {
      throw new IllegalArgumentException("lsdSteps must be between 1 and 64");
    }
    if (Float.isNaN(eosThreshold)) {
      throw new IllegalArgumentException("eosThreshold must be a number");
    }
    if (framesAfterEos != null && framesAfterEos < 1) {
      throw new IllegalArgumentException("framesAfterEos must be at least 1");
    }
    if (maxTokensPerChunk != null && maxTokensPerChunk < 1) {
      throw new IllegalArgumentException("maxTokensPerChunk must be at least 1");
    }
    if (maxCharsPerChunk < 1) {
      throw new IllegalArgumentException("maxCharsPerChunk must be at least 1");
    }
    if (firstBlockFrames < 1
        || maxBlockFrames < 1
        || firstBlockFrames > MAX_DECODER_BLOCK
        || maxBlockFrames > MAX_DECODER_BLOCK) {
      throw new IllegalArgumentException(
          "decoder blocks must be between 1 and " + MAX_DECODER_BLOCK);
    }
    if (minFramesBeforeEos < 0) {
      throw new IllegalArgumentException("minFramesBeforeEos must be at least 0");
    }
  }

  public static GenerationParams defaults() {
    return new GenerationParams(
        null, 1, -4f, null, null, 218, null, 2, 12, DEFAULT_MIN_FRAMES_BEFORE_EOS, true);
  }

  /** The temperature to sample at with a model whose bundle says {@code modelDefault} (or null). */
  public float temperatureFor(Float modelDefault) {
    if (temperature != null) {
      return temperature;
    }
    return modelDefault != null ? modelDefault : DEFAULT_TEMPERATURE;
  }

  public GenerationParams withTemperature(Float t) {
    return with(b -> b.temperature = t);
  }

  public GenerationParams withTemperature(double t) {
    return withTemperature(Float.valueOf((float) t));
  }

  public GenerationParams withSeed(Long s) {
    return with(b -> b.seed = s);
  }

  public GenerationParams withLsdSteps(int steps) {
    return with(b -> b.lsdSteps = steps);
  }

  public GenerationParams withEosThreshold(float threshold) {
    return with(b -> b.eosThreshold = threshold);
  }

  public GenerationParams withFramesAfterEos(Integer frames) {
    return with(b -> b.framesAfterEos = frames);
  }

  public GenerationParams withChunkLimits(Integer maxTokens, int maxChars) {
    return with(
        b -> {
          b.maxTokensPerChunk = maxTokens;
          b.maxCharsPerChunk = maxChars;
        });
  }

  public GenerationParams withDecoderBlocks(int first, int max) {
    return with(
        b -> {
          b.firstBlockFrames = first;
          b.maxBlockFrames = max;
        });
  }

  public GenerationParams withMinFramesBeforeEos(int frames) {
    return with(b -> b.minFramesBeforeEos = frames);
  }

  public GenerationParams withFadeIn(boolean on) {
    return with(b -> b.fadeIn = on);
  }

  /** A copy with {@code change} applied (and checked again). */
  private GenerationParams with(java.util.function.Consumer<Copy> change) {
    Copy c = new Copy(this);
    change.accept(c);
    return c.build();
  }

  /** The fields of a copy while it is changed. */
  private static final class Copy {
    Float temperature;
    int lsdSteps;
    float eosThreshold;
    Integer framesAfterEos;
    Integer maxTokensPerChunk;
    int maxCharsPerChunk;
    Long seed;
    int firstBlockFrames;
    int maxBlockFrames;
    int minFramesBeforeEos;
    boolean fadeIn;

    Copy(GenerationParams p) {
      temperature = p.temperature;
      lsdSteps = p.lsdSteps;
      eosThreshold = p.eosThreshold;
      framesAfterEos = p.framesAfterEos;
      maxTokensPerChunk = p.maxTokensPerChunk;
      maxCharsPerChunk = p.maxCharsPerChunk;
      seed = p.seed;
      firstBlockFrames = p.firstBlockFrames;
      maxBlockFrames = p.maxBlockFrames;
      minFramesBeforeEos = p.minFramesBeforeEos;
      fadeIn = p.fadeIn;
    }

    GenerationParams build() {
      return new GenerationParams(
          temperature,
          lsdSteps,
          eosThreshold,
          framesAfterEos,
          maxTokensPerChunk,
          maxCharsPerChunk,
          seed,
          firstBlockFrames,
          maxBlockFrames,
          minFramesBeforeEos,
          fadeIn);
    }
  }
}
