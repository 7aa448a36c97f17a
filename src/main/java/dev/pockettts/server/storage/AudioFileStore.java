package dev.pockettts.server.storage;

import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.config.ServerSettings;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * Audio files served at {@code /voice/<name>}: names are made here (a timestamp and 128 random
 * bits), a file is written under a hidden temporary name and renamed when complete, and only names
 * of that form are ever served. A new file may not take the folder past {@code
 * VOICE_DIR_MAX_BYTES}: the write that would is stopped and fails, and the files already there
 * stay.
 */
@Component
public class AudioFileStore {

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

  @Autowired
  public AudioFileStore(ServerSettings settings) {
    this(settings.voiceDir(), settings.voiceDirMaxBytes());
  }

  AudioFileStore(Path dir, long maxBytes) {
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  /** True for names this store makes; anything else is never served. */
  public static boolean validName(String name) {
    return name != null && NAME.matcher(name).matches();
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

  /** Where a file being written goes, and the stream to write it through. */
  public record Target(Path path, OutputStream out) {}

  /**
   * Writes a file through {@code writer}; returns its name. A failed write leaves nothing, and one
   * that would take the folder past its cap fails with {@link StorageException.Full} as soon as it
   * gets there.
   */
  public String write(AudioFormat format, Writer writer) throws IOException {
    byte[] id = new byte[16];
    random.nextBytes(id);
    String name =
        "audio_"
            + System.currentTimeMillis() / 1000
            + "_"
            + HexFormat.of().formatHex(id)
            + "."
            + format.extension();
    Path tmp = dir.resolve("." + name + ".part");
    try {
      Files.createDirectories(dir);
      Files.createFile(tmp);
    } catch (IOException e) {
      throw unavailable(e);
    }
    long budget = maxBytes - folderBytes();
    Capped out = new Capped(Files.newOutputStream(tmp), budget);
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
      inFlight.addAndGet(-out.written);
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

  /** Counts what goes through it, and refuses to go past the folder's cap. */
  private final class Capped extends FilterOutputStream {
    private final long budget;
    long written;

    Capped(OutputStream out, long budget) {
      super(out);
      this.budget = budget;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      // every write in progress, this one included, against the room the folder had
      if (inFlight.get() + len > budget) {
        throw new StorageException.Full(
            "the file would take the audio folder past VOICE_DIR_MAX_BYTES ("
                + maxBytes
                + " bytes); ask for type=file, a shorter script, or try again once older files"
                + " have expired");
      }
      out.write(b, off, len);
      written += len;
      inFlight.addAndGet(len);
    }
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

  /** Writes the content of a file to the target it is given. */
  @FunctionalInterface
  public interface Writer {
    void write(Target target) throws IOException;
  }
}
