package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
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
    try (OrtSession.RunOptions options = releaseArena();
        OnnxTensor in = Tensors.floats(env, audio, 1, 1, padded);
        OrtSession.Result r = graph.run(Map.of("audio", in), options)) {
      OnnxTensor out = Tensors.first(r, graph.name());
      long[] shape = out.getInfo().getShape();
      if (shape.length != 3 || shape[0] != 1) {
        throw new EngineException(
            "mimi_encoder returned shape " + java.util.Arrays.toString(shape));
      }
      return new Frames(Tensors.readFloats(out), (int) shape[1], (int) shape[2]);
    }
  }

  /**
   * Run options that free the session's arena after the run: a cloning run takes hundreds of MB (10
   * s of audio), and the next one may be hours away.
   */
  private static OrtSession.RunOptions releaseArena() {
    try {
      OrtSession.RunOptions o = new OrtSession.RunOptions();
      o.addRunConfigEntry("memory.enable_memory_arena_shrinkage", "cpu:0");
      return o;
    } catch (OrtException e) {
      throw new EngineException("cannot set ONNX Runtime run options: " + e.getMessage(), e);
    }
  }

  record Frames(float[] data, int count, int dim) {}
}
