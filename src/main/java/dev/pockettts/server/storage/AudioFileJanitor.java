package dev.pockettts.server.storage;

import dev.pockettts.server.config.ServerSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Keeps the voice folder bounded: files older than {@code VOICE_RETENTION} go, then the oldest
 * until the folder is under {@code VOICE_DIR_MAX_BYTES}; temporary files left by a crash go after
 * an hour. Only files the store names are touched.
 */
@Component
public class AudioFileJanitor {

  private static final Logger log = LoggerFactory.getLogger(AudioFileJanitor.class);
  private static final Duration STALE_PART = Duration.ofHours(1);

  private final Path dir;
  private final Duration retention;
  private final long maxBytes;

  @Autowired
  public AudioFileJanitor(ServerSettings settings) {
    this(settings.voiceDir(), settings.voiceRetention(), settings.voiceDirMaxBytes());
  }

  AudioFileJanitor(Path dir, Duration retention, long maxBytes) {
    this.dir = dir;
    this.retention = retention;
    this.maxBytes = maxBytes;
  }

  @Scheduled(initialDelay = 5_000, fixedDelay = 60_000)
  void scheduled() {
    sweep(Instant.now());
  }

  private record Entry(Path path, Instant modified, long size) {}

  /** Removes what is too old or too much; returns how many files were removed. */
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
            && AudioFileStore.validName(name.substring(1, name.length() - 5))) {
          if (modified.isBefore(now.minus(STALE_PART))) {
            removed += delete(p) ? 1 : 0;
          }
        } else if (AudioFileStore.validName(name)) {
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
