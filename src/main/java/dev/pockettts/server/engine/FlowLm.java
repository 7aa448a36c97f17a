package dev.pockettts.server.engine;

import ai.onnxruntime.NodeInfo;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The flow LM backbone ({@code flow_lm_main}, with its KV cache) and the flow head ({@code
 * flow_lm_flow}) of the KevinAHM export (CONTRACT.md 2.1).
 */
final class FlowLm implements AutoCloseable {

  static final String SEQUENCE = "sequence";
  static final String TEXT_EMBEDDINGS = "text_embeddings";
  static final String CONDITIONING = "conditioning";
  static final String EOS_LOGIT = "eos_logit";
  private static final Pattern STATE = Pattern.compile("state_(\\d+)");
  private static final Pattern LAYER = Pattern.compile("layers\\.(\\d+)\\.");

  private final OrtEnvironment env;
  private final Graph main;
  private final Graph head;
  private final List<StateSpec> states;
  private final int latentDim;
  private final int conditioningDim;
  private final int capacity;
  private final OnnxTensor emptySequence;
  private final OnnxTensor emptyText;
  private final BufferPool pool;
  private final boolean inPlace;
  private final boolean resizable;
  private final Map<String, SplitCacheRewrite.Split> split;
  private final Map<String, Float> keyScales;
  private final Map<Integer, List<StateSpec>> sized =
      new java.util.concurrent.ConcurrentHashMap<>();

  FlowLm(OrtEnvironment env, Graph main, Graph head, List<StateSpec> manifest) {
    this.env = env;
    this.main = main;
    this.head = head;
    TensorInfo seq = require(main, SEQUENCE, OnnxJavaType.FLOAT, 3);
    TensorInfo text = require(main, TEXT_EMBEDDINGS, OnnxJavaType.FLOAT, 3);
    this.latentDim = (int) seq.getShape()[2];
    this.conditioningDim = (int) text.getShape()[2];
    if (latentDim <= 0 || conditioningDim <= 0) {
      throw new IncompatibleModelException(
          "flow_lm_main: sequence and text_embeddings need a fixed last dimension, found "
              + Arrays.toString(seq.getShape())
              + " and "
              + Arrays.toString(text.getShape()));
    }
    this.states = manifest != null ? checkManifest(main, manifest) : deriveLayout(main);
    this.capacity = (int) states.get(0).shape()[2];
    for (String out : List.of(CONDITIONING, EOS_LOGIT)) {
      if (!main.outputs().containsKey(out)) {
        throw new IncompatibleModelException("flow_lm_main has no output '" + out + "'");
      }
    }
    for (String in : List.of("c", "s", "t", "x")) {
      if (head.input(in) == null) {
        throw new IncompatibleModelException(
            "flow_lm_flow has no input '"
                + in
                + "' (expected c, s, t, x); found "
                + head.inputs().keySet());
      }
    }
    if (!head.outputs().containsKey("flow_dir")) {
      throw new IncompatibleModelException("flow_lm_flow has no output 'flow_dir'");
    }
    this.emptySequence = Tensors.floats(env, new float[0], 1, 0, latentDim);
    this.emptyText = Tensors.floats(env, new float[0], 1, 0, conditioningDim);
    this.split = splitCaches(main);
    checkSplit(main, states, split);
    this.inPlace = inPlaceCaches(main, states);
    Set<String> shorter = resizableCaches(main);
    this.resizable =
        states.stream()
            .filter(st -> st.key().equals("cache"))
            .allMatch(st -> shorter.contains(st.inputName()));
    // one stream holds one set of caches bound in place, or a set to read and a set to write
    this.pool =
        new BufferPool(
            states.stream().filter(st -> st.key().equals("cache")).mapToLong(StateSpec::bytes).sum()
                * (inPlace ? 1 : 2));
    this.keyScales = split.isEmpty() ? Map.of() : probeKeyScales();
  }

  /** Key blocks ({@link SplitCacheRewrite#BLOCK} positions each) that hold {@code positions}. */
  private static long blocks(long positions) {
    return (positions + SplitCacheRewrite.BLOCK - 1) / SplitCacheRewrite.BLOCK;
  }

  /** The caches a rewrite ({@link SplitCacheRewrite}) split into scaled keys and values. */
  static Map<String, SplitCacheRewrite.Split> splitCaches(Graph g) {
    String listed = g.metadata(SplitCacheRewrite.SPLIT);
    if (listed == null || listed.isBlank()) {
      return Map.of();
    }
    Map<String, SplitCacheRewrite.Split> out = new java.util.LinkedHashMap<>();
    for (String entry : listed.split(";")) {
      SplitCacheRewrite.Split s = SplitCacheRewrite.Split.parse(entry);
      out.put(s.cache(), s);
    }
    return out;
  }

  /** Every cache split, or none; the split states and outputs present. */
  private static void checkSplit(
      Graph main, List<StateSpec> states, Map<String, SplitCacheRewrite.Split> split) {
    if (split.isEmpty()) {
      return;
    }
    for (StateSpec s : states) {
      if (s.key().equals("cache") != split.containsKey(s.inputName())) {
        throw new IncompatibleModelException(
            "flow_lm_main splits some caches but not " + s + " (a partly rewritten graph)");
      }
    }
    for (SplitCacheRewrite.Split s : split.values()) {
      for (String in : List.of(s.keys(), s.values())) {
        if (main.input(in) == null) {
          throw new IncompatibleModelException("flow_lm_main has no input " + in);
        }
      }
      for (String out : List.of(s.keysOut(), s.valuesOut(), s.written(), s.scale())) {
        if (!main.outputs().containsKey(out)) {
          throw new IncompatibleModelException("flow_lm_main has no output " + out);
        }
      }
    }
  }

  /**
   * The factor each split cache's keys are kept multiplied by, as the graph computes it: read from
   * one run on empty caches, so a voice's published keys are brought into the split layout with the
   * very float the graph multiplies its new keys by.
   */
  private Map<String, Float> probeKeyScales() {
    List<StateSpec> specs = specsFor(1);
    VoiceState.Materialized empty = materialize(emptyState(), specs, Map.of());
    Map<String, OnnxTensor> pinned = new HashMap<>();
    Set<String> requested = new LinkedHashSet<>();
    for (SplitCacheRewrite.Split s : split.values()) {
      pinned.put(s.keysOut(), empty.tensors().get(s.keys()));
      pinned.put(s.valuesOut(), empty.tensors().get(s.values()));
      requested.add(s.scale());
    }
    try (OnnxTensor seq = Tensors.floats(env, new float[latentDim], 1, 1, latentDim)) {
      Map<String, OnnxTensor> inputs = new HashMap<>(empty.tensors());
      inputs.put(SEQUENCE, seq);
      inputs.put(TEXT_EMBEDDINGS, emptyText);
      Map<String, Float> out = new HashMap<>();
      try (OrtSession.Result r = main.run(inputs, requested, pinned)) {
        for (SplitCacheRewrite.Split s : split.values()) {
          OnnxTensor t = Tensors.output(r, s.scale(), main.name());
          java.nio.FloatBuffer f = t.getFloatBuffer();
          if (f.remaining() != 1) {
            throw new IncompatibleModelException(
                "flow_lm_main scales the keys of "
                    + s.cache()
                    + " by "
                    + f.remaining()
                    + " values");
          }
          out.put(s.cache(), f.get(0));
        }
      }
      return Map.copyOf(out);
    } finally {
      empty.release(pool);
    }
  }

  /**
   * {@code voice} at full size for {@code specs}: split caches (see {@link SplitCacheRewrite}) as
   * three tensors over one pooled buffer, the cache input (read for shapes only) and views of its
   * two halves holding the scaled, transposed keys and the values by head.
   */
  private VoiceState.Materialized materialize(
      VoiceState voice, List<StateSpec> specs, Map<String, Float> scales) {
    if (split.isEmpty()) {
      return voice.materialize(env, specs, pool);
    }
    List<StateSpec> plain = specs.stream().filter(s -> !split.containsKey(s.inputName())).toList();
    VoiceState.Materialized base = voice.materialize(env, plain, pool);
    Map<String, OnnxTensor> tensors = new HashMap<>(base.tensors());
    List<ByteBuffer> buffers = new ArrayList<>(base.buffers());
    try {
      for (StateSpec s : specs) {
        SplitCacheRewrite.Split sp = split.get(s.inputName());
        if (sp == null) {
          continue;
        }
        VoiceState.Part part = voice.part(s.inputName());
        if (part == null) {
          throw new EngineException("voice state has no tensor for " + s);
        }
        ByteBuffer full = pool.acquire(Math.toIntExact(s.bytes()));
        buffers.add(full);
        long[] shape = s.shape();
        long c = shape[2];
        long h = shape[3];
        long d = shape[4];
        int half = Math.toIntExact(s.bytes() / 2);
        if (part.shape()[2] > 0) {
          splitLayout(part, (int) c, (int) h, (int) d, scales.get(s.inputName()), full);
        }
        ByteBuffer keys = full.slice(0, half).order(java.nio.ByteOrder.nativeOrder());
        ByteBuffer values = full.slice(half, half).order(java.nio.ByteOrder.nativeOrder());
        tensors.put(s.inputName(), Tensors.of(env, full, shape, OnnxJavaType.FLOAT));
        tensors.put(
            sp.keys(),
            Tensors.of(
                env,
                keys,
                new long[] {c / SplitCacheRewrite.BLOCK, h, d, SplitCacheRewrite.BLOCK},
                OnnxJavaType.FLOAT));
        tensors.put(
            sp.values(), Tensors.of(env, values, new long[] {1, h, c, d}, OnnxJavaType.FLOAT));
      }
    } catch (RuntimeException e) {
      new VoiceState.Materialized(tensors, buffers).release(pool);
      throw e;
    }
    return new VoiceState.Materialized(tensors, buffers);
  }

  /**
   * Writes a cache's published compact form ({@code [2, 1, T, H, D]}, keys then values) into the
   * split layout of a buffer of {@code c} positions: keys times {@code scale} in blocks of
   * positions, {@code [c / BLOCK, H, D, BLOCK]}, then values as {@code [H, c, D]}; positions from T
   * on are left as they are (never read).
   */
  private static void splitLayout(
      VoiceState.Part part, int c, int h, int d, float scale, ByteBuffer full) {
    int t = (int) part.shape()[2];
    int inner = h * d;
    java.nio.FloatBuffer src =
        part.data().duplicate().order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
    java.nio.FloatBuffer dst =
        full.duplicate().order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
    float[] in = new float[t * inner];
    int block = (int) SplitCacheRewrite.BLOCK;
    float[] run = new float[block];
    src.get(0, in);
    for (int b = 0; b * block < t; b++) {
      int n = Math.min(block, t - b * block);
      for (int hd = 0; hd < inner; hd++) {
        for (int k = 0; k < n; k++) {
          run[k] = in[(b * block + k) * inner + hd] * scale;
        }
        dst.put((b * inner + hd) * block, run, 0, n);
      }
    }
    src.get(t * inner, in);
    int values = inner * c;
    for (int p = 0; p < t; p++) {
      for (int head = 0; head < h; head++) {
        dst.put(values + (head * c + p) * d, in, p * inner + head * d, d);
      }
    }
  }

  /**
   * True when the graph (rewritten by {@link KvCacheRewrite}) says every cache may be bound as both
   * input and output: then each chunk keeps one set of caches instead of two.
   */
  private static boolean inPlaceCaches(Graph main, List<StateSpec> states) {
    Set<String> safe = main.metadataSet(KvCacheRewrite.IN_PLACE);
    if (safe.isEmpty()) {
      return false;
    }
    return states.stream()
        .filter(s -> s.key().equals("cache"))
        .allMatch(s -> safe.contains(s.inputName()));
  }

  /** Whether chunks update their caches in place. */
  boolean inPlace() {
    return inPlace;
  }

  /** Whether a run's caches are as long as its positions need (rounded up), not the full length. */
  boolean resizable() {
    return resizable;
  }

  /**
   * The state specs for a run that reaches at most {@code positions} cache positions: with a
   * resizable graph the caches hold the next power of two of at least 64 (or the full length, when
   * that is less), so a chunk of a few seconds takes a quarter of the memory and the pool sees few
   * sizes; otherwise the full length.
   */
  List<StateSpec> specsFor(int positions) {
    if (!resizable) {
      return states;
    }
    int length = Math.max(64, Integer.highestOneBit(Math.max(1, positions - 1)) << 1);
    if (length >= capacity) {
      if (split.isEmpty()) {
        return states;
      }
      // split keys are held in whole blocks of positions (1024 for the published 1000)
      length = (int) blocks(capacity) * (int) SplitCacheRewrite.BLOCK;
    }
    return sized.computeIfAbsent(
        length,
        n ->
            states.stream()
                .map(
                    st -> {
                      if (!st.key().equals("cache")) {
                        return st;
                      }
                      long[] shape = st.shape().clone();
                      shape[2] = n;
                      return st.withShape(shape);
                    })
                .toList());
  }

  int latentDim() {
    return latentDim;
  }

  int conditioningDim() {
    return conditioningDim;
  }

  int capacity() {
    return capacity;
  }

  int layers() {
    return (int) states.stream().filter(s -> s.key().equals("cache")).count();
  }

  List<StateSpec> states() {
    return states;
  }

  // ------------------------------------------------------------------ layout (CONTRACT.md 2.6)

  private static TensorInfo require(Graph g, String name, OnnxJavaType type, int rank) {
    TensorInfo t = g.input(name);
    if (t == null) {
      throw new IncompatibleModelException(
          g.name()
              + " has no input '"
              + name
              + "'; found "
              + g.inputs().keySet()
              + ". Only the KevinAHM export (sequence, text_embeddings, state_*) is supported.");
    }
    if (t.type != type || t.getShape().length != rank) {
      throw new IncompatibleModelException(
          g.name()
              + " input '"
              + name
              + "' is "
              + t.type
              + Arrays.toString(t.getShape())
              + ", expected "
              + type
              + " of rank "
              + rank);
    }
    return t;
  }

  /** State inputs of a graph, ordered by their number. */
  static TreeMap<Integer, TensorInfo> stateInputs(Graph g) {
    TreeMap<Integer, TensorInfo> out = new TreeMap<>();
    for (Map.Entry<String, NodeInfo> e : g.inputs().entrySet()) {
      Matcher m = STATE.matcher(e.getKey());
      if (m.matches() && e.getValue().getInfo() instanceof TensorInfo t) {
        out.put(Integer.parseInt(m.group(1)), t);
      }
    }
    return out;
  }

  /** Legacy flat layout: 3 states per layer, modules in the exporter's sorted-name order. */
  private static List<StateSpec> deriveLayout(Graph g) {
    TreeMap<Integer, TensorInfo> in = stateInputs(g);
    for (TensorInfo t : in.values()) {
      if (t.type == OnnxJavaType.FLOAT16) {
        throw new IncompatibleModelException(
            "flow_lm_main has float16 state inputs: this is the lookbe / PocketTTS.cpp export "
                + "(split fp16 K/V caches), not the KevinAHM export this server runs");
      }
    }
    if (in.isEmpty() || in.size() % 3 != 0 || in.lastKey() != in.size() - 1) {
      throw new IncompatibleModelException(
          "flow_lm_main has "
              + in.size()
              + " state inputs "
              + describe(in)
              + "; the KevinAHM export has 3 per layer (cache [2,1,N,H,D] float, current_end [0]"
              + " float, step [1] int64)"
              + (in.size() % 2 == 0
                  ? "; 2 per layer looks like the alfredomariamilano export"
                  : ""));
    }
    int layers = in.size() / 3;
    List<String> modules = new ArrayList<>();
    for (int l = 0; l < layers; l++) {
      modules.add("transformer.layers." + l + ".self_attn");
    }
    modules.sort(null); // the exporter sorts module names as strings
    List<StateSpec> out = new ArrayList<>();
    String[] keys = {"cache", "current_end", "step"};
    for (int i = 0; i < in.size(); i++) {
      TensorInfo t = in.get(i);
      String key = keys[i % 3];
      long[] shape = declaredShape(g, "state_" + i, t);
      boolean ok =
          switch (key) {
            case "cache" ->
                t.type == OnnxJavaType.FLOAT
                    && shape.length == 5
                    && shape[0] == 2
                    && shape[1] == 1
                    && Arrays.stream(shape).allMatch(d -> d > 0);
            case "current_end" ->
                t.type == OnnxJavaType.FLOAT && Arrays.equals(shape, new long[] {0});
            default -> t.type == OnnxJavaType.INT64 && Arrays.equals(shape, new long[] {1});
          };
      if (!ok) {
        throw new IncompatibleModelException(
            "flow_lm_main input state_"
                + i
                + " is "
                + t.type
                + Arrays.toString(shape)
                + " but the KevinAHM layout expects "
                + switch (key) {
                  case "cache" -> "a float cache [2,1,capacity,heads,head_dim] with fixed sizes";
                  case "current_end" -> "float [0]";
                  default -> "int64 [1]";
                }
                + " ("
                + key
                + " of layer "
                + (i / 3)
                + ")"
                + (shape.length == 5 && shape[2] < 0
                    ? "; a symbolic cache length is the alfredomariamilano export"
                    : ""));
      }
      out.add(
          new StateSpec(
              i,
              modules.get(i / 3),
              key,
              StateDtype.fromJavaType(t.type),
              shape,
              "state_" + i,
              "out_state_" + i));
    }
    return List.copyOf(out);
  }

  private static List<StateSpec> checkManifest(Graph g, List<StateSpec> manifest) {
    TreeMap<Integer, TensorInfo> in = stateInputs(g);
    if (in.size() != manifest.size()) {
      throw new IncompatibleModelException(
          "flow_lm_main has "
              + in.size()
              + " state inputs but bundle.json lists "
              + manifest.size());
    }
    checkAgainstGraph(g, manifest);
    boolean hasCache = manifest.stream().anyMatch(s -> s.key().equals("cache"));
    if (!hasCache) {
      throw new IncompatibleModelException(
          "bundle.json flow_lm_state_manifest has no 'cache' entries");
    }
    for (StateSpec s : manifest) {
      if (s.key().equals("cache") && (s.shape().length != 5 || s.dtype() != StateDtype.FLOAT32)) {
        throw new IncompatibleModelException("flow LM cache " + s + " is not float32 [2,1,N,H,D]");
      }
    }
    return manifest;
  }

  /** Every manifest entry must be a graph input of the same dtype and shape. */
  static void checkAgainstGraph(Graph g, List<StateSpec> manifest) {
    Map<String, SplitCacheRewrite.Split> split = splitCaches(g);
    // the decoder's states passed through unchanged: their outputs are gone from a rewritten graph
    Set<String> unchanged = g.metadataSet(RingCacheRewrite.UNCHANGED);
    for (StateSpec s : manifest) {
      TensorInfo t = g.input(s.inputName());
      if (t == null) {
        throw new IncompatibleModelException(
            g.name() + " has no input " + s.inputName() + " listed in bundle.json (" + s + ")");
      }
      if (StateDtype.fromJavaType(t.type) != s.dtype()
          || !Arrays.equals(declaredShape(g, s.inputName(), t), s.shape())) {
        throw new IncompatibleModelException(
            g.name()
                + " input "
                + s.inputName()
                + " is "
                + t.type
                + Arrays.toString(t.getShape())
                + " but bundle.json says "
                + s.dtype().label()
                + Arrays.toString(s.shape()));
      }
      if (!split.containsKey(s.inputName())
          && !unchanged.contains(s.inputName())
          && !g.outputs().containsKey(s.outputName())) {
        throw new IncompatibleModelException(g.name() + " has no output " + s.outputName());
      }
    }
  }

  /**
   * A state input's shape, with the time axis of a cache a rewrite made resizable ({@link
   * KvCacheRewrite#RESIZABLE}, {@link RingCacheRewrite#RINGS}) at the published graph's length.
   */
  static long[] declaredShape(Graph g, String input, TensorInfo t) {
    long[] shape = t.getShape();
    if (shape.length == 5 && shape[2] < 0 && resizableCaches(g).contains(input)) {
      shape = shape.clone();
      shape[2] = Long.parseLong(g.metadata(KvCacheRewrite.CACHE_POSITIONS));
    }
    String capacity = g.metadata(RingCacheRewrite.CAPACITY);
    if (shape.length == 5
        && shape[3] < 0
        && capacity != null
        && g.metadataSet(RingCacheRewrite.RINGS).contains(input)) {
      shape = shape.clone();
      shape[3] = Long.parseLong(capacity);
    }
    return shape;
  }

  private static Set<String> resizableCaches(Graph g) {
    return g.metadata(KvCacheRewrite.CACHE_POSITIONS) == null
        ? Set.of()
        : g.metadataSet(KvCacheRewrite.RESIZABLE);
  }

  private static String describe(TreeMap<Integer, TensorInfo> in) {
    StringBuilder b = new StringBuilder("[");
    in.entrySet().stream()
        .limit(4)
        .forEach(
            e ->
                b.append(b.length() > 1 ? ", " : "")
                    .append("state_")
                    .append(e.getKey())
                    .append(' ')
                    .append(e.getValue().type)
                    .append(Arrays.toString(e.getValue().getShape())));
    return b.append(in.size() > 4 ? ", ...]" : "]").toString();
  }

  // ------------------------------------------------------------------ voice states

  /** Runs the voice prompt ({@code [1,T,D]} conditioning frames) from an empty cache. */
  VoiceState prompt(float[] frames, int count) {
    if (count < 1) {
      throw new EngineException("the voice prompt has no frames");
    }
    if (count >= capacity) {
      throw new EngineException(
          "the voice prompt has " + count + " frames; the model's cache holds " + capacity);
    }
    // the caches start empty: positions at and after the step are never read, so pooled buffers
    // serve as they are (no zero-filled set is kept); their outputs are pinned into pooled buffers
    // too (the same ones when the graph updates in place), so no run allocates a cache
    List<StateSpec> specs = specsFor(count);
    VoiceState.Materialized empty = materialize(emptyState(), specs, keyScales);
    List<ByteBuffer> outBuffers = new ArrayList<>();
    Map<String, OnnxTensor> pinned = new HashMap<>();
    Set<String> requested = new LinkedHashSet<>();
    try (OnnxTensor cond = Tensors.floats(env, frames, 1, count, conditioningDim)) {
      Map<String, OnnxTensor> inputs = new HashMap<>(empty.tensors());
      inputs.put(SEQUENCE, emptySequence);
      inputs.put(TEXT_EMBEDDINGS, cond);
      for (StateSpec s : specs) {
        SplitCacheRewrite.Split sp = split.get(s.inputName());
        if (!s.key().equals("cache")) {
          requested.add(s.outputName());
        } else if (sp != null) {
          pinned.put(sp.keysOut(), inputs.get(sp.keys()));
          pinned.put(sp.valuesOut(), inputs.get(sp.values()));
          requested.add(sp.written());
        } else if (inPlace) {
          pinned.put(s.outputName(), inputs.get(s.inputName()));
        } else {
          pinned.put(s.outputName(), pool.tensor(env, s, outBuffers));
        }
      }
      try (OrtSession.Result r = main.run(inputs, requested, pinned)) {
        return compact(
            specs,
            name ->
                pinned.containsKey(name) ? pinned.get(name) : Tensors.output(r, name, main.name()));
      }
    } finally {
      if (!inPlace) {
        pinned.values().forEach(OnnxTensor::close);
      }
      outBuffers.forEach(pool::release);
      empty.release(pool);
    }
  }

  /** Keeps the written prefix of every cache of a flow_lm_main result. */
  private VoiceState compact(
      List<StateSpec> specs, java.util.function.Function<String, OnnxTensor> outputs) {
    Map<String, VoiceState.Part> parts = new HashMap<>();
    long step = -1;
    for (StateSpec s : specs) {
      if (s.key().equals("step")) {
        long v = outputs.apply(s.outputName()).getLongBuffer().get(0);
        if (step >= 0 && v != step) {
          throw new EngineException(
              "flow_lm_main layers disagree on the step: " + step + " vs " + v);
        }
        step = v;
      }
    }
    if (step <= 0 || step >= capacity) {
      throw new EngineException("flow_lm_main returned step " + step + " after the voice prompt");
    }
    for (StateSpec s : specs) {
      SplitCacheRewrite.Split sp = split.get(s.inputName());
      OnnxTensor t = outputs.apply(sp != null ? sp.written() : s.outputName());
      if (sp != null) {
        parts.put(s.inputName(), written(s, t, (int) step));
      } else if (s.key().equals("cache")) {
        parts.put(s.inputName(), cachePrefix(s, t.getFloatBuffer(), (int) step));
      } else {
        parts.put(s.inputName(), new VoiceState.Part(s.dtype(), s.shape(), copyOf(t), false));
      }
    }
    return new VoiceState((int) step, parts);
  }

  /** The state before any prompt: empty caches at step 0 (for warming up the graphs). */
  VoiceState emptyState() {
    Map<String, VoiceState.Part> parts = new HashMap<>();
    for (StateSpec s : states) {
      if (s.key().equals("cache")) {
        long[] shape = s.shape().clone();
        shape[2] = 0;
        parts.put(s.inputName(), new VoiceState.Part(s.dtype(), shape, Tensors.direct(0), true));
      } else {
        ByteBuffer zeros = Tensors.direct(s.bytes());
        parts.put(s.inputName(), new VoiceState.Part(s.dtype(), s.shape(), zeros, false));
      }
    }
    return new VoiceState(0, parts);
  }

  /** A prompt's keys and values as the split graph returns them ({@code [2, 1, T, H, D]}). */
  private static VoiceState.Part written(StateSpec s, OnnxTensor t, int used) {
    long[] shape = t.getInfo().getShape();
    long[] want = s.shape().clone();
    want[2] = used;
    if (!Arrays.equals(shape, want)) {
      throw new EngineException(
          "flow_lm_main wrote "
              + Arrays.toString(shape)
              + " for "
              + s
              + ", expected "
              + Arrays.toString(want));
    }
    return new VoiceState.Part(StateDtype.FLOAT32, want, copyOf(t), true);
  }

  /** A tensor's data in a direct buffer of its own (a run's outputs go with the run). */
  private static ByteBuffer copyOf(OnnxTensor t) {
    ByteBuffer b = t.getByteBuffer();
    ByteBuffer copy = Tensors.direct(b.remaining());
    copy.put(b).rewind();
    return copy;
  }

  private static VoiceState.Part cachePrefix(StateSpec s, java.nio.FloatBuffer full, int used) {
    long[] shape = s.shape();
    int outer = (int) (shape[0] * shape[1]);
    int cap = (int) shape[2];
    int inner = (int) (shape[3] * shape[4]);
    ByteBuffer out = Tensors.direct(4L * outer * used * inner);
    java.nio.FloatBuffer o = out.asFloatBuffer();
    for (int k = 0; k < outer; k++) {
      java.nio.FloatBuffer src = full.duplicate();
      src.position(k * cap * inner).limit(k * cap * inner + used * inner);
      o.put(src);
    }
    long[] compact = shape.clone();
    compact[2] = used;
    return new VoiceState.Part(StateDtype.FLOAT32, compact, out, true);
  }

  /**
   * A voice state from a KV-state safetensors file (upstream v2/v3 and per-language format): {@code
   * <module>/cache} [2,1,T,H,D] plus {@code <module>/offset} or {@code /current_end}.
   */
  VoiceState fromKvTensors(Map<String, Safetensors.Tensor> tensors, String what) {
    Map<String, Map<String, Safetensors.Tensor>> byModule = new HashMap<>();
    for (Map.Entry<String, Safetensors.Tensor> e : tensors.entrySet()) {
      int slash = e.getKey().lastIndexOf('/');
      if (slash > 0) {
        byModule
            .computeIfAbsent(e.getKey().substring(0, slash), k -> new HashMap<>())
            .put(e.getKey().substring(slash + 1), e.getValue());
      }
    }
    Map<String, VoiceState.Part> parts = new HashMap<>();
    int positions = -1;
    for (StateSpec s : states) {
      Map<String, Safetensors.Tensor> module = findModule(byModule, s.module());
      if (module == null) {
        throw new EngineException(
            what
                + " has no tensors for "
                + s.module()
                + "; voice files are model-specific (this model has "
                + layers()
                + " layers)");
      }
      switch (s.key()) {
        case "cache" -> {
          Safetensors.Tensor c = module.get("cache");
          if (c == null) {
            throw new EngineException(what + " has no " + s.module() + "/cache");
          }
          long[] cs = c.shape();
          long[] ss = s.shape();
          if (cs.length != 5 || cs[0] != 2 || cs[1] != 1 || cs[3] != ss[3] || cs[4] != ss[4]) {
            throw new EngineException(
                what
                    + ": "
                    + s.module()
                    + "/cache is "
                    + Arrays.toString(cs)
                    + ", this model needs [2,1,T,"
                    + ss[3]
                    + ","
                    + ss[4]
                    + "]; voice files are model-specific");
          }
          long counted = tokenCount(module, cs[2]);
          int t = counted < 1 || counted > cs[2] ? -1 : (int) counted;
          if (t < 1 || t > cs[2] || t >= capacity) {
            throw new EngineException(
                what
                    + ": "
                    + s.module()
                    + " holds "
                    + t
                    + " positions, the model's cache holds "
                    + capacity);
          }
          if (positions >= 0 && positions != t) {
            throw new EngineException(what + ": layers hold different lengths");
          }
          positions = t;
          float[] values = c.toFloats();
          int inner = (int) (cs[3] * cs[4]);
          for (int k = 0; k < 2; k++) {
            int from = (int) (k * cs[2] * inner);
            for (int i = from; i < from + t * inner; i++) {
              if (!Float.isFinite(values[i])) {
                throw new EngineException(
                    what
                        + ": "
                        + s.module()
                        + "/cache holds a value that is not a finite number (NaN or infinity)");
              }
            }
          }
          ByteBuffer out = Tensors.direct(4L * 2 * t * inner);
          java.nio.FloatBuffer o = out.asFloatBuffer();
          for (int k = 0; k < 2; k++) {
            o.put(values, (int) (k * cs[2] * inner), t * inner);
          }
          long[] compact = ss.clone();
          compact[2] = t;
          parts.put(s.inputName(), new VoiceState.Part(StateDtype.FLOAT32, compact, out, true));
        }
        case "step" -> {} // filled in below, once the length is known
        default ->
            parts.put(
                s.inputName(),
                new VoiceState.Part(s.dtype(), s.shape(), Tensors.direct(s.bytes()), false));
      }
    }
    for (StateSpec s : states) {
      if (s.key().equals("step")) {
        ByteBuffer b = Tensors.direct(8);
        b.putLong(0, positions);
        parts.put(s.inputName(), new VoiceState.Part(StateDtype.INT64, s.shape(), b, false));
      }
    }
    return new VoiceState(positions, parts);
  }

  private static long tokenCount(Map<String, Safetensors.Tensor> module, long cacheLength) {
    Safetensors.Tensor offset = module.get("offset");
    if (offset == null) {
      offset = module.get("step");
    }
    if (offset != null) {
      return offset.toLongs()[0];
    }
    Safetensors.Tensor end = module.get("current_end");
    return end != null ? end.shape()[0] : cacheLength;
  }

  private static Map<String, Safetensors.Tensor> findModule(
      Map<String, Map<String, Safetensors.Tensor>> byModule, String module) {
    Map<String, Safetensors.Tensor> exact = byModule.get(module);
    if (exact != null) {
      return exact;
    }
    Matcher want = LAYER.matcher(module + ".");
    if (!want.find()) {
      return null;
    }
    for (Map.Entry<String, Map<String, Safetensors.Tensor>> e : byModule.entrySet()) {
      Matcher m = LAYER.matcher(e.getKey() + ".");
      if (m.find() && m.group(1).equals(want.group(1))) {
        return e.getValue();
      }
    }
    return null;
  }

  // ------------------------------------------------------------------ generation

  /**
   * Per-chunk generation: a private copy of the state, advanced one frame at a time. The caches
   * live in two sets of pooled direct buffers that take turns: each run reads one set and writes
   * the other as pinned outputs, so ONNX Runtime allocates no cache memory per step and the
   * resident size stays what the running chunks need.
   */
  final class Chunk implements AutoCloseable {
    private final StateChain chain = new StateChain("flow_lm_main");
    private final Map<String, OnnxTensor> inputs = new HashMap<>();
    private final VoiceState.Materialized start;
    private final List<StateSpec> caches = new ArrayList<>();
    private final List<SplitCacheRewrite.Split> splitCaches = new ArrayList<>();
    // per split cache, views of the keys' first blocks by their count: each run binds the blocks
    // that hold the positions it reaches, so its scores read no block beyond them
    private final Map<String, Map<Long, OnnxTensor>> keyViews = new HashMap<>();
    private int end; // positions written once the next run is done
    private final Set<String> requested = new LinkedHashSet<>();
    private final OnnxTensor[] readSet;
    private final OnnxTensor[] writeSet;
    private final List<ByteBuffer> writeBuffers = new ArrayList<>();
    private final Map<String, OnnxTensor> pinned = new HashMap<>();
    long mainNanos;
    long headNanos;

    /**
     * A chunk from {@code voice} with the text {@code textEmbeddings}, whose runs reach at most
     * {@code positions} cache positions (the voice's, the text's and one per step).
     */
    Chunk(VoiceState voice, OnnxTensor textEmbeddings, int positions) {
      List<StateSpec> specs = specsFor(positions);
      this.start = materialize(voice, specs, keyScales);
      requested.add(CONDITIONING);
      requested.add(EOS_LOGIT);
      for (StateSpec s : specs) {
        SplitCacheRewrite.Split sp = split.get(s.inputName());
        if (sp != null) {
          splitCaches.add(sp); // its keys are bound per run (keyView)
          pinned.put(sp.valuesOut(), start.tensors().get(sp.values()));
        } else if (s.key().equals("cache")) {
          caches.add(s);
        } else {
          requested.add(s.outputName());
        }
      }
      readSet = new OnnxTensor[caches.size()];
      writeSet = new OnnxTensor[caches.size()];
      try {
        for (int i = 0; i < caches.size(); i++) {
          StateSpec s = caches.get(i);
          readSet[i] = start.tensors().get(s.inputName());
          if (inPlace) {
            writeSet[i] = readSet[i]; // the graph's scatter writes the new positions in place
            continue;
          }
          writeSet[i] = pool.tensor(env, s, writeBuffers);
        }
        inputs.putAll(start.tensors());
        inputs.put(SEQUENCE, emptySequence);
        inputs.put(TEXT_EMBEDDINGS, textEmbeddings);
        end = voice.positions() + (int) textEmbeddings.getInfo().getShape()[1];
        run();
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }

    /** One flow_lm_main run on {@link #inputs}: reads the read set, writes the write set. */
    private void run() {
      for (SplitCacheRewrite.Split sp : splitCaches) {
        inputs.put(sp.cache(), start.tensors().get(sp.cache()));
        inputs.put(sp.values(), start.tensors().get(sp.values()));
        OnnxTensor keys = keyView(sp, blocks(end));
        inputs.put(sp.keys(), keys);
        pinned.put(sp.keysOut(), keys);
      }
      for (int i = 0; i < caches.size(); i++) {
        inputs.put(caches.get(i).inputName(), readSet[i]);
        pinned.put(caches.get(i).outputName(), writeSet[i]);
      }
      long t0 = System.nanoTime();
      OrtSession.Result next = main.run(inputs, requested, pinned);
      mainNanos += System.nanoTime() - t0;
      inputs.clear();
      chain.advance(next);
      for (int i = 0; i < caches.size(); i++) {
        OnnxTensor t = readSet[i];
        readSet[i] = writeSet[i];
        writeSet[i] = t;
      }
    }

    /** The first {@code count} blocks of a split cache's keys, over the same memory. */
    private OnnxTensor keyView(SplitCacheRewrite.Split sp, long count) {
      OnnxTensor all = start.tensors().get(sp.keys());
      long[] shape = all.getInfo().getShape();
      if (count >= shape[0]) {
        return all;
      }
      return keyViews
          .computeIfAbsent(sp.cache(), k -> new HashMap<>())
          .computeIfAbsent(
              count,
              n -> {
                java.nio.FloatBuffer keys =
                    (java.nio.FloatBuffer)
                        all.getBufferRef()
                            .orElseThrow(() -> new EngineException("keys tensor has no buffer"));
                long[] part = shape.clone();
                part[0] = n;
                int floats = Math.toIntExact(n * shape[1] * shape[2] * shape[3]);
                try {
                  return OnnxTensor.createTensor(
                      env, keys.duplicate().clear().limit(floats).slice(), part);
                } catch (ai.onnxruntime.OrtException e) {
                  throw new EngineException("cannot view the keys: " + e.getMessage(), e);
                }
              });
    }

    /** Feeds one latent (NaN row = BOS) and returns the EOS logit; conditioning() is then valid. */
    float step(float[] latent) {
      end++;
      try (OnnxTensor seq = Tensors.floats(env, latent, 1, 1, latentDim)) {
        inputs.put(SEQUENCE, seq);
        inputs.put(TEXT_EMBEDDINGS, emptyText);
        for (StateSpec s : states) {
          if (!s.key().equals("cache")) {
            inputs.put(s.inputName(), chain.get(s.outputName()));
          }
        }
        run();
      }
      return chain.get(EOS_LOGIT).getFloatBuffer().get(0);
    }

    /** The conditioning of the latest step, copied. */
    float[] conditioning() {
      return Tensors.readFloats(chain.get(CONDITIONING));
    }

    /** Samples the next latent with {@code steps} Euler steps of the flow head. */
    float[] sample(java.util.Random random, float temperature, int steps) {
      OnnxTensor c = chain.get(CONDITIONING);
      float[] x = new float[latentDim];
      if (temperature > 0) {
        double std = Math.sqrt(temperature);
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) (random.nextGaussian() * std);
        }
      }
      Map<String, OnnxTensor> in = new HashMap<>();
      for (int i = 0; i < steps; i++) {
        float s = (float) i / steps;
        float t = (float) (i + 1) / steps;
        long t0 = System.nanoTime();
        try (OnnxTensor st = Tensors.floats(env, new float[] {s}, 1, 1);
            OnnxTensor tt = Tensors.floats(env, new float[] {t}, 1, 1);
            OnnxTensor xt = Tensors.floats(env, x, 1, latentDim)) {
          in.put("c", c);
          in.put("s", st);
          in.put("t", tt);
          in.put("x", xt);
          try (OrtSession.Result r = head.run(in)) {
            float[] dir = Tensors.readFloats(Tensors.output(r, "flow_dir", head.name()));
            float dt = t - s;
            for (int k = 0; k < latentDim; k++) {
              x[k] += dir[k] * dt;
            }
          }
        }
        headNanos += System.nanoTime() - t0;
      }
      return x;
    }

    @Override
    public void close() {
      chain.close();
      keyViews.values().forEach(views -> views.values().forEach(OnnxTensor::close));
      // the voice's buffers, one of the two sets, go back with start; the other set here
      start.release(pool);
      for (OnnxTensor t : writeSet) {
        if (t != null && !start.tensors().containsValue(t)) {
          t.close();
        }
      }
      for (OnnxTensor t : readSet) {
        if (t != null && !start.tensors().containsValue(t)) {
          t.close();
        }
      }
      writeBuffers.forEach(pool::release);
    }
  }

  @Override
  public void close() {
    emptySequence.close();
    emptyText.close();
  }

  /** Frees the pooled buffers beyond one stream's now (see {@link BufferPool#trimNow}). */
  void trimBuffers() {
    pool.trimNow();
  }
}
