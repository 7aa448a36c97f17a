package dev.pockettts.server.model;

import dev.pockettts.server.engine.Precision;
import java.net.URI;
import java.nio.file.Path;

/**
 * Where the model comes from and where it lives.
 *
 * @param modelsDir folder of downloaded models ({@code MODELS_DIR}); a folder that already holds a
 *     model (bundle.json or flow_lm_main*.onnx) is used as it is
 * @param repo Hugging Face repository of the ONNX graphs ({@code MODEL_REPO})
 * @param revision pinned commit ({@code MODEL_REVISION})
 * @param bundle per-language bundle under {@code onnx/} ({@code MODEL_BUNDLE}); "legacy" for the
 *     flat {@code onnx/} set
 * @param token Hugging Face token ({@code HF_TOKEN}), or null
 * @param precision int8 or fp32 graphs ({@code MODEL_PRECISION})
 * @param offline never download ({@code OFFLINE})
 * @param endpoint the hub's base URL ({@code HF_ENDPOINT})
 * @param voiceRepo repository of the built-in voices
 * @param voiceRevision pinned commit of the voice repository
 */
public record ModelSettings(
    Path modelsDir,
    String repo,
    String revision,
    String bundle,
    String token,
    Precision precision,
    boolean offline,
    URI endpoint,
    String voiceRepo,
    String voiceRevision) {

  public static final String DEFAULT_REPO = "KevinAHM/pocket-tts-onnx";
  public static final String DEFAULT_REVISION = "58a6d00cf13d239b6748cb0769f35c580a8f606c";
  public static final String DEFAULT_BUNDLE = "english_2026-04";
  public static final String LEGACY_BUNDLE = "legacy";
  public static final String DEFAULT_VOICE_REPO = "kyutai/pocket-tts-without-voice-cloning";
  public static final String DEFAULT_VOICE_REVISION = "e041936c75475d350b405bc870bcf7c22da4e9e6";

  /** The v3 KV voices made for the January model, which the legacy flat set is. */
  public static final String LEGACY_VOICE_REVISION = "075c0abfe7e41450521b0200b5168cfbc16bc77b";

  public static final URI DEFAULT_ENDPOINT = URI.create("https://huggingface.co");

  /** The same settings for another bundle of the repository. */
  public ModelSettings withBundle(String other) {
    return new ModelSettings(
        modelsDir,
        repo,
        revision,
        other,
        token,
        precision,
        offline,
        endpoint,
        voiceRepo,
        voiceRevision);
  }

  public boolean legacyLayout() {
    return LEGACY_BUNDLE.equals(bundle);
  }
}
