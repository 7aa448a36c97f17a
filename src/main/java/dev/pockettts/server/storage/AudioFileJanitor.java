package dev.pockettts.server.storage;

import java.time.Instant;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Sweeps the {@code type=url} files every minute (see {@link AudioFiles#sweep}). With a shared
 * bucket every replica sweeps it; a sweep only deletes what is past its time or its cap, so two at
 * once remove the same files, whichever comes first.
 */
@Component
public class AudioFileJanitor {

  private final AudioFiles files;

  AudioFileJanitor(AudioFiles files) {
    this.files = files;
  }

  @Scheduled(initialDelay = 5_000, fixedDelay = 60_000)
  void scheduled() {
    files.sweep(Instant.now());
  }

  /** Sweeps now; returns how many files were removed. */
  public int sweep(Instant now) {
    return files.sweep(now);
  }
}
