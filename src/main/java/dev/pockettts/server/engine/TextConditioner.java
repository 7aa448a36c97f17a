package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.util.Map;

/** Token ids to text embeddings (one table lookup). */
final class TextConditioner {

  private final OrtEnvironment env;
  private final Graph graph;

  TextConditioner(OrtEnvironment env, Graph graph) {
    this.env = env;
    this.graph = graph;
    TensorInfo t = graph.input("token_ids");
    if (t == null || t.type != OnnxJavaType.INT64) {
      throw new IncompatibleModelException(
          "text_conditioner has no int64 input 'token_ids'; found " + graph.inputs().keySet());
    }
  }

  /** Embeddings [1, N, D] as a new tensor the caller closes. */
  OnnxTensor embed(int[] ids) {
    long[] l = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      l[i] = ids[i];
    }
    try (OnnxTensor in = Tensors.longs(env, l, 1, l.length);
        OrtSession.Result r = graph.run(Map.of("token_ids", in))) {
      OnnxTensor out = Tensors.first(r, graph.name());
      float[] data = Tensors.readFloats(out);
      return Tensors.floats(env, data, out.getInfo().getShape());
    }
  }
}
