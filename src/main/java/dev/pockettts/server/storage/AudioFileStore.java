package dev.pockettts.server.storage;

import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.config.ServerSettings;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Audio files in {@code VOICE_DIR} ({@code STORAGE=local}), served at {@code /voice/<name>}: names
 * are made here (a timestamp and 128 random bits), a file is written under a hidden temporary name
 * and renamed when complete, and only names of that form are ever served. A new file may not take
 * the folder past {@code VOICE_DIR_MAX_BYTES}: the write that would is stopped and fails, and the
 * files already there stay. The sweep removes files older than {@code VOICE_RETENTION}, then the
 * oldest until the folder is under its cap, and temporary files left by a crash after an hour; only
 * files the store names are touched.
 */
public class AudioFileStore implements AudioFiles {

  private static final Logger log = LoggerFactory.getLogger(AudioFileStore.class);

  /** Names of every format a file can be saved in. */
  private static final Pattern NAME =
      Pattern.compile(
          "audio_\\d{10,13}_[0-9a-f]{32}\\.("
              + Arrays.stream(AudioFormat.values())
                  .map(AudioFormat::extension)
                  .collect(Collectors.joining("|"))
              + ")");

  private final SecureRandom random = new SecureRandom();
  private final Path dir;
  private final long maxBytes;

  /** Bytes written by writes still in progress (they count against the cap before they land). */
  private final AtomicLong inFlight = new AtomicLong();

  private static final Duration STALE_PART = Duration.ofHours(1);
  private final Duration retention;

  public AudioFileStore(ServerSettings settings) {
    this(settings.voiceDir(), settings.voiceDirMaxBytes(), settings.voiceRetention());
  }

  AudioFileStore(Path dir, long maxBytes, Duration retention) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.retention = retention;
  }

  /** True for names this store makes; anything else is never served. */
  public static boolean validName(String name) {
    return name != null && NAME.matcher(name).matches();
  }

  /** A new name for a file of that format: its time in seconds and 128 random bits. */
  static String newName(SecureRandom random, AudioFormat format) {
    byte[] id = new byte[16];
    random.nextBytes(id);
    return "audio_"
        + System.currentTimeMillis() / 1000
        + "_"
        + HexFormat.of().formatHex(id)
        + "."
        + format.extension();
  }

  /** The hidden temporary name a file is written under before it is complete. */
  static String partName(String name) {
    return "." + name + ".part";
  }

  /** The format of a stored file's name, or null for a name this store did not make. */
  public static AudioFormat formatOf(String name) {
    if (!validName(name)) {
      return null;
    }
    return AudioFormat.fromName(name.substring(name.lastIndexOf('.') + 1));
  }

  /**
   * A file this store made, as it may be served: a regular file (not a link) directly in the
   * folder. Null for anything else.
   */
  public Path servable(String name) {
    if (!validName(name)) {
      return null;
    }
    Path p = dir.resolve(name);
    try {
      if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
        return null;
      }
      Path real = p.toRealPath();
      return real.getParent() != null && real.getParent().equals(dir.toRealPath()) ? real : null;
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * Writes a file through {@code writer}; returns its name. A failed write leaves nothing, and one
   * that would take the folder past its cap fails with {@link StorageException.Full} as soon as it
   * gets there.
   */
  @Override
  public String write(AudioFormat format, Writer writer) throws IOException {
    String name = newName(random, format);
    Path tmp = dir.resolve(partName(name));
    try {
      Files.createDirectories(dir);
      Files.createFile(tmp);
    } catch (IOException e) {
      throw unavailable(e);
    }
    long budget = maxBytes - folderBytes();
    CappedOutput out = new CappedOutput(Files.newOutputStream(tmp), budget, inFlight, maxBytes);
    try {
      try (out) {
        writer.write(new Target(tmp, out));
      }
      Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE);
      return name;
    } catch (StorageException e) {
      throw e;
    } catch (IOException e) {
      String m = String.valueOf(e.getMessage());
      if (m.contains("No space left") || m.contains("Disk quota")) {
        throw unavailable(e);
      }
      throw e;
    } finally {
      out.release();
      Files.deleteIfExists(tmp);
    }
  }

  /** Bytes of the finished files in the folder (what the janitor counts). */
  private long folderBytes() {
    long total = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path p : files) {
        if (validName(p.getFileName().toString())) {
          BasicFileAttributes a =
              Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
          total += a.isRegularFile() ? a.size() : 0;
        }
      }
    } catch (IOException e) {
      log.warn("Cannot measure {}: {}", dir, e.toString());
    }
    return total;
  }

  private StorageException unavailable(IOException e) {
    log.error("Cannot write to {}: {}", dir, e.toString());
    String reason =
        e instanceof FileSystemException f && f.getReason() != null ? f.getReason() : "I/O error";
    return new StorageException.Unavailable(
        "the audio file cannot be written to VOICE_DIR ("
            + reason
            + "); type=file streaming still works");
  }

  @Override
  public Stored find(String name) throws IOException {
    Path file = servable(name);
    if (file == null) {
      return null;
    }
    long length = Files.size(file);
    Instant modified = Files.getLastModifiedTime(file).toInstant();
    return new Stored(
        length,
        modified,
        "\"" + Long.toHexString(length) + "-" + Long.toHexString(modified.toEpochMilli()) + "\"");
  }

  @Override
  public void copy(String name, long from, long to, OutputStream out) throws IOException {
    Path file = servable(name);
    if (file == null) {
      throw new java.nio.file.NoSuchFileException(name);
    }
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
      WritableByteChannel channel = Channels.newChannel(out);
      long position = from;
      long left = to - from + 1;
      while (left > 0) {
        long n = in.transferTo(position, left, channel);
        if (n <= 0) {
          break;
        }
        position += n;
        left -= n;
      }
    }
  }

  @Override
  public String directUrl(String name) {
    return null;
  }

  private record Entry(Path path, Instant modified, long size) {}

  @Override
  public int sweep(Instant now) {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    List<Entry> files = new ArrayList<>();
    int removed = 0;
    try (Stream<Path> list = Files.list(dir)) {
      for (Path p : (Iterable<Path>) list::iterator) {
        String name = p.getFileName().toString();
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
        if (!a.isRegularFile()) {
          continue;
        }
        Instant modified = a.lastModifiedTime().toInstant();
        if (name.startsWith(".")
            && name.endsWith(".part")
            && validName(name.substring(1, name.length() - 5))) {
          if (modified.isBefore(now.minus(STALE_PART))) {
            removed += delete(p) ? 1 : 0;
          }
        } else if (validName(name)) {
          files.add(new Entry(p, modified, a.size()));
        }
      }
    } catch (IOException e) {
      log.warn("Cannot sweep {}: {}", dir, e.getMessage());
      return removed;
    }
    files.sort(Comparator.comparing(Entry::modified));
    long total = files.stream().mapToLong(Entry::size).sum();
    Instant oldest = now.minus(retention);
    for (Entry e : files) {
      if (e.modified().isBefore(oldest) || total > maxBytes) {
        if (delete(e.path())) {
          removed++;
          total -= e.size();
        }
      }
    }
    if (removed > 0) {
      log.info("Removed {} old audio files from {}", removed, dir);
    }
    return removed;
  }

  private static boolean delete(Path p) {
    try {
      return Files.deleteIfExists(p);
    } catch (IOException e) {
      log.warn("Cannot remove {}: {}", p, e.getMessage());
      return false;
    }
  }
}
