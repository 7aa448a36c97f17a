package dev.pockettts.server.voice;

import dev.pockettts.server.config.ServerSettings;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * Saved voices in the S3 bucket ({@code STORAGE=s3}), shared by every replica: {@code
 * <S3_PREFIX>voices/<id>.json} is the entry, {@code <S3_PREFIX>voices/<id>.<version>.safetensors}
 * the state. A save puts the state under its own version's key, then the entry with {@code
 * If-None-Match: *}: of two replicas saving one name at once the store lets exactly one entry in,
 * and the other removes its state and answers that the voice exists. The entry is then read back
 * after a quarter of a second, so that a store whose conditional write is not atomic still has one
 * winner: the replica whose version is not the one stored lost. A delete removes the entry first,
 * so no replica finds the voice once it has returned. Every use of a saved voice reads its entry
 * (one small GET), and the state cache is keyed by the entry's version.
 */
final class S3VoiceLibrary implements VoiceLibrary, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(S3VoiceLibrary.class);
  private static final String META = ".json";
  private static final String STATE = ".safetensors";
  private static final Duration STALE_STATE = Duration.ofHours(1);
  private static final Duration SETTLE = Duration.ofMillis(250);

  private final S3Client s3;
  private final String bucket;
  private final String prefix;
  private final int maxVoices;
  private final JsonMapper json = JsonMapper.builder().build();

  S3VoiceLibrary(S3Client s3, ServerSettings settings) {
    this.s3 = s3;
    this.bucket = settings.storage().bucket();
    this.prefix = settings.storage().prefix() + "voices/";
    this.maxVoices = settings.voiceLibraryMax();
  }

  private String metaKey(String id) {
    return prefix + id + META;
  }

  private String stateKey(Entry e) {
    return prefix + e.id() + "." + e.generation().replaceAll("[^A-Za-z0-9_-]", "") + STATE;
  }

  private VoiceException unavailable(SdkException e) {
    log.error("Voice library: bucket {} cannot be read: {}", bucket, e.toString());
    return new VoiceException(
        VoiceException.Reason.VOICE_LIBRARY_UNAVAILABLE,
        "the voice library's object store does not answer (bucket "
            + bucket
            + "); built-in voices and cloning from a recording still work");
  }

  private static boolean notFound(S3Exception e) {
    return e instanceof NoSuchKeyException || e.statusCode() == 404;
  }

  /** The entry ids of the bucket, and every key under the prefix. */
  private List<S3Object> objects() {
    List<S3Object> out = new ArrayList<>();
    s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix)).contents().forEach(out::add);
    return out;
  }

  private static String idOf(String name) {
    return name.endsWith(META) ? name.substring(0, name.length() - META.length()) : null;
  }

  @Override
  public List<Entry> list() {
    List<Entry> out = new ArrayList<>();
    try {
      for (S3Object o : objects()) {
        String id = idOf(o.key().substring(prefix.length()));
        if (VoiceLibrary.validId(id)) {
          find(id).ifPresent(out::add);
        }
      }
    } catch (SdkException e) {
      throw unavailable(e);
    }
    out.sort(Comparator.comparing(Entry::created).thenComparing(Entry::id));
    return out;
  }

  @Override
  public Optional<Entry> find(String id) {
    if (!VoiceLibrary.validId(id)) {
      return Optional.empty();
    }
    byte[] data;
    try {
      data = s3.getObjectAsBytes(b -> b.bucket(bucket).key(metaKey(id))).asByteArray();
    } catch (S3Exception e) {
      if (notFound(e)) {
        return Optional.empty();
      }
      throw unavailable(e);
    } catch (SdkException e) {
      throw unavailable(e);
    }
    try {
      Entry e = json.readValue(data, Entry.class);
      if (!id.equals(e.id()) || e.bundle() == null || e.created() == null) {
        log.warn("Voice library entry {} in bucket {} does not match its key; ignored", id, bucket);
        return Optional.empty();
      }
      return Optional.of(e);
    } catch (JacksonException e) {
      log.warn("Cannot read voice library entry {} in bucket {}: {}", id, bucket, e.getMessage());
      return Optional.empty();
    }
  }

  @Override
  public ByteBuffer state(Entry entry) throws IOException {
    try {
      return ByteBuffer.wrap(
          s3.getObjectAsBytes(b -> b.bucket(bucket).key(stateKey(entry))).asByteArray());
    } catch (SdkException e) {
      throw new IOException("the state of voice '" + entry.id() + "' cannot be read", e);
    }
  }

  @Override
  public Entry save(Entry entry, byte[] state) throws IOException, ExistsException, FullException {
    String id = entry.id();
    if (!VoiceLibrary.validId(id)) {
      throw new IllegalArgumentException("not a voice id: " + id);
    }
    if (entry.version() == null) {
      throw new IllegalArgumentException("a voice saved in the bucket needs a version");
    }
    String stateKey = stateKey(entry);
    try {
      long voices =
          objects().stream()
              .filter(o -> VoiceLibrary.validId(idOf(o.key().substring(prefix.length()))))
              .count();
      if (find(id).isPresent()) {
        throw new ExistsException(id);
      }
      if (voices >= maxVoices) {
        throw new FullException(maxVoices);
      }
      s3.putObject(
          b -> b.bucket(bucket).key(stateKey).contentType("application/octet-stream"),
          RequestBody.fromBytes(state));
    } catch (SdkException e) {
      throw new IOException("the bucket " + bucket + " cannot be written (" + e.getMessage() + ")");
    }
    try {
      byte[] meta = json.writeValueAsBytes(entry);
      s3.putObject(
          b -> b.bucket(bucket).key(metaKey(id)).contentType("application/json").ifNoneMatch("*"),
          RequestBody.fromBytes(meta));
    } catch (S3Exception e) {
      deleteQuietly(stateKey);
      if (e.statusCode() == 412 || e.statusCode() == 409) {
        throw new ExistsException(id); // another replica saved this name first
      }
      throw new IOException("the bucket " + bucket + " cannot be written (" + e.getMessage() + ")");
    } catch (SdkException e) {
      deleteQuietly(stateKey);
      throw new IOException("the bucket " + bucket + " cannot be written (" + e.getMessage() + ")");
    }
    // a store whose conditional write is a check and then a put (S3Proxy) lets two writes at the
    // same moment through; the later one's entry stays. Read back after a moment: a replica that
    // finds another's version there lost the race, whatever the store said
    try {
      Thread.sleep(SETTLE.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Optional<Entry> stored = find(id);
    if (stored.isPresent() && !entry.version().equals(stored.get().version())) {
      deleteQuietly(stateKey);
      throw new ExistsException(id);
    }
    log.info(
        "Saved voice '{}' ({} bytes, bundle {}) in bucket {}",
        id,
        state.length,
        entry.bundle(),
        bucket);
    return entry;
  }

  private void deleteQuietly(String key) {
    try {
      s3.deleteObject(b -> b.bucket(bucket).key(key));
    } catch (SdkException e) {
      log.warn("Cannot remove {} from bucket {}: {}", key, bucket, e.toString());
    }
  }

  @Override
  public boolean delete(String id) throws IOException {
    Optional<Entry> e;
    try {
      e = find(id);
    } catch (VoiceException x) {
      throw new IOException("the bucket " + bucket + " cannot be read");
    }
    if (e.isEmpty()) {
      return false;
    }
    try {
      s3.deleteObject(b -> b.bucket(bucket).key(metaKey(id))); // the voice is gone from here on
    } catch (SdkException x) {
      throw new IOException("the bucket " + bucket + " cannot be written (" + x.getMessage() + ")");
    }
    deleteQuietly(stateKey(e.get()));
    log.info("Deleted voice '{}' from bucket {}", id, bucket);
    return true;
  }

  /** States without an entry (a save a crash interrupted), an hour old. */
  @Override
  public void removeLeftovers() {
    try {
      List<S3Object> all = objects();
      Set<String> wanted = new HashSet<>();
      for (S3Object o : all) {
        String id = idOf(o.key().substring(prefix.length()));
        if (VoiceLibrary.validId(id)) {
          find(id).ifPresent(e -> wanted.add(stateKey(e)));
        }
      }
      Instant old = Instant.now().minus(STALE_STATE);
      for (S3Object o : all) {
        if (o.key().endsWith(STATE)
            && !wanted.contains(o.key())
            && o.lastModified().isBefore(old)) {
          deleteQuietly(o.key());
        }
      }
    } catch (SdkException | VoiceException e) {
      log.warn("Cannot clean the voice library in bucket {}: {}", bucket, e.getMessage());
    }
  }

  @Override
  public String where() {
    return "the voice library's bucket " + bucket;
  }

  @Override
  public String hide(String message) {
    return message.replace(prefix, "");
  }

  @Override
  public void close() {
    s3.close();
  }
}
