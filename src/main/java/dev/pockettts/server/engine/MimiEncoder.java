package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.util.Map;

/** The Mimi encoder with the speaker projection: 24 kHz mono PCM to voice conditioning frames. */
final class MimiEncoder {

  private final OrtEnvironment env;
  private final Graph graph;
  private final int samplesPerFrame;

  MimiEncoder(OrtEnvironment env, Graph graph, int samplesPerFrame) {
    this.env = env;
    this.graph = graph;
    this.samplesPerFrame = samplesPerFrame;
    if (graph.input("audio") == null) {
      throw new IncompatibleModelException(
          "mimi_encoder has no input 'audio'; found " + graph.inputs().keySet());
    }
  }

  /** Conditioning frames [frames * dim] for the samples, right-padded to whole frames. */
  Frames encode(float[] pcm) {
    int padded = (pcm.length + samplesPerFrame - 1) / samplesPerFrame * samplesPerFrame;
    float[] audio = java.util.Arrays.copyOf(pcm, padded);
    try (OnnxTensor in = Tensors.floats(env, audio, 1, 1, padded);
        OrtSession.Result r = graph.run(Map.of("audio", in))) {
      OnnxTensor out = Tensors.first(r, graph.name());
      long[] shape = out.getInfo().getShape();
      if (shape.length != 3 || shape[0] != 1) {
        throw new EngineException(
            "mimi_encoder returned shape " + java.util.Arrays.toString(shape));
      }
      return new Frames(Tensors.readFloats(out), (int) shape[1], (int) shape[2]);
    }
  }

  record Frames(float[] data, int count, int dim) {}
}
