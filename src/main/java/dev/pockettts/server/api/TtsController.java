package dev.pockettts.server.api;

import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.synthesis.TtsService;
import dev.pockettts.server.voice.VoiceService;
import io.swagger.v3.oas.annotations.Operation;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Locale;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.multipart.MultipartFile;
import org.springframework.web.servlet.mvc.method.annotation.StreamingResponseBody;
import tools.jackson.databind.JsonNode;

/** The seed server's speech endpoints: {@code POST /tts} and {@code POST /tts/clone}. */
@RestController
class TtsController {

  static final String DEFAULT_VOICE = VoiceService.DEFAULT_VOICE;

  /** Body of {@code POST /tts}; every field but the script has the seed's default. */
  record TtsRequest(
      String script, String model, String type, String format, boolean normalize, String bundle) {

    static TtsRequest from(JsonNode body) {
      JsonFields.requireObject(body, "{\"script\": \"Hello\"}");
      return new TtsRequest(
          JsonFields.text(body, "script"),
          JsonFields.text(body, "model"),
          JsonFields.text(body, "type"),
          JsonFields.text(body, "format"),
          JsonFields.flag(body, "normalize"),
          JsonFields.text(body, "bundle"));
    }
  }

  private enum ReturnType {
    FILE,
    URL
  }

  private final TtsService tts;
  private final VoiceService voices;
  private final ServerSettings settings;
  private final SpeechResponder responder;

  TtsController(
      TtsService tts, VoiceService voices, ServerSettings settings, SpeechResponder responder) {
    this.tts = tts;
    this.voices = voices;
    this.settings = settings;
    this.responder = responder;
  }

  @Operation(
      summary = "Speech from a built-in voice, streamed (type=file) or saved and linked (type=url)")
  @PostMapping(path = "/tts", consumes = MediaType.APPLICATION_JSON_VALUE)
  ResponseEntity<StreamingResponseBody> speak(
      @RequestBody @io.swagger.v3.oas.annotations.media.Schema(implementation = TtsRequest.class)
          JsonNode body,
      HttpServletResponse response)
      throws IOException {
    TtsRequest request = TtsRequest.from(body);
    String script = script(request.script());
    ReturnType type = type(request.type());
    AudioFormat format = format(request.format());
    String voice =
        request.model() == null || request.model().isBlank()
            ? DEFAULT_VOICE
            : request.model().strip();
    String bundle = request.bundle();
    voices.requireKnown(voice, bundle); // a 400 before waiting for a worker
    return responder.respond(
        response,
        script,
        timeout -> voices.named(voice, bundle),
        type == ReturnType.URL,
        format,
        1.0,
        request.normalize(),
        null);
  }

  @Operation(
      summary =
          "Speech in the voice of an uploaded recording (form: script, voice_file, type, format,"
              + " speed)")
  @PostMapping(path = "/tts/clone", consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
  ResponseEntity<StreamingResponseBody> clone(
      @RequestParam(name = "script", required = false) String script,
      @RequestPart(name = "voice_file", required = false) MultipartFile voiceFile,
      @RequestParam(name = "type", required = false) String type,
      @RequestParam(name = "format", required = false) String format,
      @RequestParam(name = "normalize", required = false) String normalize,
      @RequestParam(name = "speed", required = false) String speed,
      @RequestParam(name = "bundle", required = false) String bundle,
      HttpServletResponse response)
      throws IOException {
    String text = script(script);
    boolean readAloud = normalize == null || !normalize.strip().equalsIgnoreCase("false");
    ReturnType t = type(type);
    AudioFormat f = format(format);
    double tempo = speed(speed);
    if (voiceFile == null) {
      throw ApiException.badRequest(
          "missing-voice-file",
          "Missing voice file",
          "the form must hold a voice_file part with the reference audio");
    }
    tts.requireFfmpeg("decoding voice_file");
    return responder.respond(
        response,
        text,
        timeout -> voices.cloned(bytes(voiceFile), bundle, timeout), // read inside the slot
        t == ReturnType.URL,
        f,
        tempo,
        readAloud,
        null);
  }

  private String script(String script) {
    return ScriptCheck.check(script, "script", settings.maxScriptChars());
  }

  /** The optional speed of /tts/clone (a form field): 1.0 when absent. */
  private static double speed(String speed) {
    if (speed == null || speed.isBlank()) {
      return 1.0;
    }
    try {
      double v = Double.parseDouble(speed.strip());
      if (v >= SpeechResponder.MIN_SPEED && v <= SpeechResponder.MAX_SPEED) {
        return v;
      }
    } catch (NumberFormatException e) {
      // answered below
    }
    throw ApiException.badRequest(
        "invalid-speed",
        "Invalid speed",
        "speed must be a number from "
            + SpeechResponder.MIN_SPEED
            + " to "
            + SpeechResponder.MAX_SPEED);
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
          "unknown-format", "Unknown format", "format must be one of " + AudioFormat.names());
    }
    return f;
  }

  private static byte[] bytes(MultipartFile file) {
    try {
      return file.getBytes();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
