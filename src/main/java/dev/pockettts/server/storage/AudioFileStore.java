package dev.pockettts.server.storage;

import dev.pockettts.server.api.ApiException;
import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.config.ServerSettings;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;

/**
 * Audio files served at {@code /voice/<name>}: names are made here (a timestamp and 128 random
 * bits), a file is written under a hidden temporary name and renamed when complete, and only names
 * of that form are ever served.
 */
@Component
public class AudioFileStore {

  private static final Logger log = LoggerFactory.getLogger(AudioFileStore.class);

  private static final Pattern NAME =
      Pattern.compile("audio_\\d{10,13}_[0-9a-f]{32}\\.(wav|mp3|ogg)");
  private final SecureRandom random = new SecureRandom();
  private final Path dir;

  public AudioFileStore(ServerSettings settings) {
    this.dir = settings.voiceDir();
  }

  /** True for names this store makes; anything else is never served. */
  public static boolean validName(String name) {
    return name != null && NAME.matcher(name).matches();
  }

  /** Writes a file through {@code writer}; returns its name. A failed write leaves nothing. */
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
    try {
      writer.write(tmp);
      Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE);
      return name;
    } catch (IOException e) {
      String m = String.valueOf(e.getMessage());
      if (m.contains("No space left") || m.contains("Disk quota")) {
        throw unavailable(e);
      }
      throw e;
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private ApiException unavailable(IOException e) {
    log.error("Cannot write to {}: {}", dir, e.toString());
    String reason =
        e instanceof FileSystemException f && f.getReason() != null ? f.getReason() : "I/O error";
    return new ApiException(
        HttpStatus.INTERNAL_SERVER_ERROR,
        "storage-unavailable",
        "Storage unavailable",
        "the audio file cannot be written to VOICE_DIR ("
            + reason
            + "); type=file streaming still works");
  }

  /** Writes the content of a file at a path it is given. */
  @FunctionalInterface
  public interface Writer {
    void write(Path file) throws IOException;
  }
}
