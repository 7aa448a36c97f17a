package dev.pockettts.server.config;

import dev.pockettts.server.engine.EngineOptions;
import dev.pockettts.server.engine.GenerationParams;
import dev.pockettts.server.engine.Precision;
import dev.pockettts.server.model.ModelSettings;
import dev.pockettts.server.model.ModelStore;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * Every setting of the server, read from the environment and {@code .env} by the names in {@code
 * .env.example}. Parsing checks each value and names the setting when one is wrong.
 *
 * @param apiKey the key clients send ({@code API_KEY}); null only with {@code AUTH_DISABLED=true}
 * @param maxRefDurationSeconds reference audio kept for cloning ({@code MAX_REF_DURATION})
 * @param maxScriptChars longest script accepted ({@code MAX_SCRIPT_CHARS})
 * @param maxUploadBytes largest reference upload accepted ({@code MAX_UPLOAD_BYTES})
 * @param voiceDir where {@code type=url} files are written ({@code VOICE_DIR})
 * @param publicBaseUrl base of returned URLs ({@code PUBLIC_BASE_URL}), or null for the request's
 * @param voiceCacheBytes weight limit of the voice-state cache ({@code VOICE_CACHE_MB})
 * @param bundles the model bundles to load ({@code MODEL_BUNDLES}, else {@code MODEL_BUNDLE}); the
 *     first is the default, and {@link #model()} describes it
 * @param voicesDir the saved-voice library ({@code VOICES_DIR})
 * @param voiceLibraryMax most voices the library keeps ({@code VOICE_LIBRARY_MAX})
 * @param maxVoiceFileBytes largest voice-state file {@code POST /voices/import} takes as a raw body
 *     ({@code MAX_VOICE_FILE_MB})
 * @param authFailuresPerMinute failed authentications a client address may make a minute before its
 *     requests get 429 ({@code AUTH_FAILURES_PER_MINUTE}; 0 turns it off)
 * @param bodyTimeout longest time a request body may take to arrive ({@code BODY_TIMEOUT})
 * @param maxAudioSeconds most audio one request may produce, pauses included ({@code
 *     MAX_AUDIO_SECONDS})
 * @param redisUrl the Redis that counts the rate limits of every replica ({@code REDIS_URL}); null:
 *     each replica counts its own
 * @param storage where {@code type=url} files are kept ({@code STORAGE} and the {@code S3_*}
 *     settings)
 */
public record ServerSettings(
    String apiKey,
    boolean authDisabled,
    int port,
    double maxRefDurationSeconds,
    int maxScriptChars,
    long maxUploadBytes,
    Path voiceDir,
    String publicBaseUrl,
    boolean forwardedHeaders,
    long voiceCacheBytes,
    String ffmpegPath,
    int synthesisWorkers,
    int queueSize,
    Duration queueTimeout,
    Duration requestTimeout,
    Duration voiceRetention,
    long voiceDirMaxBytes,
    int rateLimitPerMinute,
    int authFailuresPerMinute,
    Duration bodyTimeout,
    List<String> bundles,
    Path voicesDir,
    int voiceLibraryMax,
    long maxVoiceFileBytes,
    int maxAudioSeconds,
    ModelSettings model,
    EngineOptions engine,
    GenerationParams generation,
    Wyoming wyoming,
    String redisUrl,
    Storage storage) {

  /**
   * Where {@code type=url} files are kept: in {@code VOICE_DIR} ({@code STORAGE=local}), or in an
   * S3 bucket that every replica shares ({@code STORAGE=s3}); credentials come from the AWS SDK's
   * standard chain (environment, profile, instance role).
   *
   * @param s3 true for {@code STORAGE=s3}
   * @param endpoint {@code S3_ENDPOINT} (MinIO, Ceph, ...); null for AWS
   * @param region {@code S3_REGION}
   * @param bucket {@code S3_BUCKET}; required with {@code STORAGE=s3}
   * @param prefix {@code S3_PREFIX}: what every key starts with (empty, or ends with '/')
   * @param pathStyle {@code S3_PATH_STYLE}: bucket in the path, not the host name (default: true
   *     with an endpoint, as MinIO and Ceph want)
   * @param presignedUrls {@code S3_PRESIGNED_URLS}: {@code type=url} answers with a presigned URL
   *     of the object, valid for {@code VOICE_RETENTION} (at most 7 days), instead of {@code
   *     /voice/<name>}
   */
  public record Storage(
      boolean s3,
      URI endpoint,
      String region,
      String bucket,
      String prefix,
      boolean pathStyle,
      boolean presignedUrls) {}

  /**
   * The Wyoming protocol server.
   *
   * @param port {@code WYOMING_PORT}; null: no Wyoming server
   * @param host {@code WYOMING_HOST}, the address to listen on
   * @param zeroconf {@code WYOMING_ZEROCONF}: announce the server as {@code _wyoming._tcp.local.}
   */
  public record Wyoming(Integer port, String host, boolean zeroconf) {}

  /** Parses settings; {@code env} returns a raw value or null for each name. */
  public static ServerSettings parse(Function<String, String> env) {
    Reader r = new Reader(env);
    String apiKey = r.string("API_KEY", null);
    boolean authDisabled = r.bool("AUTH_DISABLED", false);
    if (apiKey == null && !authDisabled) {
      throw new SettingsException(
          "API_KEY is not set. Set API_KEY in .env or the environment,"
              + " or set AUTH_DISABLED=true to run without authentication (not for a network server)");
    }
    String publicBase = r.string("PUBLIC_BASE_URL", null);
    if (publicBase != null) {
      try {
        URI u = URI.create(publicBase);
        if (u.getScheme() == null || u.getHost() == null || !u.getScheme().startsWith("http")) {
          throw new IllegalArgumentException();
        }
      } catch (IllegalArgumentException e) {
        throw new SettingsException(
            "PUBLIC_BASE_URL must be an http(s) URL such as"
                + " https://tts.example.org, got '"
                + publicBase
                + "'");
      }
      publicBase = publicBase.replaceAll("/+$", "");
    }
    String logFormat = r.string("LOG_FORMAT", "");
    if (!java.util.Set.of("", "ecs", "logstash", "gelf").contains(logFormat)) {
      throw new SettingsException(
          "LOG_FORMAT must be ecs, logstash or gelf (or unset for text), got '" + logFormat + "'");
    }
    String precision = r.string("MODEL_PRECISION", "int8").toLowerCase(Locale.ROOT);
    if (!precision.equals("int8") && !precision.equals("fp32")) {
      throw new SettingsException("MODEL_PRECISION must be int8 or fp32, got '" + precision + "'");
    }
    Precision p = precision.equals("int8") ? Precision.INT8 : Precision.FP32;
    String single = r.string("MODEL_BUNDLE", ModelSettings.DEFAULT_BUNDLE);
    String several = r.string("MODEL_BUNDLES", null);
    List<String> bundles = new ArrayList<>();
    for (String b : several == null ? List.of(single) : List.of(several.split(","))) {
      String name = b.strip();
      String setting = several == null ? "MODEL_BUNDLE" : "MODEL_BUNDLES";
      String raw = several == null ? single : several;
      if (!name.matches("[A-Za-z0-9_.-]+") || name.contains("..")) {
        throw new SettingsException(
            setting
                + " must name bundles such as english_2026-04"
                + (several == null ? "" : ",french_24l")
                + "; '"
                + name
                + "' is no bundle name, got '"
                + raw
                + "'");
      }
      if (bundles.contains(name)) {
        throw new SettingsException(setting + " names " + name + " twice, got '" + raw + "'");
      }
      bundles.add(name);
    }
    String bundle = bundles.get(0);
    ModelSettings model =
        new ModelSettings(
            r.path("MODELS_DIR", "models"),
            r.string("MODEL_REPO", ModelSettings.DEFAULT_REPO),
            r.string("MODEL_REVISION", ModelSettings.DEFAULT_REVISION),
            bundle,
            r.string("HF_TOKEN", null),
            p,
            r.bool("OFFLINE", false),
            r.url("HF_ENDPOINT", ModelSettings.DEFAULT_ENDPOINT),
            r.string("VOICE_REPO", ModelSettings.DEFAULT_VOICE_REPO),
            r.string("VOICE_REVISION", ModelSettings.DEFAULT_VOICE_REVISION));
    if (bundles.size() > 1 && ModelStore.holdsModel(model.modelsDir())) {
      throw new SettingsException(
          "MODELS_DIR "
              + model.modelsDir()
              + " holds a single model, but MODEL_BUNDLES names "
              + bundles.size()
              + "; point MODELS_DIR at a folder with one folder per bundle");
    }
    EngineOptions engine =
        new EngineOptions(
            p,
            r.integer("GENERATION_THREADS", 1, 1, 256),
            r.integer("DECODER_THREADS", 1, 1, 256),
            r.bool("GRAPH_REWRITES", true));
    Integer framesAfterEos = r.optionalInteger("FRAMES_AFTER_EOS", 1, 100);
    Double temperature = r.optionalDecimal("TEMPERATURE", 0, 10);
    Integer maxTokens = r.optionalInteger("MAX_TOKENS_PER_CHUNK", 1, 1000);
    GenerationParams generation =
        new GenerationParams(
            temperature == null ? null : temperature.floatValue(),
            r.integer("LSD_STEPS", 1, 1, 64),
            (float) r.decimal("EOS_THRESHOLD", -4, -1000, 1000),
            framesAfterEos,
            maxTokens,
            r.integer("MAX_CHARS_PER_CHUNK", 218, 1, 100_000),
            null,
            r.integer("DECODER_FIRST_BLOCK", 2, 1, GenerationParams.MAX_DECODER_BLOCK),
            r.integer("DECODER_MAX_BLOCK", 12, 1, GenerationParams.MAX_DECODER_BLOCK),
            r.integer(
                "MIN_FRAMES_BEFORE_EOS", GenerationParams.DEFAULT_MIN_FRAMES_BEFORE_EOS, 0, 1000),
            r.bool("CHUNK_FADE_IN", true));
    return new ServerSettings(
        apiKey,
        authDisabled,
        r.integer("PORT", 8000, 1, 65535),
        r.decimal("MAX_REF_DURATION", 15, 0.1, 600),
        r.integer("MAX_SCRIPT_CHARS", 100_000, 1, 10_000_000),
        (long) r.integer("MAX_UPLOAD_MB", 20, 1, 2048) * 1024 * 1024,
        r.path("VOICE_DIR", "voice"),
        publicBase,
        r.bool("FORWARDED_HEADERS", false),
        (long) r.integer("VOICE_CACHE_MB", 512, 1, 1_000_000) * 1024 * 1024,
        r.string("FFMPEG_PATH", null),
        r.integer(
            "SYNTHESIS_WORKERS", Math.max(1, Runtime.getRuntime().availableProcessors()), 1, 1024),
        r.integer("QUEUE_SIZE", 32, 0, 100_000),
        r.duration("QUEUE_TIMEOUT", Duration.ofSeconds(60)),
        r.duration("REQUEST_TIMEOUT", Duration.ofMinutes(10)),
        r.duration("VOICE_RETENTION", Duration.ofHours(24)),
        r.bytes(
            "VOICE_DIR_MAX_BYTES",
            (long) r.integer("VOICE_DIR_MAX_MB", 1024, 1, Integer.MAX_VALUE) * 1024 * 1024),
        r.integer("RATE_LIMIT_PER_MINUTE", 0, 0, 1_000_000),
        r.integer("AUTH_FAILURES_PER_MINUTE", 10, 0, 1_000_000),
        r.duration("BODY_TIMEOUT", Duration.ofSeconds(120)),
        List.copyOf(bundles),
        r.path("VOICES_DIR", "voices"),
        r.integer("VOICE_LIBRARY_MAX", 200, 0, 1_000_000),
        (long) r.integer("MAX_VOICE_FILE_MB", 64, 1, 2048) * 1024 * 1024,
        r.integer("MAX_AUDIO_SECONDS", 3600, 1, 86_400),
        model,
        engine,
        generation,
        new Wyoming(
            r.optionalInteger("WYOMING_PORT", 0, 65535),
            r.string("WYOMING_HOST", "0.0.0.0"),
            r.bool("WYOMING_ZEROCONF", true)),
        r.redisUrl("REDIS_URL"),
        storage(r));
  }

  private static Storage storage(Reader r) {
    String kind = r.string("STORAGE", "local").toLowerCase(Locale.ROOT);
    if (!kind.equals("local") && !kind.equals("s3")) {
      throw new SettingsException("STORAGE must be local or s3, got '" + kind + "'");
    }
    boolean s3 = kind.equals("s3");
    String endpoint = r.string("S3_ENDPOINT", null);
    URI uri = null;
    if (endpoint != null) {
      try {
        uri = new URI(endpoint);
      } catch (java.net.URISyntaxException e) {
        uri = null;
      }
      if (uri == null
          || uri.getHost() == null
          || !(endpoint.startsWith("http://") || endpoint.startsWith("https://"))) {
        throw new SettingsException(
            "S3_ENDPOINT must be a URL such as http://minio:9000, got '" + endpoint + "'");
      }
    }
    String bucket = r.string("S3_BUCKET", null);
    if (s3 && bucket == null) {
      throw new SettingsException("STORAGE=s3 needs S3_BUCKET, the bucket to keep the files in");
    }
    if (bucket != null && !bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
      throw new SettingsException(
          "S3_BUCKET must be a bucket name (3 to 63 lower-case letters, digits, '.' and '-'), got '"
              + bucket
              + "'");
    }
    String prefix = r.string("S3_PREFIX", "");
    if (!prefix.isEmpty() && !prefix.endsWith("/")) {
      prefix = prefix + "/";
    }
    if (prefix.startsWith("/") || prefix.contains("//") || prefix.contains("..")) {
      throw new SettingsException(
          "S3_PREFIX must be a key prefix such as pockettts/, got '" + prefix + "'");
    }
    return new Storage(
        s3,
        uri,
        r.string("S3_REGION", "us-east-1"),
        bucket,
        prefix,
        r.bool("S3_PATH_STYLE", uri != null),
        r.bool("S3_PRESIGNED_URLS", false));
  }

  /** The settings of each bundle to load, the default first. */
  public List<ModelSettings> models() {
    return bundles.stream().map(model::withBundle).toList();
  }

  /** Reads raw values and converts them, naming the setting on error. */
  private record Reader(Function<String, String> env) {

    String string(String name, String fallback) {
      String v = env.apply(name);
      return v == null || v.isBlank() ? fallback : v.strip();
    }

    boolean bool(String name, boolean fallback) {
      String v = string(name, null);
      if (v == null) {
        return fallback;
      }
      return switch (v.toLowerCase(Locale.ROOT)) {
        case "true", "1", "yes", "on" -> true;
        case "false", "0", "no", "off" -> false;
        default -> throw new SettingsException(name + " must be true or false, got '" + v + "'");
      };
    }

    int integer(String name, int fallback, int min, int max) {
      Integer v = optionalInteger(name, min, max);
      return v == null ? fallback : v;
    }

    Integer optionalInteger(String name, int min, int max) {
      String v = string(name, null);
      if (v == null) {
        return null;
      }
      try {
        int n = Integer.parseInt(v);
        if (n < min || n > max) {
          throw new NumberFormatException();
        }
        return n;
      } catch (NumberFormatException e) {
        throw new SettingsException(
            name + " must be a whole number from " + min + " to " + max + ", got '" + v + "'");
      }
    }

    double decimal(String name, double fallback, double min, double max) {
      Double v = optionalDecimal(name, min, max);
      return v == null ? fallback : v;
    }

    Double optionalDecimal(String name, double min, double max) {
      String v = string(name, null);
      if (v == null) {
        return null;
      }
      try {
        double d = Double.parseDouble(v);
        if (!(d >= min && d <= max)) {
          throw new NumberFormatException();
        }
        return d;
      } catch (NumberFormatException e) {
        throw new SettingsException(
            name + " must be a number from " + min + " to " + max + ", got '" + v + "'");
      }
    }

    Path path(String name, String fallback) {
      String v = string(name, fallback);
      try {
        return Path.of(v).toAbsolutePath().normalize();
      } catch (RuntimeException e) {
        throw new SettingsException(name + " must be a folder path, got '" + v + "'");
      }
    }

    /** A {@code redis://} or {@code rediss://} URL with a host, or null when not set. */
    String redisUrl(String name) {
      String v = string(name, null);
      if (v == null) {
        return null;
      }
      try {
        URI u = new URI(v);
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if ((scheme.equals("redis") || scheme.equals("rediss")) && u.getHost() != null) {
          return v;
        }
      } catch (java.net.URISyntaxException e) {
        // reported below
      }
      throw new SettingsException(
          name
              + " must be a URL such as redis://redis:6379 or rediss://user:password@host:6380/0,"
              + " got '"
              + v.replaceAll("//[^/@]*@", "//***@") // no password in the log
              + "'");
    }

    /** A size in bytes: a whole number, or with K, M, G or T (powers of 1024), e.g. 1G, 500M. */
    long bytes(String name, long fallback) {
      String v = string(name, null);
      if (v == null) {
        return fallback;
      }
      String upper = v.toUpperCase(Locale.ROOT).replaceAll("I?B$", "");
      int shift =
          switch (upper.isEmpty() ? ' ' : upper.charAt(upper.length() - 1)) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            default -> 0;
          };
      try {
        long n = Long.parseLong(shift == 0 ? upper : upper.substring(0, upper.length() - 1));
        if (n < 1 || n > (Long.MAX_VALUE >> shift)) {
          throw new NumberFormatException();
        }
        return n << shift;
      } catch (NumberFormatException e) {
        throw new SettingsException(
            name
                + " must be a positive size in bytes such as 1073741824, 500M or 1G, got '"
                + v
                + "'");
      }
    }

    /** A duration such as 90s, 15m, 24h, 2d or PT1H; a bare number is seconds. */
    Duration duration(String name, Duration fallback) {
      String v = string(name, null);
      if (v == null) {
        return fallback;
      }
      try {
        Duration d;
        String lower = v.toLowerCase(Locale.ROOT);
        if (lower.startsWith("p")) {
          d = Duration.parse(v.toUpperCase(Locale.ROOT));
        } else {
          long n = Long.parseLong(lower.replaceAll("[smhd]$", ""));
          d =
              switch (lower.charAt(lower.length() - 1)) {
                case 'm' -> Duration.ofMinutes(n);
                case 'h' -> Duration.ofHours(n);
                case 'd' -> Duration.ofDays(n);
                default -> Duration.ofSeconds(n);
              };
        }
        if (d.isNegative() || d.isZero()) {
          throw new NumberFormatException();
        }
        return d;
      } catch (RuntimeException e) {
        throw new SettingsException(
            name + " must be a positive duration such as 90s, 15m, 24h or 2d, got '" + v + "'");
      }
    }

    URI url(String name, URI fallback) {
      String v = string(name, null);
      if (v == null) {
        return fallback;
      }
      try {
        URI u = URI.create(v);
        if (u.getScheme() == null || u.getHost() == null) {
          throw new IllegalArgumentException();
        }
        return u;
      } catch (IllegalArgumentException e) {
        throw new SettingsException(name + " must be a URL, got '" + v + "'");
      }
    }
  }
}
