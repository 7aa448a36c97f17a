package dev.pockettts.server.engine;

/**
 * How the engine loads and runs the graphs.
 *
 * @param precision int8 or fp32 flow LM, flow head and decoder
 * @param generationThreads intra-op threads of the flow LM and flow head sessions
 * @param decoderThreads intra-op threads of the Mimi decoder and text conditioner (the encoder, one
 *     large run per cloned voice, takes both counts together)
 * @param rewriteGraphs run the flow LM and decoder through their load-time rewrites (the same
 *     results, fewer copies); off, the published graphs run as they are
 */
public record EngineOptions(
    Precision precision, int generationThreads, int decoderThreads, boolean rewriteGraphs) {

  public EngineOptions(Precision precision, int generationThreads, int decoderThreads) {
    this(precision, generationThreads, decoderThreads, true);
  }

  public EngineOptions {
    if (precision == null) {
      precision = Precision.INT8;
    }
    if (generationThreads < 1 || decoderThreads < 1) {
      throw new IllegalArgumentException("thread counts must be at least 1");
    }
  }

  public EngineOptions withRewriteGraphs(boolean rewrite) {
    return new EngineOptions(precision, generationThreads, decoderThreads, rewrite);
  }

  public static EngineOptions defaults() {
    return new EngineOptions(Precision.INT8, 1, 1);
  }
}
