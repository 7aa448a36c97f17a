package dev.pockettts.server.system;

import dev.pockettts.server.engine.SynthesisResult;
import dev.pockettts.server.synthesis.ModelService;
import dev.pockettts.server.synthesis.SynthesisLimiter;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.TimeUnit;
import org.springframework.stereotype.Component;

/**
 * Prometheus metrics of the speech side (HTTP requests by endpoint and status come from Spring):
 * real-time factor, time to first audio, synthesis time and audio produced, worker occupancy, and
 * the model's download progress.
 */
@Component
public class TtsMetrics {

  private final DistributionSummary realTimeFactor;
  private final Timer firstAudio;
  private final Timer duration;
  private final Counter audioSeconds;

  public TtsMetrics(MeterRegistry registry, SynthesisLimiter limiter, ModelService models) {
    this.realTimeFactor =
        DistributionSummary.builder("tts.synthesis.realtime.factor")
            .description("seconds of audio per second of wall time")
            .publishPercentiles(0.5, 0.95)
            .register(registry);
    this.firstAudio =
        Timer.builder("tts.synthesis.first.audio")
            .description("time from the start of a synthesis to its first PCM block")
            .publishPercentiles(0.5, 0.95)
            .register(registry);
    this.duration =
        Timer.builder("tts.synthesis.duration")
            .description("wall time of a synthesis")
            .register(registry);
    this.audioSeconds =
        Counter.builder("tts.synthesis.audio.seconds")
            .description("audio produced")
            .register(registry);
    Gauge.builder("tts.synthesis.active", limiter, SynthesisLimiter::active)
        .description("syntheses running")
        .register(registry);
    Gauge.builder("tts.synthesis.queued", limiter, SynthesisLimiter::waiting)
        .description("requests waiting for a synthesis worker")
        .register(registry);
    Gauge.builder("tts.model.download.bytes", models, m -> m.progress().doneBytes())
        .description("model bytes downloaded")
        .register(registry);
    Gauge.builder("tts.model.download.total.bytes", models, m -> m.progress().totalBytes())
        .description("model bytes to download")
        .register(registry);
    Gauge.builder("tts.model.ready", models, m -> m.state() == ModelService.State.READY ? 1 : 0)
        .description("1 once the model is loaded")
        .register(registry);
  }

  /** Records one finished synthesis. */
  public void record(SynthesisResult r, int sampleRate) {
    duration.record(r.totalNanos(), TimeUnit.NANOSECONDS);
    audioSeconds.increment(r.samples() / (double) sampleRate);
    if (r.samples() > 0) {
      realTimeFactor.record(r.realTimeFactor(sampleRate));
    }
    if (r.firstPcmNanos() >= 0) {
      firstAudio.record(r.firstPcmNanos(), TimeUnit.NANOSECONDS);
    }
  }
}
