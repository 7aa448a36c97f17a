package dev.pockettts.server.model;

import java.util.Map;

/** Sizes and SHA-256 of the published files the server is pinned to (CONTRACT.md 2.0). */
final class PinnedFiles {

  record Pin(long size, String sha256) {}

  private static final String PREFIX =
      ModelSettings.DEFAULT_REPO
          + "@"
          + ModelSettings.DEFAULT_REVISION
          + ":onnx/"
          + ModelSettings.DEFAULT_BUNDLE
          + "/";

  private static final Map<String, Pin> PINS =
      Map.of(
          PREFIX + "bundle.json",
          new Pin(24381, "bab643150f437f37df080a710520ff39ed9ebd9a339f8ebdc739f7eddfc28b3f"),
          PREFIX + "bos_before_voice.npy",
          new Pin(4224, "f46edf4f7007b7ba4ea58831f49d003e59e167b4641c44bb3addfe9231a780b1"),
          PREFIX + "tokenizer.model",
          new Pin(59339, "d461765ae179566678c93091c5fa6f2984c31bbe990bf1aa62d92c64d91bc3f6"),
          PREFIX + "flow_lm_main_int8.onnx",
          new Pin(76341079, "f9bd8106b79a0192c1c43399ab938fb24900a95c1c599870d75a884e99000116"),
          PREFIX + "flow_lm_flow_int8.onnx",
          new Pin(9962530, "3dd781ee5abee9e195320bf0106bebd6372a852b3b36352524ee78b40554635d"),
          PREFIX + "mimi_decoder_int8.onnx",
          new Pin(22684077, "3630450a3297a101792a6ac66619ebc70ab916b265e6220c2afaef8b1673f925"),
          PREFIX + "mimi_encoder.onnx",
          new Pin(39768446, "853e2ca623b8782d94c3745ec6133bfdff7ce33d9b11128bd29ea03f28d76e3d"),
          PREFIX + "text_conditioner.onnx",
          new Pin(16388344, "4ecee995fb69f85c7a7493d11f7b5ee15d9950facc7ab3f5c9c49ef1e03847bb"));

  private PinnedFiles() {}

  /** The pin of a file, or null when the file is not pinned. */
  static Pin lookup(String repo, String revision, String path) {
    return PINS.get(repo + "@" + revision + ":" + path);
  }
}
