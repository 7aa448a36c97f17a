package dev.pockettts.server.api;

import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.model.DownloadProgress;
import dev.pockettts.server.synthesis.ModelService;
import dev.pockettts.server.synthesis.SynthesisLimiter;
import dev.pockettts.server.voice.VoiceService;
import io.swagger.v3.oas.annotations.Operation;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** {@code GET /health} and {@code GET /}: open to everyone, no key needed. */
@RestController
class InfoController {

  private final ModelService models;
  private final VoiceService voices;
  private final ServerSettings settings;
  private final String version;
  private final SynthesisLimiter limiter;

  InfoController(
      ModelService models,
      VoiceService voices,
      ServerSettings settings,
      SynthesisLimiter limiter,
      @Value("${tts.version:unknown}") String version) {
    this.limiter = limiter;
    this.models = models;
    this.voices = voices;
    this.settings = settings;
    this.version = version;
  }

  @Operation(summary = "Model state, download progress, voices and cache figures (no key needed)")
  @GetMapping("/health")
  ResponseEntity<Map<String, Object>> health() {
    ModelService.State state = models.state();
    Map<String, Object> body = new LinkedHashMap<>();
    boolean ready = state == ModelService.State.READY;
    body.put("status", ready ? "ok" : state == ModelService.State.FAILED ? "error" : "loading");
    body.put("model_loaded", ready);
    body.put("model_state", state.name().toLowerCase(Locale.ROOT));
    if (state == ModelService.State.FAILED) {
      body.put("error", models.error());
    }
    ModelService.Retry retry = models.retry();
    if (retry != null) {
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("failures", retry.failures());
      r.put(
          "next_attempt",
          retry.nextAttempt().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString());
      r.put("wait_seconds", retry.delay().toSeconds());
      r.put("last_error", retry.lastError());
      body.put("retry", r);
    }
    DownloadProgress p = models.progress();
    if (!ready && p.totalBytes() > 0) {
      Map<String, Object> d = new LinkedHashMap<>();
      d.put("percent", Math.round(p.percent() * 10) / 10.0);
      d.put("downloaded_bytes", p.doneBytes());
      d.put("total_bytes", p.totalBytes());
      d.put("bytes_per_second", Math.round(p.bytesPerSecond()));
      d.put("current_file", p.currentFile());
      body.put("download", d);
    }
    body.put("voices", ready ? voices.builtInNames() : List.of());
    String cloning = models.cloningProblem();
    body.put("cloning_available", ready && cloning == null);
    if (ready && cloning != null) {
      body.put("cloning_unavailable_reason", cloning);
    }
    if (ready) {
      body.put("models", bundles());
    }
    Map<String, Object> cache = new LinkedHashMap<>();
    cache.put("voices", voices.cachedVoices());
    cache.put("hits", voices.stats().hitCount());
    cache.put("misses", voices.stats().missCount());
    body.put("voice_cache", cache);
    Map<String, Object> synthesis = new LinkedHashMap<>();
    synthesis.put("active", limiter.active());
    synthesis.put("waiting", limiter.waiting());
    synthesis.put("workers", limiter.capacity());
    body.put("synthesis", synthesis);
    body.put("version", version);
    return ResponseEntity.status(
            state == ModelService.State.FAILED ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.OK)
        .body(body);
  }

  /** The loaded bundles, the default first: name, language, voices, cloning. */
  private List<Map<String, Object>> bundles() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (ModelService.Bundle b : models.bundles()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", b.name());
      m.put("language", b.language());
      m.put("language_variant", b.languageVariant());
      m.put("voices", b.store().voiceNames());
      m.put("cloning_available", b.cloningProblem() == null);
      out.add(m);
    }
    return out;
  }

  @Operation(summary = "Server name, version and endpoints (no key needed)")
  @GetMapping("/")
  Map<String, Object> info() {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("name", "PocketTTS Server");
    body.put("version", version);
    body.put("model_loaded", models.state() == ModelService.State.READY);
    Map<String, String> endpoints = new LinkedHashMap<>();
    endpoints.put(
        "POST /tts",
        "JSON {script, model, type: file|url, format: mp3|wav|ogg|opus|aac|flac|pcm};"
            + " header API_KEY");
    endpoints.put(
        "POST /tts/clone", "multipart: script, voice_file, type, format, speed; header API_KEY");
    endpoints.put(
        "POST /v1/audio/speech",
        "OpenAI-compatible JSON {model, input, voice, response_format, speed, stream_format};"
            + " Authorization: Bearer");
    endpoints.put("GET /v1/models", "model names for /v1/audio/speech");
    endpoints.put("GET /v1/audio/voices", "voices with their OpenAI names");
    endpoints.put("GET /voices", "built-in and saved voices");
    endpoints.put("POST /voices", "multipart: name, audio, consent=true; saves a cloned voice");
    endpoints.put("GET /voices/{id}", "one voice");
    endpoints.put("DELETE /voices/{id}", "deletes a saved voice");
    endpoints.put("POST /voices/{id}/export", "the voice state as KV-state safetensors");
    endpoints.put("POST /voices/import", "multipart: name, file, consent=true; saves a state file");
    endpoints.put("GET /health", "status, model loading progress, voices");
    endpoints.put("GET /ui", "the web page");
    endpoints.put("GET /voice/{filename}", "audio files made with type=url");
    endpoints.put("GET /docs", "Swagger UI; the OpenAPI description is at /v3/api-docs");
    body.put("endpoints", endpoints);
    body.put(
        "voices", models.state() == ModelService.State.READY ? voices.builtInNames() : List.of());
    body.put("default_voice", TtsController.DEFAULT_VOICE);
    if (models.state() == ModelService.State.READY) {
      body.put("models", bundles());
    }
    body.put("formats", Arrays.stream(AudioFormat.values()).map(AudioFormat::extension).toList());
    body.put("types", List.of("file", "url"));
    Map<String, Object> limits = new LinkedHashMap<>();
    limits.put("max_script_chars", settings.maxScriptChars());
    limits.put("max_chars_per_chunk", settings.generation().maxCharsPerChunk());
    limits.put("max_ref_duration_seconds", settings.maxRefDurationSeconds());
    limits.put("max_upload_bytes", settings.maxUploadBytes());
    body.put("limits", limits);
    body.put("auth", "send the key as header API_KEY, X-API-Key, or Authorization: Bearer <key>");
    return body;
  }
}
