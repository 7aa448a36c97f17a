package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** The streaming Mimi decoder: latents in, 24 kHz PCM out, with its 56-tensor state. */
final class MimiDecoder implements AutoCloseable {

  static final String LATENT = "latent";
  static final String AUDIO = "audio_frame";

  private final OrtEnvironment env;
  private final Graph graph;
  private final List<StateSpec> states;
  private final List<OnnxTensor> zeroState;

  /**
   * The attention ring caches (the float states of rank 5, [2, 1, heads, T, head_dim], 4 MB each in
   * the real decoder): written into pooled buffers, see {@link Stream}.
   */
  private final List<StateSpec> large;

  private final BufferPool pool;
  private final int latentDim;

  /**
   * States the graph passes to its outputs unchanged ({@link RingCacheRewrite#UNCHANGED}): every
   * run reads their zero state, and their outputs are not asked for.
   */
  private final Set<String> unchanged;

  /** Most latents one run may take (the ring caches hold what that many need), or 0: any. */
  private final int latentsPerRun;

  /** Positions of the ring caches: the published capacity, or fewer after the rewrite. */
  private final long ringCapacity;

  /**
   * Latents per run the shortened ring caches are sized for: the engine's decoder blocks grow to 12
   * latents ({@link GenerationParams#defaults}); longer blocks are decoded 12 at a time.
   */
  static final int RING_LATENTS = 12;

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
    List<StateSpec> published;
    if (manifest != null) {
      if (FlowLm.stateInputs(graph).size() != manifest.size()) {
        throw new IncompatibleModelException(
            "mimi_decoder has "
                + FlowLm.stateInputs(graph).size()
                + " state inputs but bundle.json lists "
                + manifest.size());
      }
      FlowLm.checkAgainstGraph(graph, manifest);
      published = manifest;
    } else {
      published = derive(graph);
    }
    this.unchanged = graph.metadataSet(RingCacheRewrite.UNCHANGED);
    Set<String> rings = graph.metadataSet(RingCacheRewrite.RINGS);
    long capacity =
        published.stream()
            .filter(st -> rings.isEmpty() || rings.contains(st.inputName()))
            .filter(st -> st.shape().length == 5 && st.dtype() == StateDtype.FLOAT32)
            .filter(st -> !unchanged.contains(st.inputName()))
            .mapToLong(st -> st.shape()[3])
            .findFirst()
            .orElse(0);
    long shortened = rings.isEmpty() ? capacity : shortenedCapacity(graph, published, capacity);
    this.ringCapacity = shortened;
    this.latentsPerRun = shortened < capacity ? RING_LATENTS : 0;
    this.states =
        published.stream()
            .map(
                st -> {
                  if (!rings.contains(st.inputName()) || shortened == capacity) {
                    return st;
                  }
                  long[] shape = st.shape().clone();
                  shape[3] = shortened;
                  return st.withShape(shape);
                })
            .toList();
    List<OnnxTensor> zeros = new ArrayList<>();
    for (StateSpec s : states) {
      zeros.add(Tensors.zeros(env, s));
    }
    this.zeroState = List.copyOf(zeros);
    this.large =
        states.stream()
            .filter(st -> st.shape().length == 5 && st.dtype() == StateDtype.FLOAT32)
            .filter(st -> !unchanged.contains(st.inputName()))
            .toList();
    // one stream holds two sets of the large states (see Stream)
    this.pool = new BufferPool(2 * large.stream().mapToLong(StateSpec::bytes).sum());
  }

  /**
   * The ring capacity that holds what one run of {@link #RING_LATENTS} latents needs: the context
   * less one, plus the keys those latents write. The keys per latent are read from the graph
   * itself, from its counters after one run of one latent (16 in the published decoder: its
   * transformer runs at 200 Hz). The published capacity when that is not smaller.
   */
  private long shortenedCapacity(Graph graph, List<StateSpec> published, long capacity) {
    Set<String> counters = graph.metadataSet(RingCacheRewrite.COUNTERS);
    String context = graph.metadata(RingCacheRewrite.CONTEXT);
    if (counters.isEmpty() || context == null) {
      return capacity;
    }
    Map<String, OnnxTensor> in = new HashMap<>();
    Set<String> wanted = new LinkedHashSet<>();
    try (OnnxTensor lat = Tensors.floats(env, new float[latentDim], 1, 1, latentDim)) {
      in.put(LATENT, lat);
      for (StateSpec st : published) {
        in.put(st.inputName(), Tensors.zeros(env, st));
        if (counters.contains(st.inputName())) {
          wanted.add(st.outputName());
        }
      }
      long keys = 0;
      try (OrtSession.Result r = graph.run(in, wanted, Map.of())) {
        for (String name : wanted) {
          for (long v : Tensors.readLongs(Tensors.output(r, name, "mimi_decoder"))) {
            keys = Math.max(keys, v);
          }
        }
      }
      long needed = Long.parseLong(context) - 1 + keys * RING_LATENTS;
      long rounded = (needed + 15) / 16 * 16;
      return keys > 0 && rounded < capacity ? rounded : capacity;
    } finally {
      in.forEach(
          (name, t) -> {
            if (!name.equals(LATENT)) {
              t.close();
            }
          });
    }
  }

  /** Positions of the attention ring caches (shorter than the published ones when rewritten). */
  long ringCapacity() {
    return ringCapacity;
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
      long[] shape = FlowLm.declaredShape(graph, "state_" + e.getKey(), t);
      if (dtype == null || Arrays.stream(shape).anyMatch(d -> d < 0)) {
        throw new IncompatibleModelException(
            "mimi_decoder state_"
                + e.getKey()
                + " is "
                + t.type
                + Arrays.toString(t.getShape())
                + "; states must be float32, int64 or bool of fixed shape");
      }
      int i = e.getKey();
      out.add(new StateSpec(i, "mimi", "state_" + i, dtype, shape, "state_" + i, "out_state_" + i));
    }
    return List.copyOf(out);
  }

  int stateCount() {
    return states.size();
  }

  /**
   * A decoding stream for one chunk, starting from a fresh state. Not thread-safe. The large states
   * (the attention ring caches) live in two sets of pooled direct buffers that take turns as the
   * pinned outputs of a run and the inputs of the next, so no run allocates them.
   */
  final class Stream implements AutoCloseable {
    private final StateChain chain = new StateChain("mimi_decoder");
    private final Set<String> requested = new LinkedHashSet<>();
    private final OnnxTensor[] even = new OnnxTensor[large.size()];
    private final OnnxTensor[] odd = new OnnxTensor[large.size()];
    private int runs;
    private final List<ByteBuffer> buffers = new ArrayList<>();
    private final Map<String, OnnxTensor> pinned = new HashMap<>();
    long nanos;

    Stream() {
      requested.add(AUDIO);
      for (StateSpec s : states) {
        if (!large.contains(s) && !unchanged.contains(s.inputName())) {
          requested.add(s.outputName());
        }
      }
      try {
        for (int i = 0; i < large.size(); i++) {
          StateSpec s = large.get(i);
          even[i] = pool.tensor(env, s, buffers);
          odd[i] = pool.tensor(env, s, buffers);
        }
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }

    /** Decodes {@code count} latents (row-major [count, latentDim]) into count * 1920 samples. */
    float[] decode(float[] latents, int count) {
      if (latentsPerRun == 0 || count <= latentsPerRun) {
        return run(latents, count);
      }
      // more than the ring caches hold for one run: in runs of latentsPerRun (the same audio, as
      // decoding in blocks equals decoding one latent at a time)
      List<float[]> parts = new ArrayList<>();
      for (int from = 0; from < count; from += latentsPerRun) {
        int n = Math.min(latentsPerRun, count - from);
        parts.add(run(Arrays.copyOfRange(latents, from * latentDim, (from + n) * latentDim), n));
      }
      return concat(parts);
    }

    private float[] run(float[] latents, int count) {
      Map<String, OnnxTensor> in = new HashMap<>();
      try (OnnxTensor lat = Tensors.floats(env, latents, 1, count, latentDim)) {
        in.put(LATENT, lat);
        for (int i = 0; i < states.size(); i++) {
          StateSpec s = states.get(i);
          if (unchanged.contains(s.inputName())) {
            in.put(s.inputName(), zeroState.get(i));
          } else if (!large.contains(s)) {
            in.put(s.inputName(), chain.started() ? chain.get(s.outputName()) : zeroState.get(i));
          }
        }
        // run 0 reads the zero state and writes the even set; then odd, even, ... in turn
        for (int i = 0; i < large.size(); i++) {
          StateSpec s = large.get(i);
          OnnxTensor read =
              runs == 0 ? zeroState.get(states.indexOf(s)) : (runs % 2 == 1 ? even[i] : odd[i]);
          in.put(s.inputName(), read);
          pinned.put(s.outputName(), runs % 2 == 0 ? even[i] : odd[i]);
        }
        long t0 = System.nanoTime();
        OrtSession.Result next = graph.run(in, requested, pinned);
        nanos += System.nanoTime() - t0;
        chain.advance(next);
        runs++;
        return Tensors.readFloats(chain.get(AUDIO));
      }
    }

    @Override
    public void close() {
      chain.close();
      for (OnnxTensor[] set : List.of(even, odd)) {
        for (OnnxTensor t : set) {
          if (t != null) {
            t.close();
          }
        }
      }
      buffers.forEach(pool::release);
    }
  }

  /** The blocks of PCM one after another. */
  static float[] concat(List<float[]> parts) {
    float[] out = new float[parts.stream().mapToInt(p -> p.length).sum()];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }

  @Override
  public void close() {
    zeroState.forEach(OnnxTensor::close);
  }

  /** Frees the pooled buffers beyond one stream's now (see {@link BufferPool#trimNow}). */
  void trimBuffers() {
    pool.trimNow();
  }
}
