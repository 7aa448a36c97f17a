package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PocketTTS on ONNX Runtime: loads a model folder, makes voice states, and turns text into a stream
 * of 24 kHz PCM blocks. Thread-safe: any number of syntheses may run at once, each with its own
 * state tensors.
 */
public final class PocketTtsEngine implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(PocketTtsEngine.class);
  private static final Object CHUNK_START = new Object();
  private static final Object CHUNK_END = new Object();
  private static final Object END = new Object();

  /** A pause between chunks, handed to the decoder thread in order with the audio. */
  private record Pause(int millis) {}

  private static final int HANDOFF_CAPACITY = 64;

  private final Path dir;
  private final BundleConfig config;
  private final ModelFiles files;
  private final OrtEnvironment env;
  private final Tokenizer tokenizer;
  private final List<Graph> graphs = new ArrayList<>();
  private final TextConditioner textConditioner;
  private final FlowLm flowLm;
  private final MimiDecoder decoder;
  private final MimiEncoder encoder;
  private final float[] bosBeforeVoice;
  private final String cloningUnavailable;
  private final ExecutorService decoderThreads;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Map<String, String> rewrites = new java.util.LinkedHashMap<>();

  private PocketTtsEngine(Path dir, EngineOptions options) {
    this.dir = dir;
    try {
      this.config =
          BundleConfig.isBundle(dir)
              ? BundleConfig.read(dir.resolve(BundleConfig.FILE))
              : BundleConfig.legacy(
                  dir.getFileName() == null ? "model" : dir.getFileName().toString());
    } catch (IOException e) {
      throw new EngineException(
          "cannot read " + dir.resolve(BundleConfig.FILE) + ": " + e.getMessage(), e);
    }
    this.files = ModelFiles.locate(dir, options.precision());
    Path tokenizerFile = dir.resolve(config.tokenizerFile());
    if (!Files.isRegularFile(tokenizerFile)) {
      throw new EngineException("model file " + tokenizerFile + " is missing");
    }
    this.env = OrtEnvironment.getEnvironment();
    Tokenizer tok = null;
    try {
      tok = new Tokenizer(tokenizerFile);
      int gen = options.generationThreads();
      int dec = options.decoderThreads();
      Graph text = open("text_conditioner", files.textConditioner(), dec);
      boolean rewrite = options.rewriteGraphs();
      Graph main =
          open(
              "flow_lm_main", files.flowLmMain(), gen, rewrite ? GraphRewrite.Kind.KV_CACHE : null);
      Graph head = open("flow_lm_flow", files.flowLmFlow(), gen);
      Graph mimi =
          open(
              "mimi_decoder", files.mimiDecoder(), dec, rewrite ? GraphRewrite.Kind.DECODER : null);
      Graph enc =
          files.mimiEncoder() == null
              ? null
              // cloning is one large run: it takes both pools' threads (10 s of audio took 3.2-3.5
              // s on one thread and 2.3 s on two on the 2-core bench machine)
              : open(
                  "mimi_encoder",
                  files.mimiEncoder(),
                  gen + dec,
                  rewrite ? GraphRewrite.Kind.ENCODER : null);
      this.textConditioner = new TextConditioner(env, text);
      this.flowLm = new FlowLm(env, main, head, config.flowStates());
      this.decoder = new MimiDecoder(env, mimi, config.mimiStates(), flowLm.latentDim());
      if (BundleConfig.isBundle(dir)
          && (config.latentDim() != flowLm.latentDim()
              || config.conditioningDim() != flowLm.conditioningDim())) {
        throw new IncompatibleModelException(
            "bundle.json says latent_dim "
                + config.latentDim()
                + " and conditioning_dim "
                + config.conditioningDim()
                + " but flow_lm_main takes "
                + flowLm.latentDim()
                + " and "
                + flowLm.conditioningDim());
      }
      this.encoder = enc == null ? null : new MimiEncoder(env, enc, config.samplesPerFrame());
      this.bosBeforeVoice = config.insertBosBeforeVoice() ? loadBosBeforeVoice() : null;
      this.cloningUnavailable =
          enc == null
              ? "voice cloning is unavailable: "
                  + dir.resolve(ModelFiles.fileName("mimi_encoder", false))
                  + " is missing"
              : (config.insertBosBeforeVoice() && bosBeforeVoice == null
                  ? "voice cloning is unavailable: the bundle asks for "
                      + config.bosBeforeVoiceFile()
                      + " and it is missing"
                  : null);
    } catch (RuntimeException e) {
      graphs.forEach(Graph::close);
      if (tok != null) {
        tok.close();
      }
      throw e;
    }
    this.tokenizer = tok;
    AtomicInteger n = new AtomicInteger();
    this.decoderThreads =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "pockettts-decoder-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    log.info(
        "Loaded PocketTTS model {} from {}: {} layout, {} flow LM layers, cache {} positions, "
            + "{} decoder states (attention caches of {} positions), {} precision, cloning {}",
        config.name(),
        dir,
        BundleConfig.isBundle(dir) ? "bundle" : "legacy flat",
        flowLm.layers(),
        flowLm.capacity(),
        decoder.stateCount(),
        decoder.ringCapacity(),
        options.precision(),
        cloningUnavailable == null ? "available" : "unavailable");
  }

  FlowLm flowLm() {
    return flowLm;
  }

  TextConditioner textConditioner() {
    return textConditioner;
  }

  /** The encoder, or null when the folder has none. */
  MimiEncoder encoder() {
    return encoder;
  }

  MimiDecoder decoder() {
    return decoder;
  }

  /** The graphs that run rewritten at load time, with what their rewrite does. */
  public Map<String, String> rewrittenGraphs() {
    return Map.copyOf(rewrites);
  }

  /** Loads the model folder (bundle with bundle.json, or the legacy flat set). */
  public static PocketTtsEngine load(Path dir, EngineOptions options) {
    if (!Files.isDirectory(dir)) {
      throw new EngineException("model folder " + dir + " does not exist");
    }
    return new PocketTtsEngine(dir, options);
  }

  private Graph open(String name, Path file, int threads) {
    return open(name, file, threads, null);
  }

  /**
   * Opens a graph, through its load-time rewrite when {@code rewrite} is set; a graph the rewrite
   * does not recognise, or whose rewrite ONNX Runtime rejects, runs unmodified.
   */
  private Graph open(String name, Path file, int threads, GraphRewrite.Kind rewrite) {
    Graph g = null;
    try (OrtSession.SessionOptions options = sessionOptions(name, threads)) {
      if (rewrite != null) {
        long t0 = System.nanoTime();
        GraphRewrite.Prepared p = null;
        try {
          p = GraphRewrite.prepare(file, rewrite);
        } catch (RuntimeException e) {
          // a rewrite that fails in a way it did not foresee never stops the model from loading
          log.warn(
              "{}: the load-time rewrite failed ({}); running it unmodified", name, e.toString());
        }
        if (p != null && !p.rewritten()) {
          log.info("{}: {} {}; running it unmodified", name, file.getFileName(), p.note());
        } else if (p != null) {
          try {
            g =
                p.file() != null
                    ? Graph.open(env, name, p.file(), options)
                    : openAndFree(name, file, p.model(), options);
            // what applied, as the rewritten file says (files cached before it said so: all)
            String what = g.metadata(GraphRewrite.APPLIED);
            what = what == null || what.isBlank() ? rewrite.what : what;
            rewrites.put(name, what);
            log.info(
                "{}: {} ({}; {} ms)", name, what, p.note(), (System.nanoTime() - t0) / 1_000_000);
          } catch (EngineException e) {
            GraphRewrite.discard(p);
            log.warn(
                "{}: the rewritten graph does not load ({}); running {} unmodified",
                name,
                e.getMessage(),
                file.getFileName());
          }
        }
      }
      if (g == null) {
        g = Graph.open(env, name, file, options);
      }
    }
    graphs.add(g);
    return g;
  }

  /** Opens a rewritten model held in memory, then frees that memory (the session has its copy). */
  private Graph openAndFree(
      String name, Path file, java.nio.ByteBuffer model, OrtSession.SessionOptions options) {
    try {
      return Graph.open(env, name, file, model, options);
    } finally {
      Tensors.free(model);
    }
  }

  /**
   * Options of one graph's session: {@code threads} intra-op threads. The flow LM graphs keep ONNX
   * Runtime's arena (same-sized inputs every step); the others, whose sizes vary, do without. The
   * system property {@code pockettts.ortProfile} (a file prefix) turns on ONNX Runtime's per-node
   * profiling, for the benchmark.
   */
  private static OrtSession.SessionOptions sessionOptions(String graph, int threads) {
    try {
      OrtSession.SessionOptions o = new OrtSession.SessionOptions();
      o.setIntraOpNumThreads(threads);
      o.setInterOpNumThreads(1);
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      String profile = System.getProperty("pockettts.ortProfile");
      if (profile != null) {
        o.enableProfiling(profile + "-" + graph);
      }
      if (!graph.startsWith("flow_lm")) {
        // variable-length inputs: memory patterns only grow the resident size, and so does the
        // arena, except in the encoder: one run of it allocates and frees the same large blocks
        // again and again (10 s of audio on the bench model: about 0.85 s with the arena, 1.1 s
        // without), and MimiEncoder gives the arena's memory back after each run
        o.setCPUArenaAllocator(graph.equals("mimi_encoder"));
        o.setMemoryPatternOptimization(false);
      }
      return o;
    } catch (OrtException e) {
      throw new EngineException("cannot set ONNX Runtime session options: " + e.getMessage(), e);
    }
  }

  private float[] loadBosBeforeVoice() {
    if (config.bosBeforeVoiceFile() == null) {
      throw new IncompatibleModelException(
          "bundle.json sets insert_bos_before_voice but names no bos_before_voice_file");
    }
    Path file = dir.resolve(config.bosBeforeVoiceFile());
    if (!Files.isRegularFile(file)) {
      return null;
    }
    try {
      Npy.FloatArray a = Npy.readFloats(file);
      if (a.data().length != flowLm.conditioningDim()) {
        throw new IncompatibleModelException(
            file
                + " has shape "
                + Arrays.toString(a.shape())
                + ", expected [1, 1, "
                + flowLm.conditioningDim()
                + "]");
      }
      return a.data();
    } catch (IOException e) {
      throw new EngineException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  public BundleConfig config() {
    return config;
  }

  public int sampleRate() {
    return config.sampleRate();
  }

  public int samplesPerFrame() {
    return config.samplesPerFrame();
  }

  /** Null when voice cloning works, else why it does not. */
  public String cloningUnavailableReason() {
    return cloningUnavailable;
  }

  /** Pause markers: {@code [pause:500ms]}, {@code [pause:1.5s]}. */
  private static final java.util.regex.Pattern PAUSE =
      java.util.regex.Pattern.compile(
          "\\[pause:\\s*(\\d+(?:\\.\\d+)?)\\s*(ms|s)\\]", java.util.regex.Pattern.CASE_INSENSITIVE);

  /** The longest pause one marker may ask for. */
  public static final int MAX_PAUSE_MILLIS = 10_000;

  /**
   * The chunks a text is generated in. Pause markers ({@code [pause:500ms]}, {@code [pause:1.5s]},
   * at most 10 s each) split the text and become silent chunks; the text between them is chunked as
   * usual.
   */
  public List<TextChunk> chunk(String text, GenerationParams params) {
    return chunk(text, params, java.util.function.UnaryOperator.identity());
  }

  /**
   * As {@link #chunk(String, GenerationParams)}, with {@code prepare} applied to each piece of text
   * between pause markers (text normalisation): the markers are taken out first, so nothing can
   * rewrite them.
   */
  public List<TextChunk> chunk(
      String text, GenerationParams params, java.util.function.UnaryOperator<String> prepare) {
    int maxTokens = maxTokensPerChunk(params);
    TextChunker chunker =
        new TextChunker(
            tokenizer,
            config.removeSemicolons(),
            config.padWithSpacesForShortInputs(),
            maxTokens,
            params.maxCharsPerChunk());
    java.util.regex.Matcher m = PAUSE.matcher(text);
    if (!m.find()) {
      return chunker.split(prepare.apply(text));
    }
    List<TextChunk> chunks = new ArrayList<>();
    int from = 0;
    do {
      String before = text.substring(from, m.start());
      if (!before.isBlank()) {
        chunks.addAll(chunker.split(prepare.apply(before)));
      }
      double amount = Double.parseDouble(m.group(1));
      double millis = m.group(2).equalsIgnoreCase("s") ? amount * 1000 : amount;
      if (millis > MAX_PAUSE_MILLIS) {
        throw new InvalidTextException(
            "the pause " + m.group() + " is longer than " + MAX_PAUSE_MILLIS / 1000 + " s");
      }
      chunks.add(TextChunk.pause((int) Math.round(millis)));
      from = m.end();
    } while (m.find());
    String rest = text.substring(from);
    if (!rest.isBlank()) {
      chunks.addAll(chunker.split(prepare.apply(rest)));
    }
    return chunks;
  }

  // ------------------------------------------------------------------ voices

  /**
   * A voice state from a voice file: the KV-state safetensors (upstream v2, v3 and per-language) or
   * the older {@code audio_prompt} safetensors of conditioning frames.
   */
  public VoiceState voiceFromFile(Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new EngineException("cannot read voice file " + file + ": " + e.getMessage(), e);
    }
    return voiceFromSafetensors(
        java.nio.ByteBuffer.wrap(bytes), "voice file " + file.getFileName());
  }

  /** As {@link #voiceFromFile}, for the bytes of such a file; {@code what} names it in messages. */
  public VoiceState voiceFromSafetensors(java.nio.ByteBuffer data, String what) {
    return working(() -> voiceFromTensors(data, what));
  }

  private VoiceState voiceFromTensors(java.nio.ByteBuffer data, String what) {
    Map<String, Safetensors.Tensor> tensors = Safetensors.parse(data, what);
    Safetensors.Tensor prompt = tensors.get("audio_prompt");
    if (prompt != null) {
      long[] s = prompt.shape();
      if (s.length != 3 || s[0] != 1 || s[1] < 1 || s[2] != flowLm.conditioningDim()) {
        throw new EngineException(
            what
                + ": audio_prompt is "
                + Arrays.toString(s)
                + ", this model needs [1, T, "
                + flowLm.conditioningDim()
                + "] with T >= 1");
      }
      if (s[1] + 1 >= flowLm.capacity()) {
        throw new EngineException(
            what
                + ": audio_prompt holds "
                + s[1]
                + " frames, the model's cache holds "
                + flowLm.capacity());
      }
      float[] frames = prompt.toFloats();
      for (float f : frames) {
        if (!Float.isFinite(f)) {
          throw new EngineException(
              what + ": audio_prompt holds a value that is not a finite number (NaN or infinity)");
        }
      }
      return voiceFromConditioning(frames, (int) s[1]);
    }
    return flowLm.fromKvTensors(tensors, what);
  }

  /** A voice state from reference audio: mono float PCM at the model's sample rate. */
  public VoiceState voiceFromAudio(float[] pcm) {
    return working(() -> encodeVoice(pcm));
  }

  /**
   * Runs {@code work} as a piece of the engine's work: the C heap is trimmed once the engine has
   * been idle for a while after it ({@link NativeHeap#idle}).
   */
  private static <T> T working(java.util.function.Supplier<T> work) {
    NativeHeap.busy();
    try {
      return work.get();
    } finally {
      NativeHeap.idle();
    }
  }

  private VoiceState encodeVoice(float[] pcm) {
    if (cloningUnavailable != null) {
      throw new CloningUnavailableException(cloningUnavailable);
    }
    if (pcm.length == 0) {
      throw new EngineException("the reference audio is empty");
    }
    flowLm.trimBuffers(); // what several streams at once needed, not the encoder's room
    decoder.trimBuffers();
    long start = System.nanoTime();
    NativeHeap.trim(); // and the C heap's free pages: the encoder's peak comes on top of them
    long trimmed = System.nanoTime();
    MimiEncoder.Frames frames;
    try {
      frames = encoder.encode(pcm);
    } finally {
      NativeHeap.trimLater(); // what the encoder's arena gave back within the C heap
    }
    if (frames.dim() != flowLm.conditioningDim()) {
      throw new IncompatibleModelException(
          "mimi_encoder makes frames of size "
              + frames.dim()
              + " but flow_lm_main takes "
              + flowLm.conditioningDim());
    }
    long encoded = System.nanoTime();
    VoiceState voice = voiceFromConditioning(frames.data(), frames.count());
    if (log.isDebugEnabled()) {
      log.debug(
          String.format(
              java.util.Locale.ROOT,
              "voice from %.1f s of audio: heap trim %.0f ms, encoder %.0f ms, prompt of %d"
                  + " frames %.0f ms",
              pcm.length / (double) config.sampleRate(),
              (trimmed - start) / 1e6,
              (encoded - trimmed) / 1e6,
              frames.count(),
              (System.nanoTime() - encoded) / 1e6));
    }
    return voice;
  }

  /** Prepends BOS-before-voice when the model asks for it, then runs the prompt. */
  private VoiceState voiceFromConditioning(float[] frames, int count) {
    if (bosBeforeVoice == null) {
      if (config.insertBosBeforeVoice()) {
        throw new CloningUnavailableException(cloningUnavailable);
      }
      return flowLm.prompt(frames, count);
    }
    float[] withBos = new float[frames.length + bosBeforeVoice.length];
    System.arraycopy(bosBeforeVoice, 0, withBos, 0, bosBeforeVoice.length);
    System.arraycopy(frames, 0, withBos, bosBeforeVoice.length, frames.length);
    return flowLm.prompt(withBos, count + 1);
  }

  /**
   * Refuses a voice that leaves the model's cache too little room to speak: the voice's positions
   * plus the longest chunk ({@code maxTokensPerChunk} tokens and its most frames) must fit, or
   * every request with it would fail.
   */
  public void requireRoomToSpeak(VoiceState voice, GenerationParams params) {
    int tokens = maxTokensPerChunk(params);
    int most = flowLm.capacity() - tokens - maxFrames(tokens);
    if (voice.positions() > most) {
      throw new EngineException(
          "the voice takes "
              + voice.positions()
              + " of the model's "
              + flowLm.capacity()
              + " cache positions; at most "
              + Math.max(0, most)
              + " leave room for a chunk of "
              + tokens
              + " tokens");
    }
  }

  /** Writes a voice state in the upstream KV-state safetensors format. */
  public byte[] exportVoice(VoiceState voice) {
    Map<String, Safetensors.Tensor> out = new java.util.LinkedHashMap<>();
    for (StateSpec s : flowLm.states()) {
      if (!s.key().equals("cache")) {
        continue;
      }
      VoiceState.Part p = voice.part(s.inputName());
      out.put(
          s.module() + "/cache", new Safetensors.Tensor("F32", p.shape(), littleEndian(p.data())));
      java.nio.ByteBuffer offset =
          java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
      offset.putLong(0, voice.positions());
      out.put(s.module() + "/offset", new Safetensors.Tensor("I64", new long[] {1}, offset));
    }
    return Safetensors.write(out);
  }

  private static java.nio.ByteBuffer littleEndian(java.nio.ByteBuffer nativeFloats) {
    java.nio.FloatBuffer f =
        nativeFloats.duplicate().order(java.nio.ByteOrder.nativeOrder()).rewind().asFloatBuffer();
    java.nio.ByteBuffer out =
        java.nio.ByteBuffer.allocate(f.remaining() * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    out.asFloatBuffer().put(f);
    return out;
  }

  /**
   * Runs every graph once (a short synthesis from the empty state, and the encoder on 1 s of
   * silence when cloning is available) so that the first request does not pay for ONNX Runtime's
   * first-run set-up. Returns the milliseconds taken.
   */
  public long warmUp(GenerationParams params) {
    long t0 = System.nanoTime();
    synthesize("Hello there.", flowLm.emptyState(), params, pcm -> {}, null);
    if (cloningUnavailable == null) {
      voiceFromAudio(new float[config.sampleRate()]);
    }
    return (System.nanoTime() - t0) / 1_000_000;
  }

  // ------------------------------------------------------------------ synthesis

  /**
   * Speaks {@code text} with {@code voice}, handing PCM to {@code sink} (from another thread) as
   * soon as each decoder block is ready. Generation runs on the calling thread, decoding on a
   * second one, so both graphs work at once. Returns when all audio was delivered, or soon after
   * {@code cancel} fires or the sink throws.
   */
  public SynthesisResult synthesize(
      String text, VoiceState voice, GenerationParams params, PcmSink sink, Cancellation cancel) {
    return synthesize(chunk(text, params), voice, params, sink, cancel);
  }

  /**
   * As {@link #synthesize(String, VoiceState, GenerationParams, PcmSink, Cancellation)}, for chunks
   * already made by {@link #chunk}.
   */
  public SynthesisResult synthesize(
      List<TextChunk> chunks,
      VoiceState voice,
      GenerationParams params,
      PcmSink sink,
      Cancellation cancel) {
    return working(() -> pipelined(chunks, voice, params, sink, cancel));
  }

  private SynthesisResult pipelined(
      List<TextChunk> chunks,
      VoiceState voice,
      GenerationParams params,
      PcmSink sink,
      Cancellation cancel) {
    long start = System.nanoTime();
    BlockingQueue<Object> handoff = new ArrayBlockingQueue<>(HANDOFF_CAPACITY);
    AtomicLong firstPcm = new AtomicLong(-1);
    AtomicLong samples = new AtomicLong();
    AtomicLong decoderNanos = new AtomicLong();
    Cancellation stop = cancel != null ? cancel : new Cancellation();
    Future<?> decoding =
        decoderThreads.submit(
            () -> {
              try {
                decodeLoop(
                    handoff,
                    params,
                    stop,
                    pcm -> {
                      firstPcm.compareAndSet(-1, System.nanoTime() - start);
                      samples.addAndGet(pcm.length);
                      sink.accept(pcm);
                    },
                    decoderNanos);
              } catch (Throwable t) {
                stop.cancel();
                throw t;
              }
              return null;
            });
    Random random = params.seed() != null ? new Random(params.seed()) : new Random();
    int frames = 0;
    int withoutEos = 0;
    long mainNanos = 0;
    long headNanos = 0;
    try {
      for (TextChunk chunk : chunks) {
        if (stop.isCancelled()) {
          break;
        }
        if (chunk.isPause()) {
          put(handoff, new Pause(chunk.pauseMillis()), stop, decoding);
          continue;
        }
        put(handoff, CHUNK_START, stop, decoding);
        ChunkStats stats =
            generateChunk(
                chunk, voice, params, random, latent -> put(handoff, latent, stop, decoding), stop);
        frames += stats.frames;
        withoutEos += stats.reachedEos ? 0 : 1;
        mainNanos += stats.mainNanos;
        headNanos += stats.headNanos;
        put(handoff, CHUNK_END, stop, decoding);
      }
    } catch (RuntimeException e) {
      stop.cancel();
      awaitQuietly(decoding);
      throw e;
    }
    put(handoff, END, stop, decoding);
    try {
      decoding.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stop.cancel();
      throw new EngineException("interrupted while decoding", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException) {
        stop.cancel(); // the sink went away: a cancellation, not an engine failure
      } else if (cause instanceof RuntimeException re) {
        throw re;
      } else {
        throw new EngineException("decoding failed: " + cause, cause);
      }
    }
    return new SynthesisResult(
        chunks.size(),
        frames,
        samples.get(),
        withoutEos,
        stop.isCancelled(),
        firstPcm.get(),
        System.nanoTime() - start,
        mainNanos,
        headNanos,
        decoderNanos.get());
  }

  /**
   * The plain loop the Python runtimes run, for the benchmark's baseline: each frame's flow LM
   * step, flow head and decoder run one after another on the calling thread, the decoder one frame
   * at a time. Same audio as {@link #synthesize} (up to float rounding in the decoder), without its
   * pipeline.
   */
  public SynthesisResult synthesizeSequential(
      String text, VoiceState voice, GenerationParams params, PcmSink sink) {
    return working(() -> sequential(text, voice, params, sink));
  }

  private SynthesisResult sequential(
      String text, VoiceState voice, GenerationParams params, PcmSink sink) {
    List<TextChunk> chunks = chunk(text, params);
    long start = System.nanoTime();
    long[] firstPcm = {-1};
    long[] samples = {0};
    AtomicLong decoderNanos = new AtomicLong();
    PcmSink counted =
        pcm -> {
          if (firstPcm[0] < 0) {
            firstPcm[0] = System.nanoTime() - start;
          }
          samples[0] += pcm.length;
          sink.accept(pcm);
        };
    Random random = params.seed() != null ? new Random(params.seed()) : new Random();
    Cancellation stop = new Cancellation();
    int frames = 0;
    int withoutEos = 0;
    long mainNanos = 0;
    long headNanos = 0;
    for (TextChunk chunk : chunks) {
      if (chunk.isPause()) {
        try {
          counted.accept(
              new float[(int) ((long) chunk.pauseMillis() * config.sampleRate() / 1000)]);
        } catch (IOException e) {
          break;
        }
        continue;
      }
      try (MimiDecoder.Stream stream = decoder.new Stream()) {
        boolean[] fade = {params.fadeIn()};
        List<float[]> one = new ArrayList<>(1);
        ChunkStats stats =
            generateChunk(
                chunk,
                voice,
                params,
                random,
                latent -> {
                  one.add(latent);
                  try {
                    decodeBlock(stream, one, fade[0], counted, decoderNanos);
                  } catch (IOException e) {
                    stop.cancel();
                  }
                  fade[0] = false;
                },
                stop);
        frames += stats.frames;
        withoutEos += stats.reachedEos ? 0 : 1;
        mainNanos += stats.mainNanos;
        headNanos += stats.headNanos;
      }
    }
    return new SynthesisResult(
        chunks.size(),
        frames,
        samples[0],
        withoutEos,
        stop.isCancelled(),
        firstPcm[0],
        System.nanoTime() - start,
        mainNanos,
        headNanos,
        decoderNanos.get());
  }

  private record ChunkStats(int frames, boolean reachedEos, long mainNanos, long headNanos) {}

  /** The token limit of a chunk: the request's, else the model's. */
  private int maxTokensPerChunk(GenerationParams params) {
    return params.maxTokensPerChunk() != null
        ? params.maxTokensPerChunk()
        : config.maxTokensPerChunk();
  }

  /** The most frames the loop may generate for a chunk of {@code tokens} tokens. */
  private int maxFrames(int tokens) {
    return (int)
        Math.ceil((tokens / 3.0 + 2.0) * (config.sampleRate() / (double) config.samplesPerFrame()));
  }

  /**
   * The fewest samples {@code chunks} can come out as: every pause in full, and each spoken chunk
   * at least the frames before an end of speech is believed plus the EOS frame (or its maximum
   * length, when that is shorter). A script whose minimum is already too long can be refused before
   * any synthesis.
   */
  public long minimumSamples(List<TextChunk> chunks, GenerationParams params) {
    long samples = 0;
    for (TextChunk c : chunks) {
      if (c.isPause()) {
        samples += (long) c.pauseMillis() * config.sampleRate() / 1000;
      } else {
        int frames = Math.min(maxFrames(c.tokens().length), params.minFramesBeforeEos() + 1);
        samples += (long) frames * config.samplesPerFrame();
      }
    }
    return samples;
  }

  /** The autoregressive loop of CONTRACT.md 3.4 for one chunk. */
  private ChunkStats generateChunk(
      TextChunk chunk,
      VoiceState voice,
      GenerationParams params,
      Random random,
      java.util.function.Consumer<float[]> frames,
      Cancellation stop) {
    int tokens = chunk.tokens().length;
    int maxLen = maxFrames(tokens);
    int room = flowLm.capacity() - voice.positions() - tokens;
    if (room < 1) {
      throw new EngineException(
          "the voice ("
              + voice.positions()
              + " positions) and a chunk of "
              + tokens
              + " tokens do not fit the model's cache of "
              + flowLm.capacity()
              + " positions");
    }
    if (maxLen > room) {
      log.warn("chunk of {} tokens limited to {} frames by the cache capacity", tokens, room);
      maxLen = room;
    }
    int framesAfterEos =
        params.framesAfterEos() != null
            ? params.framesAfterEos()
            : config.framesAfterEos() != null ? config.framesAfterEos() : chunk.framesAfterEos();
    float temperature = params.temperatureFor(config.defaultTemperature());
    float[] latent = new float[flowLm.latentDim()];
    Arrays.fill(latent, Float.NaN); // BOS marker
    int eosAt = -1;
    int emitted = 0;
    try (OnnxTensor embeddings = textConditioner.embed(chunk.tokens());
        FlowLm.Chunk gen =
            flowLm.new Chunk(voice, embeddings, voice.positions() + tokens + maxLen)) {
      for (int step = 0; step < maxLen; step++) {
        if (stop.isCancelled()) {
          break;
        }
        float eos = gen.step(latent);
        // an EOS in the first frames is not believed (upstream #319: voices may cross the
        // threshold before any speech, which made chunks of a fraction of a second)
        if (eosAt < 0 && eos > params.eosThreshold() && step >= params.minFramesBeforeEos()) {
          eosAt = step;
        }
        if (eosAt >= 0 && step >= eosAt + framesAfterEos) {
          break;
        }
        latent = gen.sample(random, temperature, params.lsdSteps());
        frames.accept(latent);
        emitted++;
      }
      if (eosAt < 0 && !stop.isCancelled()) {
        log.warn("no end of speech within {} frames for a chunk of {} tokens", maxLen, tokens);
      }
      return new ChunkStats(emitted, eosAt >= 0, gen.mainNanos, gen.headNanos);
    }
  }

  private static void put(
      BlockingQueue<Object> q, Object item, Cancellation stop, Future<?> decoding) {
    try {
      while (!q.offer(item, 50, TimeUnit.MILLISECONDS)) {
        if (stop.isCancelled() || decoding.isDone()) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stop.cancel();
    }
  }

  private void decodeLoop(
      BlockingQueue<Object> handoff,
      GenerationParams params,
      Cancellation stop,
      PcmSink sink,
      AtomicLong nanos)
      throws IOException, InterruptedException {
    MimiDecoder.Stream stream = null;
    List<float[]> pending = new ArrayList<>();
    // blocks grow: the first is small for a quick start, each next one as long as all the audio
    // delivered before it (up to the maximum), so fewer decoder runs are needed while a listener
    // never waits as long as generation runs faster than real time
    int limit = params.firstBlockFrames();
    int delivered = 0;
    boolean fadeIn = false;
    try {
      while (true) {
        Object item = handoff.poll(50, TimeUnit.MILLISECONDS);
        if (item == null) {
          if (stop.isCancelled()) {
            return;
          }
          continue;
        }
        if (item == END || stop.isCancelled()) {
          return;
        }
        if (item instanceof Pause pause) {
          // silence, in blocks of at most one second
          int left = (int) ((long) pause.millis() * config.sampleRate() / 1000);
          while (left > 0 && !stop.isCancelled()) {
            int n = Math.min(left, config.sampleRate());
            sink.accept(new float[n]);
            left -= n;
          }
        } else if (item == CHUNK_START) {
          stream = decoder.new Stream();
          fadeIn = params.fadeIn();
        } else if (item == CHUNK_END) {
          delivered += pending.size();
          if (!pending.isEmpty()) {
            decodeBlock(stream, pending, fadeIn, sink, nanos);
            fadeIn = false;
          }
          stream.close();
          stream = null;
        } else {
          pending.add((float[]) item);
          while (pending.size() < limit && handoff.peek() instanceof float[]) {
            pending.add((float[]) handoff.poll());
          }
          if (pending.size() < limit) {
            continue; // wait for the block to fill, or for the chunk to end
          }
          delivered += pending.size();
          decodeBlock(stream, pending, fadeIn, sink, nanos);
          fadeIn = false;
          limit = Math.min(params.maxBlockFrames(), Math.max(params.firstBlockFrames(), delivered));
        }
      }
    } finally {
      if (stream != null) {
        stream.close();
      }
    }
  }

  private void decodeBlock(
      MimiDecoder.Stream stream,
      List<float[]> pending,
      boolean chunkStart,
      PcmSink sink,
      AtomicLong nanos)
      throws IOException {
    int dim = flowLm.latentDim();
    float[] block = new float[pending.size() * dim];
    for (int i = 0; i < pending.size(); i++) {
      System.arraycopy(pending.get(i), 0, block, i * dim, dim);
    }
    long t0 = System.nanoTime();
    float[] pcm = stream.decode(block, pending.size());
    nanos.addAndGet(System.nanoTime() - t0);
    pending.clear();
    if (chunkStart) {
      fadeIn(pcm, config.sampleRate() / 200);
    }
    sink.accept(pcm);
  }

  /**
   * Multiplies the first {@code n} samples by a ramp from 0 to 1 with both ends included (numpy's
   * {@code linspace(0, 1, n)}), as upstream does to each chunk's first decoded frame: it takes the
   * click out of the start of every generation (kyutai-labs/pocket-tts #171, #332, #335).
   */
  static void fadeIn(float[] pcm, int n) {
    int len = Math.min(n, pcm.length);
    for (int i = 0; i < len; i++) {
      pcm[i] *= n == 1 ? 0f : (float) ((double) i / (n - 1));
    }
  }

  private static void awaitQuietly(Future<?> f) {
    try {
      f.get(10, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // the original failure is what the caller reports
    }
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      decoderThreads.shutdownNow();
      flowLm.close();
      decoder.close();
      graphs.forEach(Graph::close);
      tokenizer.close();
    }
  }
}
