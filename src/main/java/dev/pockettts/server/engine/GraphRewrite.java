package dev.pockettts.server.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load-time rewrites of the published graphs ({@link KvCacheRewrite} for the flow LM, {@link
 * ConvTransposeRewrite} and {@link RingCacheRewrite} for the Mimi decoder, {@link
 * BandedAttentionRewrite}, {@link CausalPadRewrite} and {@link ResidualConvRewrite} for the Mimi
 * encoder): the rewritten graph is an ONNX graph run by ONNX Runtime like the original, written
 * once beside it as {@code <graph>.rewritten-<rewrite>-<first 16 hex digits of the source's
 * SHA-256>.onnx} (kept in memory when the folder is read-only), so another export or another
 * version of a file never meets a stale rewrite. A graph the rewrite does not recognise runs
 * unmodified, and the log says why.
 */
final class GraphRewrite {

  private static final Logger log = LoggerFactory.getLogger(GraphRewrite.class);

  /** Metadata key naming the rewrite and its source in a rewritten graph. */
  static final String REWRITE = "pockettts.rewrite";

  /**
   * Metadata key: what the rewrite changed, in the words of {@link Kind#what} but only the parts
   * that applied (a decoder whose upsampling was left as it is does not claim it).
   */
  static final String APPLIED = "pockettts.applied";

  /** What a rewrite of several parts did: the log's detail, and the parts that applied. */
  private record Outcome(String detail, String applied) {}

  /** The input graph does not have the pattern a rewrite expects. */
  static final class NotRecognized extends RuntimeException {
    NotRecognized(String message) {
      super(message);
    }
  }

  /**
   * What {@link Kind#KV_CACHE} did when its attention step ({@link SplitCacheRewrite}) declined.
   */
  static final String KV_UPDATES_ONLY = "KV-cache updates without whole-cache copies";

  /** What the decoder's {@link EluRewrite} did. */
  static final String ELU = "Elu from vectorised kernels";

  /** A rewrite, with the tag its cached files carry (change it whenever the output changes). */
  enum Kind {
    KV_CACHE("kv5", "KV-cache updates without whole-cache copies, keys kept scaled and transposed"),
    DECODER(
        "dec3",
        "upsampling ConvTranspose as Conv, attention caches as long as the context needs, Elu"
            + " from vectorised kernels"),
    ENCODER(
        "band3",
        "attention over each query's context only, zero padding inside the convolutions,"
            + " residual additions inside the convolutions");

    final String tag;
    final String what;

    Kind(String tag, String what) {
      this.tag = tag;
      this.what = what;
    }
  }

  /**
   * A graph to open: {@code file}, or the rewritten model held in {@code model}, a direct buffer
   * that whoever opens it frees (then {@code file} is null), and what was done.
   */
  record Prepared(Path file, ByteBuffer model, boolean rewritten, String note) {}

  private GraphRewrite() {}

  /** The rewritten graph for {@code source}, from the cache or made now; the source if declined. */
  static Prepared prepare(Path source, Kind kind) {
    String name = source.getFileName().toString();
    String stem = name.endsWith(".onnx") ? name.substring(0, name.length() - 5) : name;
    String sha;
    try {
      sha = ModelFiles.sha256(source);
    } catch (IOException e) {
      throw new EngineException("cannot read " + source + ": " + e.getMessage(), e);
    }
    String prefix = stem + ".rewritten-" + kind.tag + "-";
    Path cached = source.resolveSibling(prefix + sha.substring(0, 16) + ".onnx");
    if (Files.isRegularFile(cached)) {
      return new Prepared(cached, null, true, "cached in " + cached.getFileName());
    }
    // the source is mapped, not read: the parsed model leaves its weights in the file (OnnxWire),
    // and the rewritten model is written through another mapping with the weights copied from the
    // first, so no weight passes through the heap; both mappings are released before returning
    // (nothing refers to them by then); so are the weights the rewrite adds, made off the heap
    MappedByteBuffer mapped = null;
    GraphEditor g = null;
    try (FileChannel channel = FileChannel.open(source, StandardOpenOption.READ)) {
      mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
      g = GraphEditor.parse(mapped);
      Map<String, String> meta = new LinkedHashMap<>();
      meta.put(REWRITE, kind.tag + " of " + name + " (sha256 " + sha + ")");
      String detail;
      String applied = kind.what;
      if (kind == Kind.KV_CACHE) {
        KvCacheRewrite.Result r = KvCacheRewrite.apply(g);
        meta.put(KvCacheRewrite.IN_PLACE, String.join(",", r.inPlace()));
        detail = r.inPlace().size() + " caches may be updated in place";
        if (!r.resizable().isEmpty()) {
          meta.put(KvCacheRewrite.RESIZABLE, String.join(",", r.resizable()));
          meta.put(KvCacheRewrite.CACHE_POSITIONS, Long.toString(r.positions()));
          detail += ", " + r.resizable().size() + " may be shorter than " + r.positions();
        }
        try {
          if (r.inPlace().isEmpty() || r.resizable().isEmpty()) {
            throw new NotRecognized("the caches are not updated in place, of any length");
          }
          List<SplitCacheRewrite.Split> split =
              SplitCacheRewrite.apply(g, r.inPlace(), KvCacheRewrite.POSITIONS_PARAM);
          meta.put(
              SplitCacheRewrite.SPLIT,
              String.join(";", split.stream().map(SplitCacheRewrite.Split::entry).toList()));
          detail += ", " + split.size() + " kept as scaled keys and values by head";
        } catch (NotRecognized e) {
          detail += ", keys not kept transposed (" + e.getMessage() + ")";
          applied = KV_UPDATES_ONLY;
        }
      } else {
        Outcome o = kind == Kind.DECODER ? decoder(g, meta) : encoder(g);
        detail = o.detail();
        applied = o.applied();
      }
      meta.put(APPLIED, applied);
      List<ByteBuffer> rewritten = OnnxWire.join(g.build(meta).toByteArray(), g.aside());
      removeStale(source, stem + ".rewritten-", cached);
      try {
        Path tmp = Files.createTempFile(source.getParent(), "." + prefix, ".part");
        try {
          write(rewritten, tmp);
          move(tmp, cached);
        } finally {
          Files.deleteIfExists(tmp);
        }
        return new Prepared(cached, null, true, detail + ", written to " + cached.getFileName());
      } catch (IOException | SecurityException e) {
        return new Prepared(
            null,
            OnnxWire.concat(rewritten),
            true,
            detail + ", kept in memory (cannot write beside the model: " + e.getMessage() + ")");
      }
    } catch (NotRecognized e) {
      return new Prepared(source, null, false, "not recognised: " + e.getMessage());
    } catch (IOException e) {
      throw new EngineException("cannot read " + source + ": " + e.getMessage(), e);
    } finally {
      if (g != null) {
        g.free();
      }
      unmap(mapped);
    }
  }

  /**
   * The decoder's rewrites ({@link ConvTransposeRewrite}, {@link RingCacheRewrite}, {@link
   * EluRewrite}) and the states it passes through unchanged, in {@code meta}; not all may find
   * nothing.
   */
  private static Outcome decoder(GraphEditor g, Map<String, String> meta) {
    int layers = 0;
    String upsampling;
    try {
      layers = ConvTransposeRewrite.apply(g);
      upsampling = layers + " layers";
    } catch (NotRecognized e) {
      upsampling = "upsampling as it is: " + e.getMessage();
    }
    String rings;
    boolean resized = false;
    try {
      RingCacheRewrite.Result r = RingCacheRewrite.apply(g);
      meta.put(RingCacheRewrite.RINGS, String.join(",", r.rings()));
      meta.put(RingCacheRewrite.CAPACITY, Long.toString(r.capacity()));
      meta.put(RingCacheRewrite.CONTEXT, Long.toString(r.context()));
      meta.put(RingCacheRewrite.COUNTERS, String.join(",", r.counters()));
      rings =
          r.rings().size()
              + " attention caches may be shorter than "
              + r.capacity()
              + " (context "
              + r.context()
              + ")";
      resized = true;
    } catch (NotRecognized e) {
      rings = "attention caches as they are: " + e.getMessage();
    }
    List<String> unchanged = RingCacheRewrite.unchanged(g);
    int elus = EluRewrite.apply(g);
    if (layers == 0 && !resized && unchanged.isEmpty() && elus == 0) {
      throw new NotRecognized(
          upsampling + "; " + rings + "; no state passed through unchanged; no Elu");
    }
    if (!unchanged.isEmpty()) {
      meta.put(RingCacheRewrite.UNCHANGED, String.join(",", unchanged));
      // every run is fed these states' initial value and asks for none of their outputs, but ONNX
      // Runtime runs every node of a graph whatever is asked: the published decoder's two encoder
      // attention caches (4.1 MB each) were copied by their Identity at every run
      for (String state : unchanged) {
        g.removeOutput("out_" + state);
      }
      g.removeUnused();
    }
    List<String> applied = new java.util.ArrayList<>();
    if (layers > 0) {
      applied.add("upsampling ConvTranspose as Conv");
    }
    if (resized) {
      applied.add("attention caches as long as the context needs");
    }
    if (!unchanged.isEmpty()) {
      applied.add("states passed through unchanged not carried");
    }
    if (elus > 0) {
      applied.add(ELU);
    }
    return new Outcome(
        upsampling
            + ", "
            + rings
            + ", "
            + unchanged.size()
            + " states passed through unchanged, "
            + elus
            + " Elu",
        String.join(", ", applied));
  }

  /**
   * The encoder's three rewrites ({@link BandedAttentionRewrite}, {@link CausalPadRewrite}, {@link
   * ResidualConvRewrite}, the last after the padding one, whose convolutions it must see); some may
   * find nothing, not all.
   */
  private static Outcome encoder(GraphEditor g) {
    int pads = CausalPadRewrite.apply(g);
    int residuals = ResidualConvRewrite.apply(g);
    String attention;
    List<String> applied = new java.util.ArrayList<>();
    try {
      attention = BandedAttentionRewrite.apply(g) + " attention layers";
      applied.add("attention over each query's context only");
    } catch (NotRecognized e) {
      if (pads == 0 && residuals == 0) {
        throw new NotRecognized(
            e.getMessage() + "; no convolution reads zero padding; no residual addition");
      }
      attention = "attention as it is: " + e.getMessage();
    }
    if (pads > 0) {
      applied.add("zero padding inside the convolutions");
    }
    if (residuals > 0) {
      applied.add("residual additions inside the convolutions");
    }
    return new Outcome(
        attention
            + ", "
            + pads
            + " zero paddings inside convolutions, "
            + residuals
            + " residual additions inside convolutions",
        String.join(", ", applied));
  }

  private static void write(List<ByteBuffer> pieces, Path file) throws IOException {
    long size = OnnxWire.size(pieces);
    try (FileChannel out =
        FileChannel.open(
            file,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      MappedByteBuffer target = out.map(FileChannel.MapMode.READ_WRITE, 0, size);
      try {
        OnnxWire.putAll(pieces, target);
        target.force();
      } finally {
        unmap(target);
      }
    }
  }

  private static void unmap(MappedByteBuffer buffer) {
    if (buffer != null) {
      Tensors.free(buffer);
    }
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /**
   * Deletes earlier rewrites of the same graph (another source hash, or an earlier version of the
   * rewrite: one kind of rewrite applies to each graph).
   */
  private static void removeStale(Path source, String prefix, Path keep) {
    try (DirectoryStream<Path> files = Files.newDirectoryStream(source.getParent(), prefix + "*")) {
      for (Path p : files) {
        if (!p.equals(keep) && p.getFileName().toString().endsWith(".onnx")) {
          Files.deleteIfExists(p);
          log.info("Removed {}: its source graph or the rewrite has changed", p);
        }
      }
    } catch (IOException | SecurityException e) {
      log.debug("Cannot look for earlier rewrites of {}: {}", source, e.getMessage());
    }
  }

  /** Deletes a cached rewrite that ONNX Runtime could not load, so the next start remakes it. */
  static void discard(Prepared p) {
    if (p.rewritten() && p.file() != null) {
      try {
        Files.deleteIfExists(p.file());
      } catch (IOException e) {
        log.warn("Cannot delete {}: {}", p.file(), e.getMessage());
      }
    }
  }
}
