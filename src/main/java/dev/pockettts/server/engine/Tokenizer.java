package dev.pockettts.server.engine;

import ai.djl.sentencepiece.SpProcessor;
import ai.djl.sentencepiece.SpTokenizer;
import java.io.IOException;
import java.nio.file.Path;

/** SentencePiece on the model's tokenizer.model; encodes without BOS/EOS as upstream does. */
public final class Tokenizer implements AutoCloseable {

  private final SpTokenizer tokenizer;
  private final SpProcessor processor;

  public Tokenizer(Path model) {
    try {
      this.tokenizer = new SpTokenizer(model);
    } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
      throw new EngineException("cannot load the SentencePiece tokenizer " + model + ": " + e, e);
    }
    this.processor = tokenizer.getProcessor();
  }

  /** Token ids of {@code text}, with no BOS or EOS id added. */
  public int[] encode(String text) {
    return processor.encode(text);
  }

  /** The text of a span of token ids. */
  public String decode(int[] ids) {
    return processor.decode(ids);
  }

  /** The piece of one id, e.g. "▁the". */
  public String piece(int id) {
    return processor.getToken(id);
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
