package dev.pockettts.server.synthesis;

import dev.pockettts.server.voice.VoiceService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * Once the models are loaded: loads each bundle's default voice into the voice cache and speaks a
 * short script with it through the synthesis service into nothing (outside the metrics), so the
 * first request after a start is about as fast as the next ones.
 */
@Component
public class StartupWarmUp {

  private static final Logger log = LoggerFactory.getLogger(StartupWarmUp.class);

  private final ModelService models;
  private final VoiceService voices;
  private final TtsService tts;

  public StartupWarmUp(ModelService models, VoiceService voices, TtsService tts) {
    this.models = models;
    this.voices = voices;
    this.tts = tts;
    models.whenReady(this::warm);
  }

  private void warm() {
    for (ModelService.Bundle b : models.bundles()) {
      String name = VoiceService.defaultVoiceOf(b);
      if (name == null) {
        continue;
      }
      long t0 = System.nanoTime();
      VoiceService.Voice voice = voices.named(name, b.name());
      long loaded = System.nanoTime();
      try {
        tts.warmUp(b.engine(), voice.state());
      } catch (java.io.IOException e) {
        log.warn("The warm-up synthesis with {} failed: {}", name, e.getMessage());
        continue;
      }
      log.info(
          "Voice {} of {} loaded ({} ms) and spoken once ({} ms) ahead of the first request",
          name,
          b.name(),
          (loaded - t0) / 1_000_000,
          (System.nanoTime() - loaded) / 1_000_000);
    }
  }
}
