package dev.pockettts.server.storage;

import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.config.ServerSettings;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/**
 * The {@code type=url} files in an S3 bucket ({@code STORAGE=s3}), under {@code
 * <S3_PREFIX>audio/<name>}, so that any replica serves a file another made. A file is written to a
 * temporary file in {@code VOICE_DIR} first (a WAV's header is completed at the end), then goes up
 * in one request up to 8 MB, in 8 MB parts beyond, and the temporary file is deleted: nothing is
 * held whole in memory, and an interrupted upload leaves no object. {@code VOICE_DIR_MAX_BYTES} and
 * {@code VOICE_RETENTION} apply to the bucket's files; any replica may sweep, and a sweep that
 * meets a file another just removed goes on.
 */
public final class S3AudioFiles implements AudioFiles, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(S3AudioFiles.class);
  static final int PART_BYTES = 8 * 1024 * 1024;
  private static final Duration STALE_PART = Duration.ofHours(1);
  private static final Duration MAX_PRESIGNED = Duration.ofDays(7);

  private final S3Client s3;
  private final S3Presigner presigner;
  private final String bucket;
  private final String prefix;
  private final Path scratch;
  private final long maxBytes;
  private final Duration retention;
  private final SecureRandom random = new SecureRandom();
  private final AtomicLong inFlight = new AtomicLong();

  /**
   * @param presigner makes the presigned URLs; null when {@code type=url} answers {@code /voice/}
   */
  public S3AudioFiles(S3Client s3, S3Presigner presigner, ServerSettings settings) {
    this.s3 = s3;
    this.presigner = presigner;
    this.bucket = settings.storage().bucket();
    this.prefix = settings.storage().prefix() + "audio/";
    this.scratch = settings.voiceDir();
    this.maxBytes = settings.voiceDirMaxBytes();
    this.retention = settings.voiceRetention();
  }

  private String key(String name) {
    return prefix + name;
  }

  private StorageException unavailable(String what, Exception e) {
    log.error("Object store: cannot {} in bucket {}: {}", what, bucket, e.toString());
    return new StorageException.Unavailable(
        "the audio file cannot be "
            + what
            + " in the object store (bucket "
            + bucket
            + ": "
            + (e instanceof S3Exception s && s.awsErrorDetails() != null
                ? s.awsErrorDetails().errorCode()
                : "unreachable")
            + "); type=file streaming still works");
  }

  @Override
  public String write(AudioFormat format, Writer writer) throws IOException {
    String name = AudioFileStore.newName(random, format);
    // the bucket's room first: an unreachable store fails the request before any synthesis
    long budget;
    try {
      budget = maxBytes - listed().stream().mapToLong(S3Object::size).sum();
    } catch (SdkException e) {
      throw unavailable("stored", e);
    }
    Path tmp = scratch.resolve(AudioFileStore.partName(name));
    try {
      Files.createDirectories(scratch);
      Files.createFile(tmp);
    } catch (IOException e) {
      throw new StorageException.Unavailable(
          "the audio file cannot be written to VOICE_DIR before it goes to the object store ("
              + e.getMessage()
              + "); type=file streaming still works");
    }
    CappedOutput out = new CappedOutput(Files.newOutputStream(tmp), budget, inFlight, maxBytes);
    try {
      try (out) {
        writer.write(new Target(tmp, out));
      }
      upload(tmp, key(name), format.contentType());
      return name;
    } finally {
      out.release();
      Files.deleteIfExists(tmp);
    }
  }

  /** Puts {@code file} at {@code key}: in one request, or in parts when larger than one part. */
  private void upload(Path file, String key, String contentType) throws IOException {
    long size = Files.size(file);
    try {
      if (size <= PART_BYTES) {
        s3.putObject(
            b -> b.bucket(bucket).key(key).contentType(contentType), RequestBody.fromFile(file));
        return;
      }
      String upload =
          s3.createMultipartUpload(b -> b.bucket(bucket).key(key).contentType(contentType))
              .uploadId();
      try (InputStream in = Files.newInputStream(file)) {
        List<CompletedPart> parts = new ArrayList<>();
        byte[] buffer = new byte[PART_BYTES];
        for (int number = 1; ; number++) {
          int n = in.readNBytes(buffer, 0, buffer.length);
          if (n == 0) {
            break;
          }
          int part = number;
          int length = n;
          // the part is read from the buffer itself (a new stream per attempt, so retries work),
          // not from copies of it; the call returns before the buffer is filled again
          String etag =
              s3.uploadPart(
                      b -> b.bucket(bucket).key(key).uploadId(upload).partNumber(part),
                      RequestBody.fromContentProvider(
                          () -> new java.io.ByteArrayInputStream(buffer, 0, length),
                          length,
                          "application/octet-stream"))
                  .eTag();
          parts.add(CompletedPart.builder().partNumber(part).eTag(etag).build());
        }
        s3.completeMultipartUpload(
            b -> b.bucket(bucket).key(key).uploadId(upload).multipartUpload(m -> m.parts(parts)));
      } catch (IOException | RuntimeException e) {
        try {
          s3.abortMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(upload));
        } catch (SdkException abort) {
          log.warn("Cannot abort the upload of {}: {}", key, abort.toString());
        }
        throw e;
      }
    } catch (SdkException e) {
      throw unavailable("stored", e);
    }
  }

  @Override
  public Stored find(String name) throws IOException {
    if (!AudioFileStore.validName(name)) {
      return null;
    }
    try {
      HeadObjectResponse h = s3.headObject(b -> b.bucket(bucket).key(key(name)));
      return new Stored(h.contentLength(), h.lastModified(), quoted(h.eTag()));
    } catch (NoSuchKeyException e) {
      return null;
    } catch (S3Exception e) {
      if (e.statusCode() == 404) {
        return null;
      }
      throw unavailable("read", e);
    } catch (SdkException e) {
      throw unavailable("read", e);
    }
  }

  private static String quoted(String etag) {
    return etag.startsWith("\"") ? etag : "\"" + etag + "\"";
  }

  @Override
  public void copy(String name, long from, long to, OutputStream out) throws IOException {
    try (ResponseInputStream<GetObjectResponse> in =
        s3.getObject(b -> b.bucket(bucket).key(key(name)).range("bytes=" + from + "-" + to))) {
      in.transferTo(out);
    } catch (SdkException e) {
      throw unavailable("read", e);
    }
  }

  @Override
  public String directUrl(String name) {
    if (presigner == null) {
      return null;
    }
    Duration valid = retention.compareTo(MAX_PRESIGNED) > 0 ? MAX_PRESIGNED : retention;
    return presigner
        .presignGetObject(
            p -> p.signatureDuration(valid).getObjectRequest(g -> g.bucket(bucket).key(key(name))))
        .url()
        .toString();
  }

  /** The bucket's files this store made (other keys under the prefix are never touched). */
  private List<S3Object> listed() {
    List<S3Object> out = new ArrayList<>();
    for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix)).contents()) {
      if (AudioFileStore.validName(o.key().substring(prefix.length()))) {
        out.add(o);
      }
    }
    return out;
  }

  @Override
  public int sweep(Instant now) {
    int removed = 0;
    try {
      List<S3Object> files = listed();
      files.sort(Comparator.comparing(S3Object::lastModified));
      long total = files.stream().mapToLong(S3Object::size).sum();
      Instant oldest = now.minus(retention);
      for (S3Object o : files) {
        if (o.lastModified().isBefore(oldest) || total > maxBytes) {
          s3.deleteObject(b -> b.bucket(bucket).key(o.key())); // a missing key is no error
          removed++;
          total -= o.size();
        }
      }
    } catch (SdkException e) {
      log.warn("Cannot sweep the audio files in bucket {}: {}", bucket, e.toString());
    }
    removed += sweepScratch(now);
    if (removed > 0) {
      log.info("Removed {} old audio files from bucket {}", removed, bucket);
    }
    return removed;
  }

  /** Temporary files a crash left in {@code VOICE_DIR}. */
  private int sweepScratch(Instant now) {
    int removed = 0;
    if (!Files.isDirectory(scratch)) {
      return 0;
    }
    try (var list = Files.newDirectoryStream(scratch, ".audio_*.part")) {
      for (Path p : list) {
        if (Files.getLastModifiedTime(p).toInstant().isBefore(now.minus(STALE_PART))) {
          removed += Files.deleteIfExists(p) ? 1 : 0;
        }
      }
    } catch (IOException e) {
      log.warn("Cannot sweep {}: {}", scratch, e.getMessage());
    }
    return removed;
  }

  @Override
  public void close() {
    s3.close();
    if (presigner != null) {
      presigner.close();
    }
  }
}
