package dev.pockettts.server.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * What a model folder says about itself: the fields of a per-language {@code bundle.json}
 * (CONTRACT.md 2.2), or the defaults of the legacy flat layout, which has none.
 *
 * @param flowStates the flow LM state manifest, or null to derive it from the graph
 * @param mimiStates the Mimi decoder state manifest, or null to derive it from the graph
 * @param language the {@code language} field as written: the model config's name, such as {@code
 *     english_2026-04} or {@code french_24l} ({@link #languageFamily()} is the language itself)
 * @param framesAfterEos the model's recommended frames after EOS, or null for the reference rule
 * @param defaultTemperature the model's sampling temperature ({@code default_temperature}), or null
 *     when the bundle names none
 */
public record BundleConfig(
    String name,
    String language,
    int sampleRate,
    int samplesPerFrame,
    int latentDim,
    int conditioningDim,
    boolean padWithSpacesForShortInputs,
    boolean removeSemicolons,
    Integer framesAfterEos,
    Float defaultTemperature,
    int maxTokensPerChunk,
    boolean insertBosBeforeVoice,
    String tokenizerFile,
    String bosBeforeVoiceFile,
    List<String> predefinedVoices,
    List<StateSpec> flowStates,
    List<StateSpec> mimiStates) {

  public static final String FILE = "bundle.json";
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final Logger log = LoggerFactory.getLogger(BundleConfig.class);

  /**
   * The language the model speaks ({@code english} for {@code english_2026-04}), or null when the
   * bundle's {@code language} names none this server knows (then no text normalisation applies).
   */
  public String languageFamily() {
    return Language.family(language);
  }

  /** True when the folder holds a bundle.json. */
  public static boolean isBundle(Path dir) {
    return Files.isRegularFile(dir.resolve(FILE));
  }

  /** The legacy flat set (b6369a24): no bundle.json, no BOS before the voice. */
  public static BundleConfig legacy(String name) {
    return new BundleConfig(
        name,
        "english_2026-01",
        24000,
        1920,
        32,
        1024,
        false,
        false,
        null,
        null,
        50,
        false,
        "tokenizer.model",
        null,
        List.of(),
        null,
        null);
  }

  /** Reads a bundle.json; missing optional fields take the values the exporter writes. */
  public static BundleConfig read(Path file) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(Files.readAllBytes(file));
    } catch (RuntimeException e) {
      throw new IncompatibleModelException(file + " is not valid JSON: " + e.getMessage());
    }
    int schema = root.path("schema_version").asInt(0);
    if (schema != 2) {
      throw new IncompatibleModelException(
          file
              + " has schema_version "
              + root.path("schema_version")
              + "; this server reads version 2");
    }
    List<String> voices = new ArrayList<>();
    JsonNode pv = root.path("predefined_voices");
    if (pv.isArray()) {
      pv.forEach(v -> voices.add(v.asString()));
    } else if (pv.isObject()) {
      voices.addAll(pv.propertyNames());
    }
    JsonNode fae = root.path("model_recommended_frames_after_eos");
    JsonNode temperature = root.path("default_temperature");
    String language = root.path("language").asString("english");
    if (Language.family(language) == null) {
      log.warn(
          "{}: language '{}' names no language this server knows; no text normalisation",
          file,
          language);
    }
    return new BundleConfig(
        root.path("bundle_name").asString(file.getParent().getFileName().toString()),
        language,
        root.path("sample_rate").asInt(24000),
        root.path("samples_per_frame").asInt(1920),
        root.path("latent_dim").asInt(32),
        root.path("conditioning_dim").asInt(1024),
        root.path("pad_with_spaces_for_short_inputs").asBoolean(false),
        root.path("remove_semicolons").asBoolean(false),
        fae.isNumber() ? fae.asInt() : null,
        temperature.isNumber() && temperature.asDouble() >= 0
            ? (float) temperature.asDouble()
            : null,
        root.path("max_token_per_chunk").asInt(50),
        root.path("insert_bos_before_voice").asBoolean(false),
        root.path("tokenizer_file").asString("tokenizer.model"),
        root.path("bos_before_voice_file").isString()
            ? root.path("bos_before_voice_file").asString()
            : null,
        List.copyOf(voices),
        manifest(root.path("flow_lm_state_manifest"), file, "flow_lm_state_manifest"),
        manifest(root.path("mimi_state_manifest"), file, "mimi_state_manifest"));
  }

  private static List<StateSpec> manifest(JsonNode node, Path file, String field) {
    if (!node.isArray()) {
      throw new IncompatibleModelException(file + " has no " + field + " list");
    }
    List<StateSpec> out = new ArrayList<>();
    for (JsonNode e : node) {
      JsonNode shapeNode = e.path("shape");
      long[] shape = new long[shapeNode.size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = shapeNode.get(i).asLong();
      }
      int index = e.path("index").asInt(out.size());
      out.add(
          new StateSpec(
              index,
              e.path("module").asString(""),
              e.path("key").asString(""),
              StateDtype.fromLabel(e.path("dtype").asString("")),
              shape,
              e.path("input_name").asString("state_" + index),
              e.path("output_name").asString("out_state_" + index)));
    }
    return List.copyOf(out);
  }
}
