package dev.pockettts.server.voice;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.stats.CacheStats;
import dev.pockettts.server.api.ApiException;
import dev.pockettts.server.audio.Ffmpeg;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.engine.CloningUnavailableException;
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
import java.util.HexFormat;
import java.util.List;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;

/**
 * Voice states for requests: built-in voices by name and cloned voices by the SHA-256 of the
 * uploaded file, built once and kept in a cache bounded by their size in bytes.
 */
@Service
public class VoiceService {

  private final ModelService models;
  private final Ffmpeg ffmpeg;
  private final ServerSettings settings;
  private final Cache<String, VoiceState> cache;

  public VoiceService(
      ModelService models, Ffmpeg ffmpeg, ServerSettings settings, MeterRegistry registry) {
    this.models = models;
    this.ffmpeg = ffmpeg;
    this.settings = settings;
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

  /** Fails with 400 unless {@code name} is a built-in voice of the loaded model. */
  public void requireKnown(String name) {
    models.engine();
    if (!models.store().hasVoice(name)) {
      throw unknown(name);
    }
  }

  /** The state of a built-in voice; 400 for a name that is no voice. */
  public VoiceState builtIn(String name) {
    PocketTtsEngine engine = models.engine();
    ModelStore store = models.store();
    if (!ModelStore.validVoiceName(name)) {
      throw unknown(name);
    }
    try {
      return cache.get("voice:" + name, k -> engine.voiceFromFile(store.ensureVoice(name)));
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
    String key = "clone:" + sha256(upload);
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
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // a temporary file the OS cleans up
        }
      }
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
