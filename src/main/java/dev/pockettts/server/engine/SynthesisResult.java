package dev.pockettts.server.engine;

/**
 * What one synthesis did.
 *
 * @param chunks chunks generated
 * @param frames latents generated (80 ms each)
 * @param samples PCM samples delivered to the sink
 * @param chunksWithoutEos chunks that stopped at the maximum length, not at EOS
 * @param cancelled whether it was stopped early
 * @param firstPcmNanos time from the call to the first PCM block (-1 if none)
 * @param totalNanos wall time of the call
 * @param flowLmNanos time inside flow_lm_main
 * @param flowHeadNanos time inside flow_lm_flow
 * @param decoderNanos time inside mimi_decoder
 */
public record SynthesisResult(
    int chunks,
    int frames,
    long samples,
    int chunksWithoutEos,
    boolean cancelled,
    long firstPcmNanos,
    long totalNanos,
    long flowLmNanos,
    long flowHeadNanos,
    long decoderNanos) {

  /** Seconds of audio per second of wall time. */
  public double realTimeFactor(int sampleRate) {
    return totalNanos == 0 ? 0 : (samples / (double) sampleRate) / (totalNanos / 1e9);
  }
}
