package dev.pockettts.server.voice;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * Saved voices on disk: for each voice, its state as KV-state safetensors ({@code
 * <id>.safetensors}) and what is known about it ({@code <id>.json}). A voice exists once its JSON
 * file does; both are written under temporary names and renamed, so a voice is never seen
 * half-written. Ids are checked against a strict pattern before any path is made from them, so
 * nothing is written outside the folder.
 */
public final class VoiceLibrary {

  private static final Logger log = LoggerFactory.getLogger(VoiceLibrary.class);
  private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");
  private static final String STATE = ".safetensors";
  private static final String META = ".json";
  private static final String PARTIAL = ".partial";

  /**
   * What is stored about a saved voice.
   *
   * @param id the name requests use
   * @param bundle the model bundle the state was made with (it fits that model only)
   * @param language that bundle's language
   * @param source {@code cloned} (from a recording) or {@code imported} (a state file)
   * @param created ISO-8601 instant it was saved
   * @param positions cache positions of the voice prompt
   * @param bytes size of the state file
   * @param consent that the uploader confirmed consent of the speaker
   */
  public record Entry(
      String id,
      String bundle,
      String language,
      String source,
      String created,
      int positions,
      long bytes,
      boolean consent) {}

  /** The library already holds a voice of that id. */
  public static final class ExistsException extends Exception {
    ExistsException(String id) {
      super("a saved voice called '" + id + "' already exists");
    }
  }

  /** The library holds as many voices as it may. */
  public static final class FullException extends Exception {
    FullException(int max) {
      super("the voice library holds its maximum of " + max + " voices");
    }
  }

  private final Path dir;
  private final int maxVoices;
  private final JsonMapper json = JsonMapper.builder().build();

  public VoiceLibrary(Path dir, int maxVoices) {
    this.dir = dir.toAbsolutePath().normalize();
    this.maxVoices = maxVoices;
  }

  /** Whether {@code id} may name a saved voice: lower-case letters, digits, '_' and '-'. */
  public static boolean validId(String id) {
    return id != null && ID.matcher(id).matches();
  }

  public Path folder() {
    return dir;
  }

  /** Every saved voice, oldest first; files that cannot be read are skipped with a warning. */
  public synchronized List<Entry> list() {
    List<Entry> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + META)) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        String id = name.substring(0, name.length() - META.length());
        if (validId(id)) {
          read(id).ifPresent(out::add);
        }
      }
    } catch (IOException e) {
      log.warn("Cannot list the voice library {}: {}", dir, e.getMessage());
    }
    out.sort(Comparator.comparing(Entry::created).thenComparing(Entry::id));
    return out;
  }

  /** The saved voice {@code id}, if there is one. */
  public synchronized Optional<Entry> find(String id) {
    return validId(id) ? read(id) : Optional.empty();
  }

  /** The state file of a saved voice ({@link #find} says whether it exists). */
  public Path stateFile(String id) {
    if (!validId(id)) {
      throw new IllegalArgumentException("not a voice id: " + id);
    }
    return dir.resolve(id + STATE);
  }

  /**
   * Stores a new voice: the state file first, then its entry, each under a temporary name renamed
   * into place. On any failure nothing of the new voice is left behind.
   */
  public synchronized Entry save(Entry entry, byte[] state)
      throws IOException, ExistsException, FullException {
    String id = entry.id();
    if (!validId(id)) {
      throw new IllegalArgumentException("not a voice id: " + id);
    }
    if (read(id).isPresent()) {
      throw new ExistsException(id);
    }
    if (list().size() >= maxVoices) {
      throw new FullException(maxVoices);
    }
    Files.createDirectories(dir);
    Path statePath = dir.resolve(id + STATE);
    Path metaPath = dir.resolve(id + META);
    try {
      write(statePath, state);
      write(metaPath, json.writeValueAsBytes(entry));
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(metaPath);
      Files.deleteIfExists(statePath);
      throw e;
    }
    log.info("Saved voice '{}' ({} bytes, bundle {})", id, state.length, entry.bundle());
    return entry;
  }

  /** Removes a saved voice; false when there was none. */
  public synchronized boolean delete(String id) throws IOException {
    if (!validId(id)) {
      return false;
    }
    boolean existed = Files.deleteIfExists(dir.resolve(id + META));
    Files.deleteIfExists(dir.resolve(id + STATE));
    if (existed) {
      log.info("Deleted voice '{}'", id);
    }
    return existed;
  }

  /** Deletes temporary files left by a save that a crash interrupted. */
  public synchronized void removeLeftovers() {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + PARTIAL)) {
      for (Path f : files) {
        Files.deleteIfExists(f);
      }
    } catch (IOException e) {
      log.warn("Cannot clean the voice library {}: {}", dir, e.getMessage());
    }
  }

  private Optional<Entry> read(String id) {
    Path meta = dir.resolve(id + META);
    try {
      Entry e = json.readValue(Files.readAllBytes(meta), Entry.class);
      if (!id.equals(e.id())
          || e.bundle() == null
          || e.created() == null
          || !Files.isRegularFile(dir.resolve(id + STATE))) {
        log.warn("Voice library entry {} does not match its files; ignored", meta);
        return Optional.empty();
      }
      return Optional.of(e);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException | JacksonException e) {
      log.warn("Cannot read voice library entry {}: {}", meta, e.getMessage());
      return Optional.empty();
    }
  }

  private static void write(Path target, byte[] data) throws IOException {
    Path tmp = target.resolveSibling(target.getFileName() + PARTIAL);
    try {
      Files.write(tmp, data);
      try {
        Files.move(
            tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
