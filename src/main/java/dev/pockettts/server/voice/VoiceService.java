package dev.pockettts.server.voice;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.stats.CacheStats;
import dev.pockettts.server.audio.Ffmpeg;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.engine.CloningUnavailableException;
import dev.pockettts.server.engine.EngineException;
import dev.pockettts.server.engine.Language;
import dev.pockettts.server.engine.PocketTtsEngine;
import dev.pockettts.server.engine.VoiceState;
import dev.pockettts.server.model.ModelFileException;
import dev.pockettts.server.model.ModelStore;
import dev.pockettts.server.synthesis.ModelService;
import dev.pockettts.server.system.ClientText;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.springframework.stereotype.Service;

/**
 * Voice states for requests: built-in and saved voices by name, cloned voices by the SHA-256 of the
 * uploaded file, each built once and kept in a cache bounded by their size in bytes. Saved voices
 * live in the {@link VoiceLibrary}.
 */
@Service
public class VoiceService {

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(VoiceService.class);

  private final ModelService models;
  private final Ffmpeg ffmpeg;
  private final ServerSettings settings;
  private final Cache<String, VoiceState> cache;
  private final VoiceLibrary library;

  public VoiceService(
      ModelService models,
      Ffmpeg ffmpeg,
      ServerSettings settings,
      VoiceLibrary library,
      MeterRegistry registry) {
    this.models = models;
    this.ffmpeg = ffmpeg;
    this.settings = settings;
    this.library = library;
    library.removeLeftovers();
    this.cache =
        Caffeine.newBuilder()
            .maximumWeight(settings.voiceCacheBytes())
            .weigher((String k, VoiceState v) -> (int) Math.min(Integer.MAX_VALUE, v.bytes()))
            .recordStats()
            .build();
    CaffeineCacheMetrics.monitor(registry, cache, "voices");
  }

  /** The voice a request without one speaks with (the seed server's). */
  public static final String DEFAULT_VOICE = "alba";

  /** The default voice of a bundle: alba, else its first built-in voice; null when it has none. */
  public static String defaultVoiceOf(ModelService.Bundle b) {
    List<String> names = b.store().voiceNames();
    return names.contains(DEFAULT_VOICE) ? DEFAULT_VOICE : names.isEmpty() ? null : names.get(0);
  }

  /** A voice ready to speak: its state and the bundle it belongs to. */
  public record Voice(ModelService.Bundle bundle, VoiceState state) {

    public PocketTtsEngine engine() {
      return bundle.engine();
    }
  }

  private static final String BUILT_IN = "voice:";
  private static final String SAVED = "saved:";
  private static final String CLONED = "clone:";

  /** Names of the default bundle's built-in voices. */
  public List<String> builtInNames() {
    return models.store().voiceNames();
  }

  /** A voice found by name: a built-in one of {@code bundle}, or a saved one. */
  private record Found(ModelService.Bundle bundle, VoiceLibrary.Entry saved) {}

  /**
   * Finds a voice for a request: with a model named, among that bundle's voices; without, among the
   * default bundle's, then the others'; then among saved voices, which belong to the bundle they
   * were made with. 400 for a name that is no voice, or a saved voice of another model.
   */
  private Found find(String name, String model) {
    ModelService.Bundle wanted = model == null || model.isBlank() ? null : models.bundle(model);
    ModelService.Bundle owner =
        builtInOwner(name, wanted != null ? List.of(wanted) : models.bundles());
    if (owner != null) {
      return new Found(owner, null);
    }
    VoiceLibrary.Entry saved = library.find(name).orElseThrow(() -> unknown(name));
    ModelService.Bundle own = models.find(saved.bundle()).orElse(null);
    if (own == null || (wanted != null && own != wanted)) {
      throw new VoiceException(
          VoiceException.Reason.VOICE_MODEL_MISMATCH,
          "voice '"
              + saved.id()
              + "' was made with the model "
              + saved.bundle()
              + (own == null
                  ? ", which is not loaded"
                  : " and does not fit " + wanted.name() + "; leave the model out to use it"));
    }
    return new Found(own, saved);
  }

  /** Fails with 400 unless {@code name} is a voice the request can use (nothing is loaded). */
  public void requireKnown(String name, String model) {
    find(name, model);
  }

  /** A built-in or saved voice, by name; 400 for a name that is no voice. */
  public Voice named(String name, String model) {
    Found f = find(name, model);
    PocketTtsEngine engine = f.bundle().engine();
    if (f.saved() != null) {
      // the entry was read for this request: a voice deleted or saved anew on another replica
      // is not served from the state cached for the old one
      try {
        return new Voice(
            f.bundle(),
            cache.get(
                savedKey(f.saved()),
                k -> engine.voiceFromSafetensors(readState(f.saved()), "saved voice " + name)));
      } catch (EngineException | IllegalArgumentException | UncheckedIOException e) {
        if (library.find(name).isEmpty()) {
          throw unknown(name); // deleted meanwhile
        }
        log.error("Cannot read saved voice {}: {}", name, e.toString());
        throw new VoiceException(
            VoiceException.Reason.VOICE_UNREADABLE,
            "the saved voice '"
                + name
                + "' cannot be read ("
                + ClientText.withoutPaths(library.hide(String.valueOf(e.getMessage())))
                + "); delete it and save it again");
      }
    }
    try {
      return new Voice(
          f.bundle(),
          cache.get(
              BUILT_IN + f.bundle().name() + ":" + name,
              k -> engine.voiceFromFile(f.bundle().store().ensureVoice(name))));
    } catch (ModelFileException e) {
      if (e.reason() == ModelFileException.Reason.NOT_FOUND) {
        throw unknown(name);
      }
      throw new VoiceException(
          VoiceException.Reason.VOICE_UNAVAILABLE,
          "voice '" + name + "' cannot be loaded: " + ClientText.withoutPaths(e.getMessage()));
    }
  }

  /** The cache key of one save of a saved voice. */
  private static String savedKey(VoiceLibrary.Entry e) {
    return SAVED + e.id() + "@" + e.generation();
  }

  private java.nio.ByteBuffer readState(VoiceLibrary.Entry e) {
    try {
      return library.state(e);
    } catch (IOException x) {
      throw new UncheckedIOException(x);
    }
  }

  private VoiceException unknown(String name) {
    return new VoiceException(
        VoiceException.Reason.UNKNOWN_VOICE,
        "there is no voice called '" + ClientText.shown(name) + "'; GET /voices lists the voices");
  }

  /**
   * A voice cloned from uploaded audio with the bundle {@code model} names (the default when null),
   * cached under the bundle and the upload's SHA-256 so the same file is encoded once. The upload
   * is decoded in a temporary file that is deleted after.
   */
  public Voice cloned(byte[] upload, String model, long timeoutMillis) {
    ModelService.Bundle bundle = models.bundle(model);
    String problem = bundle.cloningProblem();
    if (problem != null) {
      throw new CloningUnavailableException(problem);
    }
    if (upload.length == 0) {
      throw new VoiceException(VoiceException.Reason.EMPTY_AUDIO, "the audio is empty");
    }
    String key = CLONED + bundle.name() + ":" + sha256(upload);
    return new Voice(bundle, cache.get(key, k -> encode(bundle.engine(), upload, timeoutMillis)));
  }

  private VoiceState encode(PocketTtsEngine engine, byte[] upload, long timeoutMillis) {
    try {
      float[] pcm =
          ffmpeg.decode(
              upload, settings.maxRefDurationSeconds(), engine.sampleRate(), timeoutMillis);
      checkReference(pcm, engine.sampleRate());
      return engine.voiceFromAudio(pcm);
    } catch (Ffmpeg.UndecodableAudioException e) {
      throw new VoiceException(VoiceException.Reason.UNDECODABLE_AUDIO, e.getMessage());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ------------------------------------------------------------------ the library

  /**
   * One voice as the API describes it.
   *
   * @param id what requests use
   * @param name the same (the issue's word for it, kept for clients that read {@code name})
   * @param created ISO-8601 instant a saved voice was saved; null for built-in voices
   * @param cached whether its state is in memory now
   */
  public record Description(
      String id,
      String name,
      String language,
      String bundle,
      String source,
      String created,
      boolean cached) {}

  /** Built-in voices of each bundle (the default first), then saved voices (oldest first). */
  public List<Description> list() {
    List<Description> out = new ArrayList<>();
    for (ModelService.Bundle b : models.bundles()) {
      for (String name : b.store().voiceNames()) {
        out.add(builtIn(b, name));
      }
    }
    for (VoiceLibrary.Entry e : library.list()) {
      out.add(describe(e));
    }
    return out;
  }

  /** The bundle with a built-in voice of that name (the default bundle's first), or null. */
  private ModelService.Bundle builtInOwner(String id) {
    return builtInOwner(id, models.bundles());
  }

  /** The first of {@code bundles} with a built-in voice of that name, or null. */
  private static ModelService.Bundle builtInOwner(String id, List<ModelService.Bundle> bundles) {
    if (!ModelStore.validVoiceName(id)) {
      return null;
    }
    return bundles.stream().filter(b -> b.store().hasVoice(id)).findFirst().orElse(null);
  }

  /** One voice; 404 when there is none of that name. */
  public Description describe(String id) {
    ModelService.Bundle owner = builtInOwner(id);
    if (owner != null) {
      return builtIn(owner, id);
    }
    return describe(library.find(id).orElseThrow(() -> notFound(id)));
  }

  private Description builtIn(ModelService.Bundle b, String name) {
    return new Description(
        name,
        name,
        b.language(),
        b.name(),
        "built-in",
        null,
        cache.asMap().containsKey(BUILT_IN + b.name() + ":" + name));
  }

  private Description describe(VoiceLibrary.Entry e) {
    return new Description(
        e.id(),
        e.id(),
        Language.familyOr(e.language()),
        e.bundle(),
        e.source(),
        e.created(),
        cache.asMap().containsKey(savedKey(e)));
  }

  /**
   * Clones a voice from {@code upload} with the bundle {@code model} names and saves it as {@code
   * name}; the recording itself is not kept, only the voice state made from it.
   */
  public Description saveCloned(String name, byte[] upload, String model, long timeoutMillis) {
    String id = newId(name);
    return store(id, "cloned", cloned(upload, model, timeoutMillis));
  }

  /**
   * Saves the voice state in {@code file} (KV-state or audio-prompt safetensors) as {@code name},
   * for the bundle {@code model} names (the default when null).
   */
  public Description importState(String name, byte[] file, String model) {
    String id = newId(name);
    ModelService.Bundle bundle = models.bundle(model);
    if (file.length == 0) {
      throw invalidStateFile("the file is empty");
    }
    VoiceState state;
    try {
      state = bundle.engine().voiceFromSafetensors(java.nio.ByteBuffer.wrap(file), "the file");
      bundle.engine().requireRoomToSpeak(state, settings.generation());
    } catch (EngineException | IllegalArgumentException e) {
      throw invalidStateFile(ClientText.withoutPaths(String.valueOf(e.getMessage())));
    }
    return store(id, "imported", new Voice(bundle, state));
  }

  /** A voice's state as KV-state safetensors (the upstream format), built-in or saved. */
  public byte[] export(String id) {
    if (builtInOwner(id) == null && library.find(id).isEmpty()) {
      throw notFound(id);
    }
    Voice v = named(id, null);
    return v.engine().exportVoice(v.state());
  }

  /** Deletes a saved voice: 404 when there is none, 409 for a built-in one. */
  public void delete(String id) {
    if (builtInOwner(id) != null) {
      throw new VoiceException(
          VoiceException.Reason.BUILT_IN_VOICE,
          "'" + id + "' is a built-in voice of the model and cannot be deleted");
    }
    try {
      if (!library.delete(id)) {
        throw notFound(id);
      }
    } catch (IOException e) {
      log.error("Cannot delete voice {} from {}: {}", id, library.where(), e.toString());
      throw new VoiceException(
          VoiceException.Reason.VOICE_LIBRARY_UNWRITABLE,
          "voice '"
              + id
              + "' could not be deleted from "
              + library.where()
              + ": "
              + ClientText.reason(e));
    }
    cache.asMap().keySet().removeIf(k -> k.startsWith(SAVED + id + "@"));
  }

  private Description store(String id, String source, Voice voice) {
    byte[] data = voice.engine().exportVoice(voice.state());
    VoiceLibrary.Entry entry =
        new VoiceLibrary.Entry(
            id,
            voice.bundle().name(),
            voice.bundle().language(),
            source,
            Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(),
            voice.state().positions(),
            data.length,
            true,
            java.util.UUID.randomUUID().toString().replace("-", ""));
    try {
      library.save(entry, data);
    } catch (VoiceLibrary.ExistsException e) {
      throw exists(id);
    } catch (VoiceLibrary.FullException e) {
      throw new VoiceException(
          VoiceException.Reason.VOICE_LIBRARY_FULL,
          e.getMessage() + " (VOICE_LIBRARY_MAX); delete a voice first");
    } catch (IOException e) {
      log.error("Cannot save voice {} in {}: {}", id, library.where(), e.toString());
      throw new VoiceException(
          VoiceException.Reason.VOICE_LIBRARY_UNWRITABLE,
          "the voice could not be saved in " + library.where() + ": " + ClientText.reason(e));
    }
    cache.put(savedKey(entry), voice.state());
    return describe(entry);
  }

  /** Checks a new voice's name: the pattern, and no clash with a built-in or OpenAI voice name. */
  private String newId(String name) {
    if (name == null || name.isBlank()) {
      throw new VoiceException(
          VoiceException.Reason.MISSING_NAME, "the form must hold a name for the voice");
    }
    String id = name.strip();
    if (!VoiceLibrary.validId(id)) {
      throw new VoiceException(
          VoiceException.Reason.INVALID_VOICE_NAME,
          "a voice name is 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter"
              + " or digit");
    }
    if (builtInOwner(id) != null
        || OpenAiVoices.ALIASES.containsKey(id)
        || library.find(id).isPresent()) {
      throw exists(id);
    }
    return id;
  }

  private static VoiceException exists(String id) {
    return new VoiceException(
        VoiceException.Reason.VOICE_EXISTS,
        "there is already a voice called '" + id + "'; pick another name or delete that one");
  }

  private static VoiceException notFound(String id) {
    return new VoiceException(
        VoiceException.Reason.VOICE_NOT_FOUND,
        "there is no voice called '" + ClientText.shown(id) + "'; GET /voices lists them");
  }

  private static VoiceException invalidStateFile(String why) {
    return new VoiceException(
        VoiceException.Reason.INVALID_VOICE_FILE,
        "the voice file is not a voice state this model can use: " + why);
  }

  /** Shortest reference that can carry a voice. */
  static final double MIN_REF_SECONDS = 0.5;

  private static void checkReference(float[] pcm, int sampleRate) {
    if (pcm.length < MIN_REF_SECONDS * sampleRate) {
      throw new VoiceException(
          VoiceException.Reason.REFERENCE_TOO_SHORT,
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
      throw new VoiceException(
          VoiceException.Reason.REFERENCE_SILENT,
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
