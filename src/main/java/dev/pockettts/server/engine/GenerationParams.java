package dev.pockettts.server.engine;

/**
 * Sampling and chunking settings of one synthesis; every field has the reference default.
 *
 * @param temperature variance of the initial flow noise (0.7); 0 means no noise at all
 * @param lsdSteps Euler steps of the flow head per frame (1)
 * @param eosThreshold raw EOS logit above which the end of speech is detected (-4)
 * @param framesAfterEos frames emitted from the EOS frame on; null for the model's or the reference
 *     rule (5 for chunks of four words or fewer, else 3)
 * @param maxTokensPerChunk token limit of a chunk; null for the model's (50)
 * @param maxCharsPerChunk character limit of a chunk (218, the seed server's)
 * @param seed noise seed for reproducible output; null for a random one
 * @param firstBlockFrames latents in the first decoder call of a chunk (small: first audio soon)
 * @param maxBlockFrames most latents per later decoder call (at most 46, CONTRACT.md 2.1)
 */
public record GenerationParams(
    float temperature,
    int lsdSteps,
    float eosThreshold,
    Integer framesAfterEos,
    Integer maxTokensPerChunk,
    int maxCharsPerChunk,
    Long seed,
    int firstBlockFrames,
    int maxBlockFrames) {

  public static final int MAX_DECODER_BLOCK = 46;

  public GenerationParams {
    if (!(temperature >= 0) || Float.isInfinite(temperature)) {
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
  }

  public static GenerationParams defaults() {
    return new GenerationParams(0.7f, 1, -4f, null, null, 218, null, 2, 12);
  }

  public GenerationParams withTemperature(float t) {
    return new GenerationParams(
        t,
        lsdSteps,
        eosThreshold,
        framesAfterEos,
        maxTokensPerChunk,
        maxCharsPerChunk,
        seed,
        firstBlockFrames,
        maxBlockFrames);
  }

  public GenerationParams withSeed(Long s) {
    return new GenerationParams(
        temperature,
        lsdSteps,
        eosThreshold,
        framesAfterEos,
        maxTokensPerChunk,
        maxCharsPerChunk,
        s,
        firstBlockFrames,
        maxBlockFrames);
  }

  public GenerationParams withLsdSteps(int steps) {
    return new GenerationParams(
        temperature,
        steps,
        eosThreshold,
        framesAfterEos,
        maxTokensPerChunk,
        maxCharsPerChunk,
        seed,
        firstBlockFrames,
        maxBlockFrames);
  }

  public GenerationParams withEosThreshold(float threshold) {
    return new GenerationParams(
        temperature,
        lsdSteps,
        threshold,
        framesAfterEos,
        maxTokensPerChunk,
        maxCharsPerChunk,
        seed,
        firstBlockFrames,
        maxBlockFrames);
  }

  public GenerationParams withFramesAfterEos(Integer frames) {
    return new GenerationParams(
        temperature,
        lsdSteps,
        eosThreshold,
        frames,
        maxTokensPerChunk,
        maxCharsPerChunk,
        seed,
        firstBlockFrames,
        maxBlockFrames);
  }

  public GenerationParams withChunkLimits(Integer maxTokens, int maxChars) {
    return new GenerationParams(
        temperature,
        lsdSteps,
        eosThreshold,
        framesAfterEos,
        maxTokens,
        maxChars,
        seed,
        firstBlockFrames,
        maxBlockFrames);
  }

  public GenerationParams withDecoderBlocks(int first, int max) {
    return new GenerationParams(
        temperature,
        lsdSteps,
        eosThreshold,
        framesAfterEos,
        maxTokensPerChunk,
        maxCharsPerChunk,
        seed,
        first,
        max);
  }
}
