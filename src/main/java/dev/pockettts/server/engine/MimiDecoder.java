package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The streaming Mimi decoder: latents in, 24 kHz PCM out, with its 56-tensor state. */
final class MimiDecoder implements AutoCloseable {

  static final String LATENT = "latent";
  static final String AUDIO = "audio_frame";

  private final OrtEnvironment env;
  private final Graph graph;
  private final List<StateSpec> states;
  private final List<OnnxTensor> zeroState;
  private final int latentDim;

  MimiDecoder(OrtEnvironment env, Graph graph, List<StateSpec> manifest, int latentDim) {
    this.env = env;
    this.graph = graph;
    this.latentDim = latentDim;
    TensorInfo latent = graph.input(LATENT);
    if (latent == null || latent.type != OnnxJavaType.FLOAT || latent.getShape().length != 3) {
      throw new IncompatibleModelException(
          "mimi_decoder has no float input 'latent' [1,seq_len,"
              + latentDim
              + "]; found "
              + graph.inputs().keySet()
              + ". Only the KevinAHM streaming decoder is supported.");
    }
    if (latent.getShape()[2] != latentDim) {
      throw new IncompatibleModelException(
          "mimi_decoder takes latents of size "
              + latent.getShape()[2]
              + " but flow_lm_main makes latents of size "
              + latentDim);
    }
    if (!graph.outputs().containsKey(AUDIO)) {
      throw new IncompatibleModelException("mimi_decoder has no output '" + AUDIO + "'");
    }
    if (manifest != null) {
      if (FlowLm.stateInputs(graph).size() != manifest.size()) {
        throw new IncompatibleModelException(
            "mimi_decoder has "
                + FlowLm.stateInputs(graph).size()
                + " state inputs but bundle.json lists "
                + manifest.size());
      }
      FlowLm.checkAgainstGraph(graph, manifest);
      this.states = manifest;
    } else {
      this.states = derive(graph);
    }
    List<OnnxTensor> zeros = new ArrayList<>();
    for (StateSpec s : states) {
      zeros.add(Tensors.zeros(env, s));
    }
    this.zeroState = List.copyOf(zeros);
  }

  private static List<StateSpec> derive(Graph graph) {
    TreeMap<Integer, TensorInfo> in = FlowLm.stateInputs(graph);
    if (in.isEmpty() || in.lastKey() != in.size() - 1) {
      throw new IncompatibleModelException(
          "mimi_decoder state inputs are not state_0..state_N: " + in.keySet());
    }
    List<StateSpec> out = new ArrayList<>();
    for (Map.Entry<Integer, TensorInfo> e : in.entrySet()) {
      TensorInfo t = e.getValue();
      StateDtype dtype = StateDtype.fromJavaType(t.type);
      if (dtype == null || Arrays.stream(t.getShape()).anyMatch(d -> d < 0)) {
        throw new IncompatibleModelException(
            "mimi_decoder state_"
                + e.getKey()
                + " is "
                + t.type
                + Arrays.toString(t.getShape())
                + "; states must be float32, int64 or bool of fixed shape");
      }
      int i = e.getKey();
      out.add(
          new StateSpec(
              i, "mimi", "state_" + i, dtype, t.getShape(), "state_" + i, "out_state_" + i));
    }
    return List.copyOf(out);
  }

  int stateCount() {
    return states.size();
  }

  /** A decoding stream for one chunk, starting from a fresh state. Not thread-safe. */
  final class Stream implements AutoCloseable {
    private final StateChain chain = new StateChain("mimi_decoder");
    long nanos;

    /** Decodes {@code count} latents (row-major [count, latentDim]) into count * 1920 samples. */
    float[] decode(float[] latents, int count) {
      Map<String, OnnxTensor> in = new HashMap<>();
      try (OnnxTensor lat = Tensors.floats(env, latents, 1, count, latentDim)) {
        in.put(LATENT, lat);
        for (int i = 0; i < states.size(); i++) {
          StateSpec s = states.get(i);
          in.put(s.inputName(), chain.started() ? chain.get(s.outputName()) : zeroState.get(i));
        }
        long t0 = System.nanoTime();
        OrtSession.Result next = graph.run(in);
        nanos += System.nanoTime() - t0;
        chain.advance(next);
        return Tensors.readFloats(chain.get(AUDIO));
      }
    }

    @Override
    public void close() {
      chain.close();
    }
  }

  @Override
  public void close() {
    zeroState.forEach(OnnxTensor::close);
  }
}
