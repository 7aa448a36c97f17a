package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The flow LM's KV-cache rewrite on the tiny graphs, which update their caches node for node as the
 * published export does (tools/make_test_models.py {@code kv_cache_update}).
 */
class GraphRewriteTest {

  private static final GenerationParams EXACT = GenerationParams.defaults().withTemperature(0);
  private static final Path BENCH = Path.of("../shared/bench-model/english_2026-04");

  @TempDir Path tmp;

  private Path copy(Path model) throws IOException {
    Path to = tmp.resolve(model.getFileName());
    TinyModels.copy(model, to);
    try (Stream<Path> files = Files.list(to)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        if (p.getFileName().toString().contains(".rewritten-")) {
          Files.delete(p); // made by other tests in the source folder
        }
      }
    }
    return to;
  }

  /** The state inputs of the tiny bundle's decoder. */
  private static final int TINY_DECODER_STATES = 56;

  private static String sha16(Path file) throws Exception {
    return ModelFiles.sha256(file).substring(0, 16);
  }

  private static List<String> rewrites(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files
          .map(p -> p.getFileName().toString())
          .filter(n -> n.contains(".rewritten-"))
          .sorted()
          .toList();
    }
  }

  @Test
  void theExportIsRewrittenOnceAndCachedUnderTheSourceGraphsHash() throws Exception {
    Path dir = copy(TinyModels.BUNDLE);
    Path source = dir.resolve("flow_lm_main_int8.onnx");
    String cached =
        "flow_lm_main_int8.rewritten-"
            + GraphRewrite.Kind.KV_CACHE.tag
            + "-"
            + sha16(source)
            + ".onnx";

    GraphRewrite.Prepared first = GraphRewrite.prepare(source, GraphRewrite.Kind.KV_CACHE);
    assertThat(first.rewritten()).isTrue();
    assertThat(first.file()).isEqualTo(dir.resolve(cached));
    assertThat(first.note())
        .contains(
            "2 caches may be updated in place",
            "2 may be shorter than 512",
            "2 kept as scaled keys and values by head",
            "written to " + cached);
    GraphRewrite.Prepared again = GraphRewrite.prepare(source, GraphRewrite.Kind.KV_CACHE);
    assertThat(again.note()).isEqualTo("cached in " + cached);
    assertThat(rewrites(dir)).containsExactly(cached);
    try (PocketTtsEngine e = PocketTtsEngine.load(dir, EngineOptions.defaults())) {
      // the tiny decoder is rewritten for its states alone: it passes all but four through
      assertThat(e.rewrittenGraphs()).containsOnlyKeys("flow_lm_main", "mimi_decoder");
      assertUnchangedStatesHaveNoOutputs(
          dir.resolve(
              "mimi_decoder_int8.rewritten-"
                  + GraphRewrite.Kind.DECODER.tag
                  + "-"
                  + sha16(dir.resolve("mimi_decoder_int8.onnx"))
                  + ".onnx"),
          TINY_DECODER_STATES - 4);
      // and says so: not the upsampling and attention caches it has none of
      assertThat(e.rewrittenGraphs())
          .containsEntry("mimi_decoder", "states passed through unchanged not carried")
          .containsEntry("flow_lm_main", GraphRewrite.Kind.KV_CACHE.what);
      assertThat(e.flowLm().inPlace()).isTrue();
      assertThat(e.flowLm().resizable()).isTrue();
      // a run's caches hold the positions it reaches, rounded up to a power of two (at least 64)
      assertThat(e.flowLm().specsFor(100).get(0).shape()).containsExactly(2, 1, 128, 2, 4);
      assertThat(e.flowLm().specsFor(10).get(0).shape()).containsExactly(2, 1, 64, 2, 4);
      assertThat(e.flowLm().specsFor(300).get(0).shape()).containsExactly(2, 1, 512, 2, 4);
    }
    try (PocketTtsEngine e = PocketTtsEngine.load(dir, EngineOptions.defaults())) {
      // the same words from the cached files
      assertThat(e.rewrittenGraphs())
          .containsEntry("mimi_decoder", "states passed through unchanged not carried");
    }
  }

  @Test
  void rewrittenGraphsSpeakExactlyAsThePublishedOnes() throws IOException {
    Path dir = copy(TinyModels.BUNDLE);
    String text = "Hello there, how are you today? I am fine, thank you very much.";
    try (PocketTtsEngine plain =
            PocketTtsEngine.load(dir, EngineOptions.defaults().withRewriteGraphs(false));
        PocketTtsEngine fast = PocketTtsEngine.load(dir, EngineOptions.defaults())) {
      assertThat(plain.rewrittenGraphs()).isEmpty();
      assertThat(plain.flowLm().inPlace()).isFalse();
      assertThat(plain.flowLm().resizable()).isFalse();
      assertThat(plain.flowLm().specsFor(100)).isEqualTo(plain.flowLm().states());
      assertThat(fast.flowLm().inPlace()).isTrue();
      for (String voice : List.of("alba", "marius")) {
        Path file = dir.resolve("voices/" + voice + ".safetensors");
        float[] a = speak(plain, text, plain.voiceFromFile(file));
        float[] b = speak(fast, text, fast.voiceFromFile(file));
        assertThat(b).hasSize(a.length).containsExactly(a);
      }
      // a voice made by the graph itself (the prompt run), then spoken in place
      float[] ref = Signal.sine(200, 0.3, 24000 * 2, 24000);
      VoiceState plainVoice = plain.voiceFromAudio(ref);
      VoiceState fastVoice = fast.voiceFromAudio(ref);
      float[] a = speak(plain, text, plainVoice);
      float[] b = speak(fast, text, fastVoice);
      assertThat(b).containsExactly(a);
      // the split caches' prompt keeps the published layout: the same voice file comes out
      assertThat(fast.exportVoice(fastVoice)).isEqualTo(plain.exportVoice(plainVoice));
    }
  }

  @Test
  void anAttentionTheKeySplitDoesNotKnowKeepsTheCachesAndSpeaksTheSame() throws IOException {
    Path dir = copy(TinyModels.BUNDLE);
    Path main = dir.resolve("flow_lm_main_int8.onnx");
    // one more reader of layer 0's used values: no longer the export's attention alone
    GraphEditor g = GraphEditor.parse(java.nio.ByteBuffer.wrap(Files.readAllBytes(main)));
    g.append(
        g.node("ReduceSum", List.of("l0_v_used"), List.of("probe"))
            .addAttribute(GraphEditor.intAttr("keepdims", 0))
            .build());
    g.addOutput(GraphEditor.tensorInfo("probe", GraphEditor.FLOAT));
    Files.write(main, g.build(java.util.Map.of()).toByteArray());

    GraphRewrite.Prepared p = GraphRewrite.prepare(main, GraphRewrite.Kind.KV_CACHE);
    assertThat(p.rewritten()).isTrue();
    assertThat(p.note())
        .contains("2 caches may be updated in place", "keys not kept transposed", "l0_v_used");
    String text = "Hello there, how are you today?";
    try (PocketTtsEngine plain =
            PocketTtsEngine.load(dir, EngineOptions.defaults().withRewriteGraphs(false));
        PocketTtsEngine fast = PocketTtsEngine.load(dir, EngineOptions.defaults())) {
      assertThat(fast.rewrittenGraphs())
          .containsEntry("flow_lm_main", GraphRewrite.KV_UPDATES_ONLY);
      assertThat(fast.flowLm().inPlace()).isTrue();
      Path file = dir.resolve("voices/alba.safetensors");
      float[] a = speak(plain, text, plain.voiceFromFile(file));
      float[] b = speak(fast, text, fast.voiceFromFile(file));
      assertThat(b).isNotEmpty().containsExactly(a);
    }
  }

  @Test
  void aRewriteThatCannotBeWrittenBesideTheModelIsKeptOffTheHeapAndSpeaksTheSame()
      throws IOException {
    Path dir = copy(TinyModels.BUNDLE);
    // where each rewrite would be cached, a directory that is not empty: the move onto it fails
    // (as writing into a read-only folder does; root, which the tests may run as, writes anyway)
    Map<String, GraphRewrite.Kind> graphs =
        Map.of(
            "flow_lm_main_int8.onnx", GraphRewrite.Kind.KV_CACHE,
            "mimi_decoder_int8.onnx", GraphRewrite.Kind.DECODER,
            "mimi_encoder.onnx", GraphRewrite.Kind.ENCODER);
    List<String> blocked = new java.util.ArrayList<>();
    for (var e : graphs.entrySet()) {
      GraphRewrite.Prepared made = GraphRewrite.prepare(dir.resolve(e.getKey()), e.getValue());
      if (made.rewritten()) { // the tiny encoder has nothing to rewrite
        Files.delete(made.file());
        Files.createDirectories(made.file().resolve("taken"));
        blocked.add(e.getKey());
      }
    }
    assertThat(blocked).contains("flow_lm_main_int8.onnx", "mimi_decoder_int8.onnx");
    GraphRewrite.Prepared p =
        GraphRewrite.prepare(dir.resolve("mimi_decoder_int8.onnx"), GraphRewrite.Kind.DECODER);
    assertThat(p.file()).isNull();
    assertThat(p.model().isDirect()).isTrue();
    assertThat(p.note()).contains("kept in memory (cannot write beside the model");
    Tensors.free(p.model());

    String text = "Hello there, how are you today?";
    try (PocketTtsEngine plain =
            PocketTtsEngine.load(dir, EngineOptions.defaults().withRewriteGraphs(false));
        PocketTtsEngine fast = PocketTtsEngine.load(dir, EngineOptions.defaults())) {
      assertThat(fast.rewrittenGraphs()).containsKeys("flow_lm_main", "mimi_decoder");
      assertThat(fast.cloningUnavailableReason()).isNull();
      assertThat(fast.flowLm().inPlace()).isTrue();
      Path file = dir.resolve("voices/alba.safetensors");
      float[] a = speak(plain, text, plain.voiceFromFile(file));
      float[] b = speak(fast, text, fast.voiceFromFile(file));
      assertThat(b).isNotEmpty().containsExactly(a);
    }
    for (String name : blocked) { // nothing was written in their place
      try (var files = Files.list(dir)) {
        assertThat(
                files.filter(
                    f ->
                        f.getFileName()
                            .toString()
                            .startsWith(name.replace(".onnx", ".rewritten-"))))
            .allMatch(Files::isDirectory);
      }
    }
  }

  private static float[] speak(PocketTtsEngine e, String text, VoiceState v) {
    PcmCollector pcm = new PcmCollector();
    e.synthesize(text, v, EXACT, pcm, null);
    return pcm.samples();
  }

  @Test
  void theCheckCommandFindsNoDifferenceOnTheTinyGraphs() throws IOException {
    for (Path model : List.of(TinyModels.BUNDLE, TinyModels.FRENCH)) {
      GraphCheck.Report r = GraphCheck.run(copy(model), Precision.INT8, 150);
      assertThat(r.rewritten()).containsKey("flow_lm_main");
      assertThat(r.inPlace()).isTrue();
      assertThat(r.steps()).isEqualTo(150);
      assertThat(r.conditioningMax()).isPositive();
      assertThat(r.conditioningDiff()).isZero();
      assertThat(r.eosDiff()).isZero();
      assertThat(r.latentDiff()).isZero();
      assertThat(r.samples()).isEqualTo(150 * TinyModels.SAMPLES_PER_FRAME);
      assertThat(r.pcmMax()).isPositive();
      assertThat(r.pcmDiff()).isZero();
      assertThat(r.encoding().frames()).isEqualTo(125);
      assertThat(r.encoding().max()).isPositive();
      assertThat(r.encoding().diff()).isZero();
      assertThat(r.describe()).contains("150 autoregressive steps", "caches updated in place: yes");
    }
  }

  @Test
  void aGraphWithoutThePatternRunsUnmodifiedAndNothingIsWritten() throws IOException {
    Path file =
        new OnnxModels()
            .input("state_0", GraphEditor.FLOAT, 2, 1, 4, 1, 2)
            .output("out_state_0", GraphEditor.FLOAT, 2, 1, 4, 1, 2)
            .node("Identity", new String[] {"state_0"}, new String[] {"out_state_0"})
            .write(tmp.resolve("flow_lm_main_int8.onnx"));
    GraphRewrite.Prepared p = GraphRewrite.prepare(file, GraphRewrite.Kind.KV_CACHE);
    assertThat(p.rewritten()).isFalse();
    assertThat(p.file()).isEqualTo(file);
    assertThat(p.note()).contains("not recognised", "no state output is written by ScatterND");
    assertThat(rewrites(tmp)).isEmpty();
  }

  /** Two chained scatters into a [2,1,4,1,2] cache: first half {@code kv1}, then {@code kv2}. */
  private Path chainedScatters(long kv1, long kv2, boolean readHalfWritten) throws IOException {
    return chainedScatters(kv1, kv2, readHalfWritten, null)
        .write(tmp.resolve("flow_lm_main_int8.onnx"));
  }

  private OnnxModels chainedScatters(long kv1, long kv2, boolean readHalfWritten, Void unused) {
    OnnxModels m =
        new OnnxModels()
            .input("state_0", GraphEditor.FLOAT, 2, 1, 4, 1, 2)
            .output("out_state_0", GraphEditor.FLOAT, 2, 1, 4, 1, 2)
            .longs("first_a", new long[] {kv1}, 1, 1, 1, 1)
            .longs("first_b", new long[] {kv2}, 1, 1, 1, 1)
            .longs("zero", new long[] {0}, 1, 1, 1, 1)
            .longs("time", new long[] {2}, 1, 1, 1, 1)
            .floats("update", new float[] {1, 2}, 1, 1, 1, 1, 2)
            .node(
                "Concat",
                new String[] {"first_a", "zero", "time"},
                new String[] {"idx_a"},
                GraphEditor.intAttr("axis", -1))
            .node(
                "Concat",
                new String[] {"first_b", "zero", "time"},
                new String[] {"idx_b"},
                GraphEditor.intAttr("axis", -1))
            .node("ScatterND", new String[] {"state_0", "idx_a", "update"}, new String[] {"half"})
            .node(
                "ScatterND",
                new String[] {"half", "idx_b", "update"},
                new String[] {"out_state_0"});
    if (readHalfWritten) {
      m.output("probe", GraphEditor.FLOAT, 1)
          .node(
              "ReduceSum",
              new String[] {"half"},
              new String[] {"probe"},
              GraphEditor.intAttr("keepdims", 0));
    }
    return m;
  }

  @Test
  void rewrittenGraphsKeepNoWeightOrConstantThatNothingReads() throws IOException {
    Path dir = copy(TinyModels.BUNDLE);
    try (PocketTtsEngine e = PocketTtsEngine.load(dir, EngineOptions.defaults())) {
      assertThat(e.rewrittenGraphs()).isNotEmpty();
    }
    List<String> files = rewrites(dir);
    assertThat(files).isNotEmpty();
    for (String f : files) {
      GraphEditor g =
          GraphEditor.parse(java.nio.ByteBuffer.wrap(Files.readAllBytes(dir.resolve(f))));
      java.util.Set<String> read = new java.util.HashSet<>();
      g.nodes().forEach(n -> read.addAll(n.getInputList()));
      g.outputs().forEach(o -> read.add(o.getName()));
      // (ONNX Runtime would drop the others with a warning at every start)
      assertThat(g.initializerNames()).as(f).allMatch(read::contains);
    }
  }

  @Test
  void aBuiltModelDropsInitializersNoNodeReads() throws IOException {
    // what a rewrite leaves behind when it replaces the nodes that read a weight
    Path file =
        new OnnxModels()
            .input("x", GraphEditor.FLOAT, 2)
            .output("y", GraphEditor.FLOAT, 2)
            .floats("bias", new float[] {1, 2}, 2)
            .floats("replaced_weight", new float[] {3, 4}, 2)
            .node("Add", new String[] {"x", "bias"}, new String[] {"y"})
            .write(tmp.resolve("prune/g.onnx"));
    GraphEditor g = GraphEditor.parse(java.nio.ByteBuffer.wrap(Files.readAllBytes(file)));
    assertThat(g.initializerNames()).containsExactlyInAnyOrder("bias", "replaced_weight");
    var built = g.build(java.util.Map.of());
    assertThat(built.getGraph().getInitializerList())
        .extracting(dev.pockettts.server.engine.onnx.Tensor::getName)
        .containsExactly("bias");
  }

  @Test
  void cachesAreMadeShorterOnlyWhenNothingDependsOnTheirLength() throws IOException {
    // the scatter alone: the time axis becomes symbolic, the published length is recorded
    Path free = chainedScatters(0, 1, false);
    GraphRewrite.Prepared p = GraphRewrite.prepare(free, GraphRewrite.Kind.KV_CACHE);
    assertThat(p.note()).contains("1 may be shorter than 4");
    GraphEditor g = GraphEditor.parse(java.nio.ByteBuffer.wrap(Files.readAllBytes(p.file())));
    assertThat(g.inputs().get(0).getType().getTensorType().getShape().getDim(2).getDimParam())
        .isEqualTo(KvCacheRewrite.POSITIONS_PARAM);

    // a Shape of the cache of which only the heads and head size are taken is no dependence
    Path heads =
        chainedScatters(0, 1, false, null)
            .output("heads", GraphEditor.INT64, 2)
            .longs("from3", new long[] {3}, 1)
            .longs("to5", new long[] {5}, 1)
            .node("Shape", new String[] {"state_0"}, new String[] {"shape"})
            .node("Slice", new String[] {"shape", "from3", "to5"}, new String[] {"heads"})
            .write(tmp.resolve("heads/flow_lm_main_int8.onnx"));
    assertThat(GraphRewrite.prepare(heads, GraphRewrite.Kind.KV_CACHE).note())
        .contains("1 may be shorter than 4");

    // the length itself read from the shape, or a slice to a constant end: the graph keeps it
    Path length =
        chainedScatters(0, 1, false, null)
            .output("length", GraphEditor.INT64, 1)
            .longs("two", new long[] {2}, 1)
            .node("Shape", new String[] {"state_0"}, new String[] {"shape"})
            .node("Gather", new String[] {"shape", "two"}, new String[] {"length"})
            .write(tmp.resolve("length/flow_lm_main_int8.onnx"));
    Path constantEnd =
        chainedScatters(0, 1, false, null)
            .output("whole", GraphEditor.FLOAT, 1)
            .longs("s0", new long[] {0}, 1)
            .longs("e4", new long[] {4}, 1)
            .longs("ax2", new long[] {2}, 1)
            .node("Slice", new String[] {"state_0", "s0", "e4", "ax2"}, new String[] {"cut"})
            .node(
                "ReduceSum",
                new String[] {"cut"},
                new String[] {"whole"},
                GraphEditor.intAttr("keepdims", 0))
            .write(tmp.resolve("constant-end/flow_lm_main_int8.onnx"));
    for (Path fixed : List.of(length, constantEnd)) {
      GraphRewrite.Prepared r = GraphRewrite.prepare(fixed, GraphRewrite.Kind.KV_CACHE);
      assertThat(r.rewritten()).isTrue();
      assertThat(r.note()).contains("caches may be updated in place").doesNotContain("shorter");
      GraphEditor e = GraphEditor.parse(java.nio.ByteBuffer.wrap(Files.readAllBytes(r.file())));
      assertThat(e.inputs().get(0).getType().getTensorType().getShape().getDim(2).getDimValue())
          .isEqualTo(4);
    }
  }

  @Test
  void scattersThatMayOverlapOrWhoseHalfWrittenCacheIsReadAreLeftAlone() throws IOException {
    GraphRewrite.Prepared same =
        GraphRewrite.prepare(chainedScatters(0, 0, false), GraphRewrite.Kind.KV_CACHE);
    assertThat(same.rewritten()).isFalse();
    assertThat(same.note()).contains("cannot show that the two scatters", "write different parts");

    GraphRewrite.Prepared read =
        GraphRewrite.prepare(chainedScatters(0, 1, true), GraphRewrite.Kind.KV_CACHE);
    assertThat(read.rewritten()).isFalse();
    assertThat(read.note()).contains("reads the values of the half-written cache");

    GraphRewrite.Prepared fine =
        GraphRewrite.prepare(chainedScatters(0, 1, false), GraphRewrite.Kind.KV_CACHE);
    assertThat(fine.rewritten()).isTrue();
    assertThat(fine.note()).contains("1 caches may be updated in place");
  }

  @Test
  void aCachedRewriteThatDoesNotLoadIsDiscardedAndThePublishedGraphRuns() throws Exception {
    Path dir = copy(TinyModels.BUNDLE);
    Path source = dir.resolve("flow_lm_main_int8.onnx");
    Path cached =
        dir.resolve(
            "flow_lm_main_int8.rewritten-"
                + GraphRewrite.Kind.KV_CACHE.tag
                + "-"
                + sha16(source)
                + ".onnx");
    Files.writeString(cached, "not a graph");
    try (PocketTtsEngine e = PocketTtsEngine.load(dir, EngineOptions.defaults())) {
      assertThat(e.rewrittenGraphs()).doesNotContainKey("flow_lm_main");
      assertThat(e.flowLm().inPlace()).isFalse();
      assertThat(speak(e, "Hello there.", e.voiceFromFile(dir.resolve("voices/alba.safetensors"))))
          .isNotEmpty();
    }
    assertThat(cached).doesNotExist();
    try (PocketTtsEngine e = PocketTtsEngine.load(dir, EngineOptions.defaults())) {
      assertThat(e.rewrittenGraphs()).containsKey("flow_lm_main");
    }
    assertThat(cached).exists();
  }

  @Test
  void earlierRewritesOfAGraphThatChangedAreRemoved() throws IOException {
    Path dir = copy(TinyModels.BUNDLE);
    Path stale = dir.resolve("flow_lm_main_int8.rewritten-kv1-0000000000000000.onnx");
    Files.writeString(stale, "an older rewrite");
    Path other = dir.resolve("flow_lm_main.rewritten-kv1-0000000000000000.onnx");
    Files.writeString(other, "another graph's rewrite");
    GraphRewrite.prepare(dir.resolve("flow_lm_main_int8.onnx"), GraphRewrite.Kind.KV_CACHE);
    assertThat(stale).doesNotExist();
    assertThat(other).exists();
  }

  /** A copy of one bench-model graph; the test is skipped with a message without bench-model. */
  private Path benchCopy(String file) throws IOException {
    assumeThat(Files.isDirectory(BENCH))
        .as("../shared/bench-model is not here (a user's clone): skipping the real-export check")
        .isTrue();
    return Files.copy(BENCH.resolve(file), tmp.resolve(file));
  }

  @Test
  void thePublishedExportIsRecognised() throws IOException {
    Path main = benchCopy("flow_lm_main_int8.onnx");
    GraphRewrite.Prepared kv = GraphRewrite.prepare(main, GraphRewrite.Kind.KV_CACHE);
    assertThat(kv.rewritten()).isTrue();
    assertThat(kv.note())
        .contains("6 caches may be updated in place", "6 kept as scaled keys and values by head");
    Path decoder = benchCopy("mimi_decoder_int8.onnx");
    GraphRewrite.Prepared up = GraphRewrite.prepare(decoder, GraphRewrite.Kind.DECODER);
    assertThat(up.rewritten()).isTrue();
    assertThat(up.note())
        .startsWith("4 layers")
        .contains(
            "2 attention caches may be shorter than 1000 (context 250)",
            "39 states passed through unchanged");
  }

  @Test
  void thePublishedDecoderGivesTheSameAudioWithShortRingCaches() throws Exception {
    Path source = benchCopy("mimi_decoder_int8.onnx");
    List<StateSpec> manifest = BundleConfig.read(BENCH.resolve("bundle.json")).mimiStates();
    GraphRewrite.Prepared p = GraphRewrite.prepare(source, GraphRewrite.Kind.DECODER);
    assertThat(p.rewritten()).isTrue();
    assertUnchangedStatesHaveNoOutputs(p.file(), 39);
    // 90 latents are 1440 positions at 200 Hz: both rings wrap around
    int count = 90;
    float[] latents = new float[count * 32];
    java.util.Random r = new java.util.Random(9);
    for (int i = 0; i < latents.length; i++) {
      latents[i] = (float) r.nextGaussian();
    }
    ai.onnxruntime.OrtEnvironment env = ai.onnxruntime.OrtEnvironment.getEnvironment();
    try (ai.onnxruntime.OrtSession.SessionOptions o =
            new ai.onnxruntime.OrtSession.SessionOptions();
        Graph plainGraph = Graph.open(env, "mimi_decoder", source, o);
        Graph shortGraph = Graph.open(env, "mimi_decoder", p.file(), o);
        MimiDecoder plain = new MimiDecoder(env, plainGraph, manifest, 32);
        MimiDecoder shortened = new MimiDecoder(env, shortGraph, manifest, 32)) {
      assertThat(plain.ringCapacity()).isEqualTo(1000);
      // the context less one (249) plus 12 latents of 16 keys (192), rounded up to 16
      assertThat(shortened.ringCapacity()).isEqualTo(448);
      // blocks as the engine makes them, and one of 20 that the short rings take as 12 and 8 (the
      // same blocks for both: the int8 graph quantizes each run's input as a whole, so other
      // blocks give other rounding, up to 3e-4 here)
      float[] expected = decode(plain, latents, new int[] {2, 2, 4, 8, 12, 12, 8, 12});
      float[] actual = decode(shortened, latents, new int[] {2, 2, 4, 8, 12, 20, 12});
      assertThat(actual).hasSameSizeAs(expected).hasSize(count * 1920);
      double max = 0;
      for (int i = 0; i < expected.length; i++) {
        max = Math.max(max, Math.abs(expected[i] - actual[i]));
      }
      assertThat(max).isLessThan(1e-4);
    }
  }

  /**
   * The states a rewritten decoder passes through unchanged (every run is fed their initial value)
   * have no outputs any more, and no node copies them: ONNX Runtime runs every node of a graph,
   * asked for or not, and the published decoder's two 4.1 MB encoder attention caches were copied
   * by an {@code Identity} at every run.
   */
  static void assertUnchangedStatesHaveNoOutputs(Path rewritten, int count) throws IOException {
    GraphEditor g = OnnxModels.parse(rewritten);
    String listed =
        g.model().getMetadataPropsList().stream()
            .filter(e -> e.getKey().equals(RingCacheRewrite.UNCHANGED))
            .findFirst()
            .orElseThrow()
            .getValue();
    List<String> unchanged = List.of(listed.split(","));
    assertThat(unchanged).hasSize(count);
    for (String state : unchanged) {
      assertThat(g.isGraphInput(state)).as(state).isTrue();
      assertThat(g.isGraphOutput("out_" + state)).as("out_" + state).isFalse();
      assertThat(g.consumers(state)).as("readers of " + state).isEmpty();
    }
  }

  /** Decodes in blocks of the given sizes, the last size repeated. */
  private static float[] decode(MimiDecoder d, float[] latents, int[] blocks) {
    int count = latents.length / 32;
    float[] out = new float[count * 1920];
    try (MimiDecoder.Stream s = d.new Stream()) {
      int from = 0;
      for (int b = 0; from < count; b++) {
        int n = Math.min(blocks[Math.min(b, blocks.length - 1)], count - from);
        float[] pcm =
            s.decode(java.util.Arrays.copyOfRange(latents, from * 32, (from + n) * 32), n);
        System.arraycopy(pcm, 0, out, from * 1920, pcm.length);
        from += n;
      }
    }
    return out;
  }

  @Test
  void thePublishedEncoderGivesTheSameVoiceFramesRewritten() throws Exception {
    Path source = benchCopy("mimi_encoder.onnx");
    GraphRewrite.Prepared p = GraphRewrite.prepare(source, GraphRewrite.Kind.ENCODER);
    assertThat(p.rewritten()).isTrue();
    assertThat(p.note()).startsWith("2 attention layers");
    // 4 s is 800 positions at 200 Hz: four blocks of the context of 250, the last one partial
    float[] pcm = new float[4 * 24_000 + 123];
    java.util.Random r = new java.util.Random(3);
    for (int i = 0; i < pcm.length; i++) {
      pcm[i] = (float) (0.3 * Math.sin(i * 0.031) + 0.05 * r.nextGaussian());
    }
    ai.onnxruntime.OrtEnvironment env = ai.onnxruntime.OrtEnvironment.getEnvironment();
    try (ai.onnxruntime.OrtSession.SessionOptions o =
            new ai.onnxruntime.OrtSession.SessionOptions();
        Graph plain = Graph.open(env, "mimi_encoder", source, o);
        Graph banded = Graph.open(env, "mimi_encoder", p.file(), o)) {
      MimiEncoder.Frames a = new MimiEncoder(env, plain, 1920).encode(pcm);
      MimiEncoder.Frames b = new MimiEncoder(env, banded, 1920).encode(pcm);
      assertThat(b.count()).isEqualTo(a.count()).isEqualTo(51);
      for (int i = 0; i < a.data().length; i++) {
        assertThat((double) b.data()[i]).isCloseTo(a.data()[i], within(1e-5));
      }
    }
  }
}
