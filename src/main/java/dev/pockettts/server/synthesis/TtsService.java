package dev.pockettts.server.synthesis;

import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.audio.Ffmpeg;
import dev.pockettts.server.audio.PcmEncoder;
import dev.pockettts.server.audio.WavEncoder;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.engine.Cancellation;
import dev.pockettts.server.engine.Language;
import dev.pockettts.server.engine.PocketTtsEngine;
import dev.pockettts.server.engine.SynthesisResult;
import dev.pockettts.server.engine.TextChunk;
import dev.pockettts.server.engine.VoiceState;
import dev.pockettts.server.storage.AudioFiles;
import dev.pockettts.server.system.TtsMetrics;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;

/** Script to encoded audio: chunks through the engine, PCM blocks through the encoder. */
@Service
public class TtsService {

  private static final Logger log = LoggerFactory.getLogger(TtsService.class);
  private static final ScheduledExecutorService TIMER =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "synthesis-timeout");
            t.setDaemon(true);
            return t;
          });

  private static final dev.pockettts.server.text.EnglishNormalizer NORMALIZER =
      new dev.pockettts.server.text.EnglishNormalizer();

  private final Ffmpeg ffmpeg;
  private final AudioFiles files;
  private final ServerSettings settings;
  private final TtsMetrics metrics;

  public TtsService(Ffmpeg ffmpeg, AudioFiles files, ServerSettings settings, TtsMetrics metrics) {
    this.metrics = metrics;
    this.ffmpeg = ffmpeg;
    this.files = files;
    this.settings = settings;
  }

  /**
   * Splits the script into the chunks it is spoken in, before a response starts, so that a script
   * that cannot be spoken (InvalidTextException) or a missing encoder (503: every format but WAV
   * and PCM, and every speed but 1, needs FFmpeg) is a problem response. With {@code normalize}, an
   * English model's script is first written as it is read aloud (numbers, currency, times...).
   */
  public List<TextChunk> prepare(
      PocketTtsEngine engine, String script, AudioFormat format, double speed, boolean normalize) {
    boolean english = normalize && Language.ENGLISH.equals(engine.config().languageFamily());
    List<TextChunk> chunks =
        engine.chunk(
            script,
            settings.generation(),
            english ? NORMALIZER::normalize : java.util.function.UnaryOperator.identity());
    long least = engine.minimumSamples(chunks, settings.generation());
    if (least > maxSamples(engine)) {
      throw new SynthesisException.AudioTooLong(
          String.format(
              java.util.Locale.ROOT,
              "the script would make at least %.0f s of audio (pauses included), more than"
                  + " MAX_AUDIO_SECONDS (%d s); split it into several requests",
              least / (double) engine.sampleRate(),
              settings.maxAudioSeconds()));
    }
    if (!format.native16Bit() || Math.abs(speed - 1.0) > 1e-9) {
      requireFfmpeg(format.extension().toUpperCase(java.util.Locale.ROOT) + " output");
    }
    return chunks;
  }

  /** 503 when FFmpeg is missing; {@code what} says what needed it. */
  public void requireFfmpeg(String what) {
    if (!ffmpeg.present()) {
      log.warn("FFmpeg at {} is missing or not executable", ffmpeg.executable());
      throw new SynthesisException.EncoderUnavailable(
          what
              + " needs FFmpeg, which is missing or not executable on the server; WAV still works");
    }
  }

  /**
   * Streams the speech to {@code out} as it is generated. Throws when the stream could not be
   * completed (client gone, encoder failed), so that the response is aborted, not ended cleanly.
   */
  public SynthesisResult stream(
      PocketTtsEngine engine,
      List<TextChunk> chunks,
      VoiceState voice,
      AudioFormat format,
      double speed,
      OutputStream out,
      long timeoutMillis)
      throws IOException {
    return stream(engine, chunks, voice, format, speed, out, timeoutMillis, true);
  }

  /** {@link #stream}, recorded in the speech metrics only when {@code counted}. */
  public SynthesisResult stream(
      PocketTtsEngine engine,
      List<TextChunk> chunks,
      VoiceState voice,
      AudioFormat format,
      double speed,
      OutputStream out,
      long timeoutMillis,
      boolean counted)
      throws IOException {
    try (PcmEncoder encoder = ffmpeg.encoder(format, speed, engine.sampleRate(), out)) {
      SynthesisResult r = run(engine, chunks, voice, encoder, timeoutMillis, counted);
      encoder.finish();
      return r;
    }
  }

  /**
   * Speaks a short script as WAV into nothing, outside the metrics: the code paths and buffers of a
   * real request are then ready before the first one comes. (No FFmpeg format: a broken encoder
   * must never hold the server back from being ready.)
   */
  public void warmUp(PocketTtsEngine engine, VoiceState voice) throws IOException {
    List<TextChunk> chunks = prepare(engine, "Ready to speak.", AudioFormat.WAV, 1.0, true);
    stream(
        engine,
        chunks,
        voice,
        AudioFormat.WAV,
        1.0,
        OutputStream.nullOutputStream(),
        settings.requestTimeout().toMillis(),
        false);
  }

  /** A URL that serves a saved file without this server (presigned), or null. */
  public String directUrl(String name) {
    return files.directUrl(name);
  }

  /** A saved file and how its synthesis went. */
  public record Saved(String name, SynthesisResult result) {}

  /** Writes the speech to a new file in the voice folder. */
  public Saved save(
      PocketTtsEngine engine,
      List<TextChunk> chunks,
      VoiceState voice,
      AudioFormat format,
      double speed,
      long timeoutMillis)
      throws IOException {
    AtomicReference<SynthesisResult> result = new AtomicReference<>();
    String name =
        files.write(
            format,
            target -> {
              try (OutputStream out = new BufferedOutputStream(target.out())) {
                try (PcmEncoder encoder = ffmpeg.encoder(format, speed, engine.sampleRate(), out)) {
                  result.set(run(engine, chunks, voice, encoder, timeoutMillis, true));
                  encoder.finish();
                }
              }
              if (format == AudioFormat.WAV) {
                WavEncoder.fixHeader(target.path(), engine.sampleRate());
              }
            });
    return new Saved(name, result.get());
  }

  private long maxSamples(PocketTtsEngine engine) {
    return (long) settings.maxAudioSeconds() * engine.sampleRate();
  }

  private SynthesisResult run(
      PocketTtsEngine engine,
      List<TextChunk> chunks,
      VoiceState voice,
      PcmEncoder encoder,
      long timeoutMillis,
      boolean counted)
      throws IOException {
    AtomicReference<IOException> failure = new AtomicReference<>();
    Cancellation cancel = new Cancellation();
    AtomicBoolean timedOut = new AtomicBoolean();
    AtomicBoolean tooLong = new AtomicBoolean();
    AtomicLong samples = new AtomicLong();
    long maxSamples = maxSamples(engine);
    ScheduledFuture<?> timer =
        TIMER.schedule(
            () -> {
              timedOut.set(true);
              cancel.cancel();
              encoder.abort(); // a write blocked on a stalled FFmpeg returns
            },
            timeoutMillis,
            TimeUnit.MILLISECONDS);
    SynthesisResult r;
    try {
      r =
          engine.synthesize(
              chunks,
              voice,
              settings.generation(),
              pcm -> {
                if (samples.addAndGet(pcm.length) > maxSamples) {
                  // a clean stop at the limit: nothing past it is encoded
                  tooLong.set(true);
                  cancel.cancel();
                  return;
                }
                try {
                  encoder.write(pcm);
                } catch (IOException e) {
                  failure.compareAndSet(null, e);
                  throw e;
                }
              },
              cancel);
    } finally {
      timer.cancel(false);
    }
    if (failure.get() != null && !timedOut.get()) {
      throw failure.get();
    }
    if (tooLong.get()) {
      throw new SynthesisException.AudioTooLong(
          "the speech grew past MAX_AUDIO_SECONDS ("
              + settings.maxAudioSeconds()
              + " s) and was stopped there; split the script into several requests");
    }
    if (timedOut.get()) {
      throw new SynthesisException.TimedOut(
          "the synthesis took longer than REQUEST_TIMEOUT ("
              + settings.requestTimeout().toSeconds()
              + " s)");
    }
    if (counted) {
      metrics.record(r, engine.sampleRate());
    }
    log.debug(
        "Synthesised {} chunks, {} frames, RTF {}",
        r.chunks(),
        r.frames(),
        String.format("%.2f", r.realTimeFactor(engine.sampleRate())));
    return r;
  }
}
