package dev.pockettts.server.voice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The saved voices: for each, its state (KV-state safetensors) and what is known about it ({@link
 * Entry}). Kept in {@code VOICES_DIR} ({@link LocalVoiceLibrary}) or in an S3 bucket that every
 * replica shares ({@link S3VoiceLibrary}). A voice exists once its entry does, and is never seen
 * half-written. An entry's {@code created} changes whenever a voice of that name is saved anew, so
 * it tells a cached state from a newer one.
 */
public interface VoiceLibrary {

  /** Ids: lower-case letters, digits, '_' and '-', up to 64. */
  Pattern ID = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");

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
   * @param version a random token made at each save: a voice saved anew under the same name has
   *     another, so a state cached for the old one is never taken for it (null in entries saved
   *     before there was one: then {@code created} stands for it)
   */
  record Entry(
      String id,
      String bundle,
      String language,
      String source,
      String created,
      int positions,
      long bytes,
      boolean consent,
      String version) {

    /** What tells this save of the voice from any other. */
    public String generation() {
      return version != null ? version : created;
    }
  }

  /** The library already holds a voice of that id. */
  final class ExistsException extends Exception {
    public ExistsException(String id) {
      super("a saved voice called '" + id + "' already exists");
    }
  }

  /** The library holds as many voices as it may. */
  final class FullException extends Exception {
    public FullException(int max) {
      super("the voice library holds its maximum of " + max + " voices");
    }
  }

  /** Whether {@code id} may name a saved voice: lower-case letters, digits, '_' and '-'. */
  static boolean validId(String id) {
    return id != null && ID.matcher(id).matches();
  }

  /**
   * Every saved voice, oldest first; entries that cannot be read are skipped with a warning.
   *
   * @throws VoiceException {@code VOICE_LIBRARY_UNAVAILABLE} when the store cannot be read
   */
  List<Entry> list();

  /**
   * The saved voice {@code id}, if there is one.
   *
   * @throws VoiceException {@code VOICE_LIBRARY_UNAVAILABLE} when the store cannot be read
   */
  Optional<Entry> find(String id);

  /** The state file's bytes of a voice {@link #find} found. */
  ByteBuffer state(Entry entry) throws IOException;

  /** Stores a new voice; on any failure nothing of it is left behind. */
  Entry save(Entry entry, byte[] state) throws IOException, ExistsException, FullException;

  /** Removes a saved voice; false when there was none. */
  boolean delete(String id) throws IOException;

  /** Removes what a save that a crash interrupted left behind. */
  void removeLeftovers();

  /** Where the voices are kept, as messages name it ({@code VOICES_DIR}, the bucket). */
  String where();

  /** {@code message} without this library's paths or keys. */
  String hide(String message);
}
