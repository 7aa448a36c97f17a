package dev.pockettts.server.api;

import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.synthesis.SynthesisLimiter;
import dev.pockettts.server.synthesis.TtsService;
import dev.pockettts.server.voice.VoiceService;
import io.swagger.v3.oas.annotations.Operation;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.springframework.http.ContentDisposition;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.multipart.MultipartFile;

/**
 * The voice library: saved voices (cloned once from a recording, or imported as a state file) that
 * requests then use by name, next to the built-in ones.
 */
@RestController
class VoiceController {

  private final VoiceService voices;
  private final TtsService tts;
  private final SynthesisLimiter limiter;
  private final ServerSettings settings;

  VoiceController(
      VoiceService voices, TtsService tts, SynthesisLimiter limiter, ServerSettings settings) {
    this.voices = voices;
    this.tts = tts;
    this.limiter = limiter;
    this.settings = settings;
  }

  @Operation(summary = "Built-in and saved voices: id, language, model, source, created, cached")
  @GetMapping("/voices")
  Map<String, List<VoiceService.Description>> list() {
    return Map.of("voices", voices.list());
  }

  @Operation(summary = "One voice")
  @GetMapping("/voices/{id}")
  VoiceService.Description get(@PathVariable String id) {
    return voices.describe(id);
  }

  @Operation(
      summary =
          "Save a voice cloned from a recording (form: name, audio, consent=true); the recording"
              + " is not kept")
  @PostMapping(path = "/voices", consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
  ResponseEntity<VoiceService.Description> create(
      @RequestParam(name = "name", required = false) String name,
      @RequestPart(name = "audio", required = false) MultipartFile audio,
      @RequestParam(name = "consent", required = false) String consent,
      @RequestParam(name = "bundle", required = false) String bundle)
      throws IOException {
    requireConsent(consent);
    if (audio == null) {
      throw ApiException.badRequest(
          "missing-audio", "Missing audio", "the form must hold an audio part with the recording");
    }
    tts.requireFfmpeg("decoding audio");
    VoiceService.Description saved;
    try (SynthesisLimiter.Slot slot = limiter.acquire()) {
      // the recording comes into memory only inside a worker slot
      saved = voices.saveCloned(name, audio.getBytes(), bundle, slot.remainingMillis());
    }
    return created(saved);
  }

  @Operation(
      summary =
          "Save a voice from a KV-state safetensors file (form: name, file, consent=true; or the"
              + " raw file with ?name=&consent=true)")
  @PostMapping(path = "/voices/import", consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
  ResponseEntity<VoiceService.Description> importForm(
      @RequestParam(name = "name", required = false) String name,
      @RequestPart(name = "file", required = false) MultipartFile file,
      @RequestParam(name = "consent", required = false) String consent,
      @RequestParam(name = "bundle", required = false) String bundle)
      throws IOException {
    requireConsent(consent);
    if (file == null) {
      throw ApiException.badRequest(
          "missing-file", "Missing file", "the form must hold a file part with the voice state");
    }
    try (SynthesisLimiter.Slot slot = limiter.acquire()) {
      return created(voices.importState(name, file.getBytes(), bundle));
    }
  }

  @Operation(summary = "Save a voice from a raw KV-state safetensors body (?name=&consent=true)")
  @PostMapping(path = "/voices/import", consumes = MediaType.APPLICATION_OCTET_STREAM_VALUE)
  ResponseEntity<VoiceService.Description> importRaw(
      @RequestParam(name = "name", required = false) String name,
      @RequestParam(name = "consent", required = false) String consent,
      @RequestParam(name = "bundle", required = false) String bundle,
      InputStream body)
      throws IOException {
    requireConsent(consent);
    long max = settings.maxVoiceFileBytes();
    // a worker slot before the body is read: the memory of imports is bounded like syntheses
    try (SynthesisLimiter.Slot slot = limiter.acquire()) {
      byte[] data = body.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
      if (data.length > max) {
        throw new ApiException(
            HttpStatus.CONTENT_TOO_LARGE,
            "voice-file-too-large",
            "Voice file too large",
            "the voice file is over MAX_VOICE_FILE_MB (" + max / (1024 * 1024) + " MB)");
      }
      return created(voices.importState(name, data, bundle));
    }
  }

  @Operation(summary = "A voice's state as KV-state safetensors, for the Python tools")
  @PostMapping("/voices/{id}/export")
  ResponseEntity<byte[]> export(@PathVariable String id) {
    byte[] data;
    try (SynthesisLimiter.Slot slot = limiter.acquire()) {
      data = voices.export(id);
    }
    return ResponseEntity.ok()
        .contentType(MediaType.APPLICATION_OCTET_STREAM)
        .header(
            "Content-Disposition",
            ContentDisposition.attachment().filename(id + ".safetensors").build().toString())
        .body(data);
  }

  @Operation(summary = "Delete a saved voice")
  @DeleteMapping("/voices/{id}")
  ResponseEntity<Void> delete(@PathVariable String id) {
    voices.delete(id);
    return ResponseEntity.noContent().build();
  }

  private static void requireConsent(String consent) {
    if (consent == null || !consent.strip().toLowerCase(Locale.ROOT).equals("true")) {
      throw ApiException.badRequest(
          "consent-required",
          "Consent required",
          "saving a voice needs consent=true: confirm that the speaker agreed to have their voice"
              + " cloned");
    }
  }

  private static ResponseEntity<VoiceService.Description> created(VoiceService.Description d) {
    return ResponseEntity.created(URI.create("/voices/" + d.id())).body(d);
  }
}
