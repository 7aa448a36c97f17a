package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;

/**
 * The latest result of a stateful graph: its {@code out_state_*} tensors are the inputs of the next
 * run, so a result is closed only once the run that read it has returned.
 */
final class StateChain implements AutoCloseable {

  private final String graph;
  private OrtSession.Result current;

  StateChain(String graph) {
    this.graph = graph;
  }

  boolean started() {
    return current != null;
  }

  /** An output tensor of the latest result. */
  OnnxTensor get(String name) {
    return Tensors.output(current, name, graph);
  }

  /** Makes {@code next} the latest result and closes the one before. */
  void advance(OrtSession.Result next) {
    if (current != null) {
      current.close();
    }
    current = next;
  }

  @Override
  public void close() {
    advance(null);
  }
}
