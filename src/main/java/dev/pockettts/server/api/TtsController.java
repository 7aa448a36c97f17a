package dev.pockettts.server.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.engine.TextChunk;
import dev.pockettts.server.engine.VoiceState;
import dev.pockettts.server.synthesis.SynthesisLimiter;
import dev.pockettts.server.synthesis.TtsService;
import dev.pockettts.server.voice.VoiceService;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import org.springframework.http.ContentDisposition;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.context.request.RequestContextHolder;
import org.springframework.web.context.request.ServletRequestAttributes;
import org.springframework.web.multipart.MultipartFile;
import org.springframework.web.servlet.mvc.method.annotation.StreamingResponseBody;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The seed server's speech endpoints: {@code POST /tts} and {@code POST /tts/clone}. */
@RestController
class TtsController {

  static final String DEFAULT_VOICE = "alba";
  static final String SERVER_TIMING = "Server-Timing";
  private static final JsonMapper JSON = JsonMapper.builder().build();

  /** Body of {@code POST /tts}; every field but the script has the seed's default. */
  record TtsRequest(String script, String model, String type, String format) {

    /** Reads the body, refusing fields of the wrong JSON type rather than coercing them. */
    static TtsRequest from(JsonNode body) {
      if (body == null || !body.isObject()) {
        throw ApiException.badRequest(
            "malformed-request",
            "Malformed request",
            "the body must be a JSON object such as {\"script\": \"Hello\"}");
      }
      return new TtsRequest(
          text(body, "script"), text(body, "model"), text(body, "type"), text(body, "format"));
    }

    private static String text(JsonNode body, String field) {
      JsonNode v = body.get(field);
      if (v == null || v.isNull()) {
        return null;
      }
      if (!v.isString()) {
        throw ApiException.badRequest(
            "invalid-field",
            "Invalid field",
            "'"
                + field
                + "' must be a string, not "
                + v.getNodeType().name().toLowerCase(Locale.ROOT));
      }
      return v.asString();
    }
  }

  /** Answer to {@code type=url}. */
  record UrlResponse(@JsonProperty("url") String url, @JsonProperty("filename") String filename) {}

  private enum ReturnType {
    FILE,
    URL
  }

  private final TtsService tts;
  private final VoiceService voices;
  private final ServerSettings settings;
  private final SynthesisLimiter limiter;

  TtsController(
      TtsService tts, VoiceService voices, ServerSettings settings, SynthesisLimiter limiter) {
    this.tts = tts;
    this.voices = voices;
    this.settings = settings;
    this.limiter = limiter;
  }

  @PostMapping(path = "/tts", consumes = MediaType.APPLICATION_JSON_VALUE)
  ResponseEntity<StreamingResponseBody> speak(@RequestBody JsonNode body) throws IOException {
    TtsRequest request = TtsRequest.from(body);
    String script = script(request.script());
    ReturnType type = type(request.type());
    AudioFormat format = format(request.format());
    String voice =
        request.model() == null || request.model().isBlank()
            ? DEFAULT_VOICE
            : request.model().strip();
    voices.requireKnown(voice); // a 400 before waiting for a worker
    return respond(script, () -> voices.builtIn(voice), type, format);
  }

  @PostMapping(path = "/tts/clone", consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
  ResponseEntity<StreamingResponseBody> clone(
      @RequestParam(name = "script", required = false) String script,
      @RequestPart(name = "voice_file", required = false) MultipartFile voiceFile,
      @RequestParam(name = "type", required = false) String type,
      @RequestParam(name = "format", required = false) String format)
      throws IOException {
    String text = script(script);
    ReturnType t = type(type);
    AudioFormat f = format(format);
    if (voiceFile == null) {
      throw ApiException.badRequest(
          "missing-voice-file",
          "Missing voice file",
          "the form must hold a voice_file part with the reference audio");
    }
    byte[] upload = voiceFile.getBytes();
    tts.requireFfmpeg("decoding voice_file");
    return respond(text, () -> voices.cloned(upload), t, f);
  }

  /**
   * Runs one synthesis inside a worker slot: the voice is built and the script checked before the
   * response starts (so errors are problems), and a streamed response keeps the slot until its last
   * byte.
   */
  private ResponseEntity<StreamingResponseBody> respond(
      String script, Supplier<VoiceState> voiceSource, ReturnType type, AudioFormat format)
      throws IOException {
    long start = System.nanoTime();
    HttpServletResponse servletResponse =
        ((ServletRequestAttributes) RequestContextHolder.currentRequestAttributes()).getResponse();
    SynthesisLimiter.Slot slot = limiter.acquire();
    try {
      VoiceState voice = voiceSource.get();
      List<TextChunk> chunks = tts.prepare(script, format);
      long prepared = System.nanoTime();
      if (type == ReturnType.URL) {
        TtsService.Saved saved;
        try (slot) {
          saved = tts.save(chunks, voice, format);
        }
        String name = saved.name();
        String base =
            settings.publicBaseUrl() != null
                ? settings.publicBaseUrl()
                : ServletUriComponentsBuilder.fromCurrentContextPath().build().toUriString();
        // one return type for both answers: Spring streams only
        // ResponseEntity<StreamingResponseBody>
        byte[] json = JSON.writeValueAsBytes(new UrlResponse(base + "/voice/" + name, name));
        String timing =
            String.format(
                Locale.ROOT,
                "queue;dur=%.1f, prepare;dur=%.1f, first-audio;dur=%.1f, total;dur=%.1f",
                slot.waitedNanos() / 1e6,
                (prepared - start) / 1e6,
                (prepared - start + Math.max(0, saved.result().firstPcmNanos())) / 1e6,
                (System.nanoTime() - start) / 1e6);
        return ResponseEntity.ok()
            .contentType(MediaType.APPLICATION_JSON)
            .header(SERVER_TIMING, timing)
            .body(out -> out.write(json));
      }
      StreamingResponseBody body =
          out -> {
            // Spring hands a stream that ignores flush(); the encoders' flushes must reach the
            // client, so that audio leaves as each block is ready
            CountingOutputStream counted =
                new CountingOutputStream(out, servletResponse::flushBuffer);
            try (slot) {
              tts.stream(chunks, voice, format, counted);
            } catch (IOException | RuntimeException e) {
              if (counted.count() > 0) {
                ConnectionAbort.closeNow(servletResponse, e);
              }
              throw e;
            }
          };
      return ResponseEntity.ok()
          .contentType(MediaType.parseMediaType(format.contentType()))
          .header(
              HttpHeaders.CONTENT_DISPOSITION,
              ContentDisposition.attachment()
                  .filename("speech." + format.extension())
                  .build()
                  .toString())
          .header(HttpHeaders.CACHE_CONTROL, "no-store")
          .header(
              SERVER_TIMING,
              String.format(
                  Locale.ROOT,
                  "queue;dur=%.1f, prepare;dur=%.1f",
                  slot.waitedNanos() / 1e6,
                  (prepared - start) / 1e6))
          .body(body);
    } catch (IOException | RuntimeException e) {
      slot.close();
      throw e;
    }
  }

  private String script(String script) {
    if (script == null || script.isBlank()) {
      throw ApiException.badRequest(
          "missing-script", "Missing script", "script is required and must not be empty");
    }
    if (script.length() > settings.maxScriptChars()) {
      throw new ApiException(
          HttpStatus.PAYLOAD_TOO_LARGE,
          "script-too-long",
          "Script too long",
          "the script has "
              + script.length()
              + " characters; the limit is "
              + settings.maxScriptChars()
              + " (MAX_SCRIPT_CHARS)");
    }
    ScriptCheck.check(script);
    return script;
  }

  private static ReturnType type(String type) {
    if (type == null || type.isBlank()) {
      return ReturnType.FILE;
    }
    return switch (type.strip().toLowerCase(Locale.ROOT)) {
      case "file" -> ReturnType.FILE;
      case "url" -> ReturnType.URL;
      default ->
          throw ApiException.badRequest(
              "unknown-type", "Unknown type", "type must be 'file' or 'url'");
    };
  }

  private static AudioFormat format(String format) {
    if (format == null || format.isBlank()) {
      return AudioFormat.MP3;
    }
    AudioFormat f = AudioFormat.fromName(format);
    if (f == null) {
      throw ApiException.badRequest(
          "unknown-format", "Unknown format", "format must be 'mp3', 'wav' or 'ogg'");
    }
    return f;
  }
}
