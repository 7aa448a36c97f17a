package dev.pockettts.server.engine;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** The graph files of a model folder for one precision. */
public record ModelFiles(
    Path textConditioner, Path mimiEncoder, Path flowLmMain, Path flowLmFlow, Path mimiDecoder) {

  /**
   * Picks {@code <stem>_int8.onnx} for the flow LM, flow head and decoder at int8, and the fp32
   * files otherwise; the encoder and text conditioner are fp32 (falling back to the other variant
   * when only that one is present). The encoder may be absent (no cloning).
   */
  public static ModelFiles locate(Path dir, Precision precision) {
    boolean int8 = precision == Precision.INT8;
    return new ModelFiles(
        pick(dir, "text_conditioner", false, true),
        pick(dir, "mimi_encoder", false, false),
        pick(dir, "flow_lm_main", int8, true),
        pick(dir, "flow_lm_flow", int8, true),
        pick(dir, "mimi_decoder", int8, true));
  }

  /** File name of a graph for a precision, as published. */
  public static String fileName(String stem, boolean int8) {
    return stem + (int8 ? "_int8" : "") + ".onnx";
  }

  /** SHA-256 of a file in hex (model files are checked, and their rewrites named, by it). */
  public static String sha256(Path file) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  private static Path pick(Path dir, String stem, boolean int8, boolean required) {
    Path preferred = dir.resolve(fileName(stem, int8));
    if (Files.isRegularFile(preferred)) {
      return preferred;
    }
    Path other = dir.resolve(fileName(stem, !int8));
    if (Files.isRegularFile(other)) {
      return other;
    }
    if (required) {
      throw new EngineException("model file " + preferred + " is missing");
    }
    return null;
  }
}
