package dev.pockettts.server.voice;

import java.io.IOException;
import java.nio.ByteBuffer;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * Saved voices on disk ({@code STORAGE=local}): for each voice, its state as KV-state safetensors
 * ({@code <id>.safetensors}) and what is known about it ({@code <id>.json}). A voice exists once
 * its JSON file does; both are written under temporary names and renamed, so a voice is never seen
 * half-written. Ids are checked against a strict pattern before any path is made from them, so
 * nothing is written outside the folder.
 */
public final class LocalVoiceLibrary implements VoiceLibrary {

  private static final Logger log = LoggerFactory.getLogger(LocalVoiceLibrary.class);
  private static final String STATE = ".safetensors";
  private static final String META = ".json";
  private static final String PARTIAL = ".partial";

  private final Path dir;
  private final int maxVoices;
  private final JsonMapper json = JsonMapper.builder().build();

  public LocalVoiceLibrary(Path dir, int maxVoices) {
    this.dir = dir.toAbsolutePath().normalize();
    this.maxVoices = maxVoices;
  }

  public Path folder() {
    return dir;
  }

  @Override
  public String where() {
    return "VOICES_DIR";
  }

  @Override
  public String hide(String message) {
    return message.replace(dir.toString(), "VOICES_DIR");
  }

  @Override
  public ByteBuffer state(Entry entry) throws IOException {
    return ByteBuffer.wrap(Files.readAllBytes(stateFile(entry.id())));
  }

  /** Every saved voice, oldest first; files that cannot be read are skipped with a warning. */
  @Override
  public synchronized List<Entry> list() {
    List<Entry> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + META)) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        String id = name.substring(0, name.length() - META.length());
        if (VoiceLibrary.validId(id)) {
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
  @Override
  public synchronized Optional<Entry> find(String id) {
    return VoiceLibrary.validId(id) ? read(id) : Optional.empty();
  }

  /** The state file of a saved voice ({@link #find} says whether it exists). */
  public Path stateFile(String id) {
    if (!VoiceLibrary.validId(id)) {
      throw new IllegalArgumentException("not a voice id: " + id);
    }
    return dir.resolve(id + STATE);
  }

  /**
   * Stores a new voice: the state file first, then its entry, each under a temporary name renamed
   * into place. On any failure nothing of the new voice is left behind.
   */
  @Override
  public synchronized Entry save(Entry entry, byte[] state)
      throws IOException, ExistsException, FullException {
    String id = entry.id();
    if (!VoiceLibrary.validId(id)) {
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
  @Override
  public synchronized boolean delete(String id) throws IOException {
    if (!VoiceLibrary.validId(id)) {
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
  @Override
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
