package dev.pockettts.server.model;

import dev.pockettts.server.engine.BundleConfig;
import dev.pockettts.server.engine.ModelFiles;
import dev.pockettts.server.engine.Precision;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The model folder on disk: makes sure every file the engine needs is present and intact,
 * downloading what is missing or corrupt (unless offline), and fetches built-in voices on demand.
 */
public final class ModelStore {

  private static final Logger log = LoggerFactory.getLogger(ModelStore.class);
  private static final Pattern VOICE_NAME = Pattern.compile("[a-z0-9][a-z0-9_]{0,63}");

  /** Upstream's English voice names (kyutai-labs/pocket-tts, CONTRACT.md 2.0). */
  public static final List<String> ENGLISH_VOICES =
      List.of(
          "alba",
          "marius",
          "javert",
          "jean",
          "fantine",
          "cosette",
          "eponine",
          "azelma",
          "anna",
          "vera",
          "charles",
          "paul",
          "george",
          "mary",
          "jane",
          "michael",
          "eve",
          "bill_boerst",
          "peter_yearsley",
          "stuart_bell",
          "caro_davy");

  private final ModelSettings settings;
  private final HubClient hub;
  private final DownloadProgress progress;
  private final Path folder;
  private final boolean ready;
  private volatile ChecksumRecord record;
  private volatile String cloningProblem;
  private volatile List<String> catalog = ENGLISH_VOICES;

  public ModelStore(ModelSettings settings, HubClient hub) {
    this(settings, hub, new DownloadProgress());
  }

  /** A store that reports its downloads to {@code progress} (shared by the stores of a server). */
  public ModelStore(ModelSettings settings, HubClient hub, DownloadProgress progress) {
    this.settings = settings;
    this.hub = hub;
    this.progress = progress;
    Path dir = settings.modelsDir();
    this.ready = holdsModel(dir);
    this.folder = ready ? dir : dir.resolve(settings.bundle());
  }

  /** True when a folder holds a model already (bundle.json, or a flow_lm_main graph). */
  public static boolean holdsModel(Path dir) {
    return BundleConfig.isBundle(dir)
        || Files.isRegularFile(dir.resolve(ModelFiles.fileName("flow_lm_main", true)))
        || Files.isRegularFile(dir.resolve(ModelFiles.fileName("flow_lm_main", false)));
  }

  /** The bundle this store holds, as configured ({@code MODEL_BUNDLE(S)}). */
  public String bundle() {
    return settings.bundle();
  }

  public Path folder() {
    return folder;
  }

  public DownloadProgress progress() {
    return progress;
  }

  /** Why cloning will not work although the model loads (gated or missing encoder), or null. */
  public String cloningProblem() {
    return cloningProblem;
  }

  /** Makes sure the model folder is complete and intact; returns it. */
  public Path ensureModel() {
    try {
      Files.createDirectories(folder);
      record = new ChecksumRecord(folder);
      if (ready) {
        log.info("Using the model in {} as it is (MODELS_DIR holds a model)", folder);
        verifyRecorded();
        readCatalog();
        return folder;
      }
      List<RemoteFile> files = new ArrayList<>();
      String base = settings.legacyLayout() ? "onnx/" : "onnx/" + settings.bundle() + "/";
      if (!settings.legacyLayout()) {
        ensure(remote(base + BundleConfig.FILE, BundleConfig.FILE, true), true);
        BundleConfig config = BundleConfig.read(folder.resolve(BundleConfig.FILE));
        files.add(remote(base + config.tokenizerFile(), config.tokenizerFile(), true));
        if (config.insertBosBeforeVoice() && config.bosBeforeVoiceFile() != null) {
          files.add(remote(base + config.bosBeforeVoiceFile(), config.bosBeforeVoiceFile(), false));
        }
      } else {
        files.add(remote("tokenizer.model", "tokenizer.model", true));
      }
      boolean int8 = settings.precision() == Precision.INT8;
      for (String stem : List.of("flow_lm_main", "flow_lm_flow", "mimi_decoder")) {
        String name = ModelFiles.fileName(stem, int8);
        files.add(remote(base + name, name, true));
      }
      String text = ModelFiles.fileName("text_conditioner", false);
      files.add(remote(base + text, text, true));
      String encoder = ModelFiles.fileName("mimi_encoder", false);
      files.add(remote(base + encoder, encoder, false));
      files.add(remote("onnx/LICENSE", "LICENSE", false));
      long missing = 0;
      for (RemoteFile f : files) {
        if (!Files.exists(folder.resolve(f.localName())) && f.size() > 0) {
          missing += f.size();
        }
      }
      progress.addTotal(missing);
      for (RemoteFile f : files) {
        try {
          ensure(f, f.required());
        } catch (ModelFileException e) {
          if (f.required()) {
            throw e;
          }
          log.warn("Optional file {} is unavailable: {}", f.localName(), e.getMessage());
          if (f.localName().equals(encoder) || f.localName().endsWith(".npy")) {
            cloningProblem = "voice cloning is unavailable: " + e.getMessage();
          }
        }
      }
      progress.current(null);
      readCatalog();
      return folder;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot prepare the model folder " + folder + ": " + e.getMessage(), e);
    }
  }

  private RemoteFile remote(String path, String localName, boolean required) {
    PinnedFiles.Pin pin = PinnedFiles.lookup(settings.repo(), settings.revision(), path);
    return new RemoteFile(
        settings.repo(),
        settings.revision(),
        path,
        localName,
        pin == null ? -1 : pin.size(),
        pin == null ? null : pin.sha256(),
        required);
  }

  /** Verifies a present file (re-downloading a corrupt one) or downloads a missing one. */
  private void ensure(RemoteFile f, boolean required) throws IOException {
    Path target = folder.resolve(f.localName());
    Files.createDirectories(target.getParent());
    long size = f.size();
    String sha = f.sha256();
    ChecksumRecord.Entry recorded = record.get(f.localName());
    if (sha == null && recorded != null) {
      size = recorded.size();
      sha = recorded.sha256();
    }
    if (Files.exists(target)) {
      if (sha == null) {
        record.put(
            f.localName(),
            new ChecksumRecord.Entry(
                Files.size(target), ModelFiles.sha256(target), hub.url(f).toString()));
        return;
      }
      if (intact(target, size, sha)) {
        return;
      }
      if (settings.offline()) {
        throw new ModelFileException(
            ModelFileException.Reason.CHECKSUM,
            target
                + " is corrupt (size or SHA-256 differs from "
                + sha
                + "); delete it, or start without"
                + " OFFLINE=true to download it again");
      }
      log.warn("{} is corrupt (size or SHA-256 differs); downloading it again", target);
      Files.delete(target);
      if (size > 0) {
        progress.addTotal(size);
      }
    }
    if (settings.offline()) {
      throw new ModelFileException(
          ModelFileException.Reason.MISSING_OFFLINE,
          target + " is missing and OFFLINE=true forbids downloading it");
    }
    log.info("Downloading {} from {}", f.localName(), hub.url(f));
    String actual = hub.download(f, size, sha, target, progress);
    if (sha == null) {
      record.put(
          f.localName(),
          new ChecksumRecord.Entry(Files.size(target), actual, hub.url(f).toString()));
    }
  }

  private static boolean intact(Path file, long size, String sha) throws IOException {
    return (size < 0 || Files.size(file) == size) && sha.equalsIgnoreCase(ModelFiles.sha256(file));
  }

  /** Files of a model folder used as it is: checks those with a recorded checksum. */
  private void verifyRecorded() throws IOException {
    try (Stream<Path> files = Files.list(folder)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        ChecksumRecord.Entry e = record.get(p.getFileName().toString());
        if (e != null && e.sha256() != null && !intact(p, e.size(), e.sha256())) {
          throw new ModelFileException(
              ModelFileException.Reason.CHECKSUM,
              p
                  + " is corrupt: its SHA-256 differs from the one recorded in "
                  + ChecksumRecord.FILE);
        }
      }
    }
  }

  private void readCatalog() throws IOException {
    if (BundleConfig.isBundle(folder)) {
      List<String> names = BundleConfig.read(folder.resolve(BundleConfig.FILE)).predefinedVoices();
      if (!names.isEmpty()) {
        catalog = names.stream().filter(n -> VOICE_NAME.matcher(n).matches()).toList();
      }
    }
  }

  // ------------------------------------------------------------------ voices

  /** True for names that may be voices: lower-case letters, digits and underscores. */
  public static boolean validVoiceName(String name) {
    return name != null && VOICE_NAME.matcher(name).matches();
  }

  /**
   * Whether {@code name} is a built-in voice ({@link #voiceNames()} holds it), without listing the
   * voice folder: a name of the model's list that can be downloaded, or a voice file on disk.
   */
  public boolean hasVoice(String name) {
    return validVoiceName(name)
        && ((!settings.offline() && !ready && catalog.contains(name))
            || Files.isRegularFile(voicePath(name)));
  }

  /** Built-in voice names: the model's list online; offline, those present on disk. */
  public List<String> voiceNames() {
    List<String> names = new ArrayList<>();
    for (String n : catalog) {
      if (!settings.offline() && !ready || Files.isRegularFile(voicePath(n))) {
        names.add(n);
      }
    }
    Path dir = folder.resolve("voices");
    if (Files.isDirectory(dir)) {
      try (Stream<Path> s = Files.list(dir)) {
        s.map(p -> p.getFileName().toString())
            .filter(n -> n.endsWith(".safetensors"))
            .map(n -> n.substring(0, n.length() - ".safetensors".length()))
            .filter(ModelStore::validVoiceName)
            .filter(n -> !names.contains(n))
            .sorted()
            .forEach(names::add);
      } catch (IOException e) {
        log.warn("Cannot list {}: {}", dir, e.getMessage());
      }
    }
    return List.copyOf(names);
  }

  private Path voicePath(String name) {
    return folder.resolve("voices").resolve(name + ".safetensors");
  }

  /**
   * The voice file of a built-in voice, downloaded on first use and verified against the hash
   * recorded then. Throws {@link ModelFileException} with NOT_FOUND for unknown voices.
   */
  public Path ensureVoice(String name) {
    if (!validVoiceName(name)) {
      throw new ModelFileException(
          ModelFileException.Reason.NOT_FOUND, "no voice called '" + name + "'");
    }
    Path path = voicePath(name);
    String local = "voices/" + name + ".safetensors";
    try {
      if (record == null) {
        record = new ChecksumRecord(folder);
      }
      if (Files.isRegularFile(path) && (settings.offline() || ready)) {
        ChecksumRecord.Entry e = record.get(local);
        if (e != null && !intact(path, e.size(), e.sha256())) {
          throw new ModelFileException(
              ModelFileException.Reason.CHECKSUM,
              path + " is corrupt: its SHA-256 differs from the one recorded on download");
        }
        return path;
      }
      if (!catalog.contains(name) && !Files.isRegularFile(path)) {
        throw new ModelFileException(
            ModelFileException.Reason.NOT_FOUND, "no voice called '" + name + "'");
      }
      if ((settings.offline() || ready) && !Files.isRegularFile(path)) {
        throw new ModelFileException(
            ModelFileException.Reason.NOT_FOUND,
            "voice '" + name + "' is not on disk and downloads are off");
      }
      String remotePath =
          settings.legacyLayout()
              ? "embeddings_v3/" + name + ".safetensors"
              : "languages/" + settings.bundle() + "/embeddings/" + name + ".safetensors";
      String revision =
          settings.legacyLayout()
                  && settings.voiceRevision().equals(ModelSettings.DEFAULT_VOICE_REVISION)
              ? ModelSettings.LEGACY_VOICE_REVISION
              : settings.voiceRevision();
      ensure(
          new RemoteFile(settings.voiceRepo(), revision, remotePath, local, -1, null, true), true);
      return path;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot store voice " + name + ": " + e.getMessage(), e);
    }
  }
}
