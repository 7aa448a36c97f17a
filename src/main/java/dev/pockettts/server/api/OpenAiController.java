package dev.pockettts.server.api;

import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.synthesis.ModelService;
import dev.pockettts.server.voice.OpenAiVoices;
import dev.pockettts.server.voice.VoiceService;
import io.swagger.v3.oas.annotations.Operation;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.StreamingResponseBody;
import tools.jackson.databind.JsonNode;

/**
 * The OpenAI-compatible speech API: {@code POST /v1/audio/speech}, {@code GET /v1/models} and
 * {@code GET /v1/audio/voices}. Errors on these routes have OpenAI's {@code {"error": {...}}} shape
 * (see {@link ProblemAdvice}).
 */
@RestController
class OpenAiController {

  /** The body of {@code POST /v1/audio/speech}, for the OpenAPI description (read as JSON). */
  record SpeechRequest(
      String model,
      String input,
      String voice,
      String response_format,
      Double speed,
      String stream_format,
      String instructions,
      Boolean normalize) {}

  /** Model names a request may give: OpenAI's, ours, and the loaded bundle's. */
  static final List<String> MODELS = List.of("pocket-tts", "tts-1", "tts-1-hd", "gpt-4o-mini-tts");

  private final VoiceService voices;
  private final ModelService models;
  private final ServerSettings settings;
  private final SpeechResponder responder;

  OpenAiController(
      VoiceService voices,
      ModelService models,
      ServerSettings settings,
      SpeechResponder responder) {
    this.voices = voices;
    this.models = models;
    this.settings = settings;
    this.responder = responder;
  }

  @Operation(summary = "OpenAI-compatible speech: every format streams as it is generated")
  @PostMapping(path = "/v1/audio/speech", consumes = MediaType.APPLICATION_JSON_VALUE)
  ResponseEntity<StreamingResponseBody> speech(
      @RequestBody @io.swagger.v3.oas.annotations.media.Schema(implementation = SpeechRequest.class)
          JsonNode body,
      HttpServletResponse response)
      throws IOException {
    JsonFields.requireObject(
        body, "{\"model\": \"tts-1\", \"input\": \"Hello\", \"voice\": \"alloy\"}");
    String model = JsonFields.text(body, "model");
    if (model != null && !modelNames().contains(model.strip())) {
      throw invalid("unknown-model", "model must be one of " + String.join(", ", modelNames()));
    }
    String input =
        ScriptCheck.check(JsonFields.text(body, "input"), "input", settings.maxScriptChars());
    // OpenAI's model names mean the default bundle; a bundle's name picks that bundle
    String bundle = model == null || MODELS.contains(model.strip()) ? null : model.strip();
    String voice = voiceName(JsonFields.text(body, "voice"));
    voices.requireKnown(voice, bundle);
    String formatName = JsonFields.text(body, "response_format");
    AudioFormat format = formatName == null ? AudioFormat.MP3 : AudioFormat.fromName(formatName);
    if (format == null || format == AudioFormat.OGG) {
      throw invalid(
          "unknown-format", "response_format must be one of mp3, opus, aac, flac, wav, pcm");
    }
    double speed = speed(body.get("speed"));
    String streamFormat = JsonFields.text(body, "stream_format");
    boolean sse;
    if (streamFormat == null || streamFormat.equals("audio")) {
      sse = false;
    } else if (streamFormat.equals("sse")) {
      sse = true;
    } else {
      throw invalid("unknown-stream-format", "stream_format must be 'audio' or 'sse'");
    }
    boolean normalize = JsonFields.flag(body, "normalize");
    return responder.respond(
        response,
        input,
        timeout -> voices.named(voice, bundle),
        false,
        format,
        speed,
        normalize,
        sse ? new SpeechEvents() : null);
  }

  @Operation(summary = "The model names /v1/audio/speech accepts (OpenAI list shape)")
  @GetMapping("/v1/models")
  Map<String, Object> models() {
    List<Map<String, Object>> data = new ArrayList<>();
    for (String id : modelNames()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", id);
      m.put("object", "model");
      m.put("created", 0);
      m.put("owned_by", "pockettts-server");
      data.add(m);
    }
    return Map.of("object", "list", "data", data);
  }

  @Operation(summary = "The voices, with the OpenAI voice names that map to each")
  @GetMapping({"/v1/audio/voices", "/v1/voices"})
  Map<String, Object> voiceList() {
    List<Map<String, Object>> list = new ArrayList<>();
    for (VoiceService.Description d : voices.list()) {
      Map<String, Object> v = new LinkedHashMap<>();
      v.put("id", d.id());
      v.put("name", d.id());
      v.put("source", d.source());
      v.put("language", d.language());
      v.put("model", d.bundle());
      v.put("openai_aliases", OpenAiVoices.aliasesOf(d.id()));
      list.add(v);
    }
    return Map.of("voices", list);
  }

  private List<String> modelNames() {
    List<String> names = new ArrayList<>(MODELS);
    for (String bundle : models.loadedNames()) {
      if (!names.contains(bundle)) {
        names.add(bundle);
      }
    }
    return names;
  }

  private static String voiceName(String voice) {
    if (voice == null || voice.isBlank()) {
      throw invalid("missing-voice", "voice is required, e.g. \"alloy\" or \"alba\"");
    }
    String v = voice.strip().toLowerCase(Locale.ROOT);
    return OpenAiVoices.ALIASES.getOrDefault(v, v);
  }

  private static double speed(JsonNode node) {
    if (node == null || node.isNull()) {
      return 1.0;
    }
    if (!node.isNumber()
        || !(node.asDouble() >= SpeechResponder.MIN_SPEED
            && node.asDouble() <= SpeechResponder.MAX_SPEED)) {
      throw invalid("invalid-speed", "speed must be a number from 0.25 to 4.0");
    }
    return node.asDouble();
  }

  private static ApiException invalid(String slug, String detail) {
    return ApiException.badRequest(slug, "Invalid request", detail);
  }
}
