package dev.pockettts.server.voice;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.stats.CacheStats;
import dev.pockettts.server.api.ApiException;
import dev.pockettts.server.audio.Ffmpeg;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.engine.CloningUnavailableException;
import dev.pockettts.server.engine.EngineException;
import dev.pockettts.server.engine.PocketTtsEngine;
import dev.pockettts.server.engine.VoiceState;
import dev.pockettts.server.model.ModelFileException;
import dev.pockettts.server.model.ModelStore;
import dev.pockettts.server.synthesis.ModelService;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;

/**
 * Voice states for requests: built-in and saved voices by name, cloned voices by the SHA-256 of the
 * uploaded file, each built once and kept in a cache bounded by their size in bytes. Saved voices
 * live in the {@link VoiceLibrary}.
 */
@Service
public class VoiceService {

  private final ModelService models;
  private final Ffmpeg ffmpeg;
  private final ServerSettings settings;
  private final Cache<String, VoiceState> cache;
  private final VoiceLibrary library;

  public VoiceService(
      ModelService models, Ffmpeg ffmpeg, ServerSettings settings, MeterRegistry registry) {
    this.models = models;
    this.ffmpeg = ffmpeg;
    this.settings = settings;
    this.library = new VoiceLibrary(settings.voicesDir(), settings.voiceLibraryMax());
    library.removeLeftovers();
    this.cache =
        Caffeine.newBuilder()
            .maximumWeight(settings.voiceCacheBytes())
            .weigher((String k, VoiceState v) -> (int) Math.min(Integer.MAX_VALUE, v.bytes()))
            .recordStats()
            .build();
    CaffeineCacheMetrics.monitor(registry, cache, "voices");
  }

  /** Names of the built-in voices. */
  public List<String> builtInNames() {
    return models.store().voiceNames();
  }

  /** Fails with 400 unless {@code name} is a built-in or saved voice of the loaded model. */
  public void requireKnown(String name) {
    models.engine();
    if (!models.store().hasVoice(name) && library.find(name).isEmpty()) {
      throw unknown(name);
    }
  }

  /** The state of a built-in or saved voice; 400 for a name that is no voice. */
  public VoiceState named(String name) {
    PocketTtsEngine engine = models.engine();
    ModelStore store = models.store();
    if (!ModelStore.validVoiceName(name) || !store.hasVoice(name)) {
      VoiceLibrary.Entry saved = library.find(name).orElseThrow(() -> unknown(name));
      requireSameBundle(saved, engine);
      return cache.get(SAVED + name, k -> engine.voiceFromFile(library.stateFile(name)));
    }
    try {
      return cache.get(BUILT_IN + name, k -> engine.voiceFromFile(store.ensureVoice(name)));
    } catch (ModelFileException e) {
      if (e.reason() == ModelFileException.Reason.NOT_FOUND) {
        throw unknown(name);
      }
      throw new ApiException(
          HttpStatus.SERVICE_UNAVAILABLE,
          "voice-unavailable",
          "Voice unavailable",
          "voice '" + name + "' cannot be loaded: " + e.getMessage());
    }
  }

  private static final String BUILT_IN = "voice:";
  private static final String SAVED = "saved:";
  private static final String CLONED = "clone:";

  private static void requireSameBundle(VoiceLibrary.Entry saved, PocketTtsEngine engine) {
    if (!saved.bundle().equals(engine.config().name())) {
      throw ApiException.badRequest(
          "voice-model-mismatch",
          "Voice made for another model",
          "voice '"
              + saved.id()
              + "' was made with the model "
              + saved.bundle()
              + " and does not fit "
              + engine.config().name());
    }
  }

  // ------------------------------------------------------------------ the library

  /** One voice as the API describes it. */
  public record Description(
      String id, String language, String bundle, String source, String created, boolean cached) {}

  /** Built-in voices, then saved voices (oldest first). */
  public List<Description> list() {
    PocketTtsEngine engine = models.engine();
    List<Description> out = new ArrayList<>();
    for (String name : builtInNames()) {
      out.add(builtInDescription(engine, name));
    }
    for (VoiceLibrary.Entry e : library.list()) {
      out.add(describe(e));
    }
    return out;
  }

  /** One voice; 404 when there is none of that name. */
  public Description describe(String id) {
    PocketTtsEngine engine = models.engine();
    if (ModelStore.validVoiceName(id) && models.store().hasVoice(id)) {
      return builtInDescription(engine, id);
    }
    return describe(library.find(id).orElseThrow(() -> notFound(id)));
  }

  private Description builtInDescription(PocketTtsEngine engine, String name) {
    return new Description(
        name,
        engine.config().language(),
        engine.config().name(),
        "built-in",
        null,
        cache.asMap().containsKey(BUILT_IN + name));
  }

  private Description describe(VoiceLibrary.Entry e) {
    return new Description(
        e.id(),
        e.language(),
        e.bundle(),
        e.source(),
        e.created(),
        cache.asMap().containsKey(SAVED + e.id()));
  }

  /**
   * Clones a voice from {@code upload} and saves it as {@code name}; the recording itself is not
   * kept, only the voice state made from it.
   */
  public Description saveCloned(String name, byte[] upload) {
    String id = newId(name);
    VoiceState state = cloned(upload);
    return store(id, "cloned", state);
  }

  /**
   * Saves the voice state in {@code file} (KV-state or audio-prompt safetensors) as {@code name}.
   */
  public Description importState(String name, byte[] file) {
    String id = newId(name);
    PocketTtsEngine engine = models.engine();
    if (file.length == 0) {
      throw invalidStateFile("the file is empty");
    }
    Path tmp = null;
    try {
      tmp = Files.createTempFile("pockettts-import-", ".safetensors");
      Files.write(tmp, file);
      VoiceState state;
      try {
        state = engine.voiceFromFile(tmp);
      } catch (EngineException | IllegalArgumentException e) {
        throw invalidStateFile(e.getMessage().replace(tmp.toString(), "the file"));
      }
      return store(id, "imported", state);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      deleteQuietly(tmp);
    }
  }

  /** A voice's state as KV-state safetensors (the upstream format), built-in or saved. */
  public byte[] export(String id) {
    PocketTtsEngine engine = models.engine();
    if (!(ModelStore.validVoiceName(id) && models.store().hasVoice(id))
        && library.find(id).isEmpty()) {
      throw notFound(id);
    }
    return engine.exportVoice(named(id));
  }

  /** Deletes a saved voice: 404 when there is none, 409 for a built-in one. */
  public void delete(String id) {
    models.engine();
    if (ModelStore.validVoiceName(id) && models.store().hasVoice(id)) {
      throw new ApiException(
          HttpStatus.CONFLICT,
          "built-in-voice",
          "Built-in voice",
          "'" + id + "' is a built-in voice of the model and cannot be deleted");
    }
    try {
      if (!library.delete(id)) {
        throw notFound(id);
      }
    } catch (IOException e) {
      throw new ApiException(
          HttpStatus.INTERNAL_SERVER_ERROR,
          "voice-library-unwritable",
          "Voice library not writable",
          "voice '" + id + "' could not be deleted: " + e.getMessage());
    }
    cache.invalidate(SAVED + id);
  }

  private Description store(String id, String source, VoiceState state) {
    PocketTtsEngine engine = models.engine();
    byte[] data = engine.exportVoice(state);
    VoiceLibrary.Entry entry =
        new VoiceLibrary.Entry(
            id,
            engine.config().name(),
            engine.config().language(),
            source,
            Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(),
            state.positions(),
            data.length,
            true);
    try {
      library.save(entry, data);
    } catch (VoiceLibrary.ExistsException e) {
      throw exists(id);
    } catch (VoiceLibrary.FullException e) {
      throw new ApiException(
          HttpStatus.INSUFFICIENT_STORAGE,
          "voice-library-full",
          "Voice library full",
          e.getMessage() + " (VOICE_LIBRARY_MAX); delete a voice first");
    } catch (IOException e) {
      throw new ApiException(
          HttpStatus.INTERNAL_SERVER_ERROR,
          "voice-library-unwritable",
          "Voice library not writable",
          "the voice could not be saved in " + library.folder() + ": " + e.getMessage());
    }
    cache.put(SAVED + id, state);
    return describe(entry);
  }

  /** Checks a new voice's name: the pattern, and no clash with a built-in or OpenAI voice name. */
  private String newId(String name) {
    if (name == null || name.isBlank()) {
      throw ApiException.badRequest(
          "missing-name", "Missing name", "the form must hold a name for the voice");
    }
    String id = name.strip();
    if (!VoiceLibrary.validId(id)) {
      throw ApiException.badRequest(
          "invalid-voice-name",
          "Invalid voice name",
          "a voice name is 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter"
              + " or digit");
    }
    models.engine();
    if (models.store().hasVoice(id)
        || OpenAiVoices.ALIASES.containsKey(id)
        || library.find(id).isPresent()) {
      throw exists(id);
    }
    return id;
  }

  private static ApiException exists(String id) {
    return new ApiException(
        HttpStatus.CONFLICT,
        "voice-exists",
        "Voice exists",
        "there is already a voice called '" + id + "'; pick another name or delete that one");
  }

  private static ApiException notFound(String id) {
    String shown = id == null ? "" : id.length() > 64 ? id.substring(0, 64) + "..." : id;
    return new ApiException(
        HttpStatus.NOT_FOUND,
        "voice-not-found",
        "Voice not found",
        "there is no voice called '" + shown + "'; GET /voices lists them");
  }

  private static ApiException invalidStateFile(String why) {
    return new ApiException(
        HttpStatus.UNPROCESSABLE_CONTENT,
        "invalid-voice-file",
        "Invalid voice file",
        "the voice file is not a voice state this model can use: " + why);
  }

  private static void deleteQuietly(Path tmp) {
    if (tmp != null) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // a temporary file the OS cleans up
      }
    }
  }

  private ApiException unknown(String name) {
    String shown = name == null ? "" : name.length() > 64 ? name.substring(0, 64) + "..." : name;
    return ApiException.badRequest(
        "unknown-voice",
        "Unknown voice",
        "there is no voice called '" + shown + "'; GET / lists the voices");
  }

  /**
   * The state of a voice cloned from uploaded audio, cached under the upload's SHA-256 so the same
   * file is encoded once. The upload is decoded in a temporary file that is deleted after.
   */
  public VoiceState cloned(byte[] upload) {
    PocketTtsEngine engine = models.engine();
    String problem = models.cloningProblem();
    if (problem != null) {
      throw new CloningUnavailableException(problem);
    }
    if (upload.length == 0) {
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT, "empty-audio", "Empty audio", "voice_file is empty");
    }
    String key = CLONED + sha256(upload);
    return cache.get(key, k -> encode(engine, upload));
  }

  private VoiceState encode(PocketTtsEngine engine, byte[] upload) {
    Path tmp = null;
    try {
      tmp = Files.createTempFile("pockettts-ref-", ".audio");
      Files.write(tmp, upload);
      float[] pcm = ffmpeg.decode(tmp, settings.maxRefDurationSeconds(), engine.sampleRate());
      checkReference(pcm, engine.sampleRate());
      return engine.voiceFromAudio(pcm);
    } catch (Ffmpeg.UndecodableAudioException e) {
      throw new ApiException(
          HttpStatus.UNSUPPORTED_MEDIA_TYPE,
          "undecodable-audio",
          "Audio cannot be decoded",
          "voice_file is not audio FFmpeg can decode: " + e.getMessage());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      deleteQuietly(tmp);
    }
  }

  /** Shortest reference that can carry a voice. */
  static final double MIN_REF_SECONDS = 0.5;

  private static void checkReference(float[] pcm, int sampleRate) {
    if (pcm.length < MIN_REF_SECONDS * sampleRate) {
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT,
          "reference-too-short",
          "Reference too short",
          String.format(
              java.util.Locale.ROOT,
              "voice_file holds %.3f s of audio; at least %.1f s of speech is needed",
              pcm.length / (double) sampleRate,
              MIN_REF_SECONDS));
    }
    float peak = 0;
    for (float s : pcm) {
      peak = Math.max(peak, Math.abs(s));
    }
    if (peak < 1e-3f) {
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT,
          "reference-silent",
          "Reference is silent",
          "voice_file holds only silence; send a recording of the voice to clone");
    }
  }

  public CacheStats stats() {
    return cache.stats();
  }

  public long cachedVoices() {
    return cache.estimatedSize();
  }

  static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
