package dev.pockettts.server.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.engine.PocketTtsEngine;
import dev.pockettts.server.engine.TextChunk;
import dev.pockettts.server.engine.VoiceState;
import dev.pockettts.server.security.WarmUpToken;
import dev.pockettts.server.synthesis.SynthesisLimiter;
import dev.pockettts.server.synthesis.TtsService;
import dev.pockettts.server.voice.VoiceService;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.function.LongFunction;
import org.springframework.http.ContentDisposition;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.stereotype.Component;
import org.springframework.web.servlet.mvc.method.annotation.StreamingResponseBody;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;
import tools.jackson.databind.json.JsonMapper;

/**
 * The speech answer shared by the seed's routes and the OpenAI-compatible one: a worker slot, the
 * voice and the chunks made before the response starts (so that errors are problem responses), then
 * the audio streamed as it is generated, or saved under {@code ./voice} and linked.
 */
@Component
class SpeechResponder {

  /** Slowest and fastest speed a request may ask for (FFmpeg atempo stages keep the pitch). */
  static final double MIN_SPEED = 0.25;

  static final double MAX_SPEED = 4.0;

  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(SpeechResponder.class);
  static final String SERVER_TIMING = "Server-Timing";
  private static final JsonMapper JSON = JsonMapper.builder().build();

  /** Answer to {@code type=url}. */
  record UrlResponse(@JsonProperty("url") String url, @JsonProperty("filename") String filename) {}

  private final TtsService tts;
  private final ServerSettings settings;
  private final SynthesisLimiter limiter;

  private final WarmUpToken warmUp;

  SpeechResponder(
      TtsService tts, ServerSettings settings, SynthesisLimiter limiter, WarmUpToken warmUp) {
    this.tts = tts;
    this.settings = settings;
    this.limiter = limiter;
    this.warmUp = warmUp;
  }

  /**
   * Runs one synthesis inside a worker slot: the voice is built and the script checked before the
   * response starts (so errors are problems), and a streamed response keeps the slot until its last
   * byte. {@code normalize} says whether an English script is read as written aloud (numbers,
   * currency, ...); a non-null {@code events} sends the encoded audio as OpenAI server-sent events
   * instead of as the body itself.
   */
  ResponseEntity<StreamingResponseBody> respond(
      HttpServletResponse servletResponse,
      String script,
      LongFunction<VoiceService.Voice> voiceSource,
      boolean asUrl,
      AudioFormat format,
      double speed,
      boolean normalize,
      SpeechEvents events)
      throws IOException {
    long start = System.nanoTime();
    SynthesisLimiter.Slot slot = limiter.acquire();
    try {
      VoiceService.Voice resolved = voiceSource.apply(slot.remainingMillis());
      PocketTtsEngine engine = resolved.engine();
      VoiceState voice = resolved.state();
      List<TextChunk> chunks = tts.prepare(engine, script, format, speed, normalize);
      long prepared = System.nanoTime();
      if (asUrl) {
        TtsService.Saved saved;
        try (slot) {
          saved = tts.save(engine, chunks, voice, format, speed, slot.remainingMillis());
        }
        String name = saved.name();
        String base =
            settings.publicBaseUrl() != null
                ? settings.publicBaseUrl()
                : ServletUriComponentsBuilder.fromCurrentContextPath().build().toUriString();
        // one return type for both answers: Spring streams only
        // ResponseEntity<StreamingResponseBody>
        String direct = tts.directUrl(name); // a presigned URL of the bucket's object, if asked for
        byte[] json =
            JSON.writeValueAsBytes(
                new UrlResponse(direct != null ? direct : base + "/voice/" + name, name));
        String timing =
            String.format(
                Locale.ROOT,
                "queue;dur=%.1f, prepare;dur=%.1f, first-audio;dur=%.1f, total;dur=%.1f",
                slot.waitedNanos() / 1e6,
                (prepared - start) / 1e6,
                (prepared - start + Math.max(0, saved.result().firstPcmNanos())) / 1e6,
                (System.nanoTime() - start) / 1e6);
        return ResponseEntity.ok()
            .contentType(MediaType.APPLICATION_JSON)
            .header(SERVER_TIMING, timing)
            .body(out -> out.write(json));
      }
      if (isHttp10()) {
        return whole(slot, engine, chunks, voice, format, speed, events, prepared - start);
      }
      boolean metered = !isWarmUp(); // the server's own request at start is not a synthesis
      StreamingResponseBody body =
          out -> {
            // Spring hands a stream that ignores flush(); the encoders' flushes must reach the
            // client, so that audio leaves as each block is ready. They go through the handler's
            // response, which Spring guards once the request is asynchronous: after the client
            // has gone and Tomcat has recycled the request for another connection, a late flush
            // from the decoder thread or the FFmpeg pump fails here instead of acting on that other
            // connection (the raw response is not guarded: a flush through it cut other clients'
            // streams, about once in 2000 requests under load)
            CountingOutputStream counted =
                new CountingOutputStream(out, servletResponse::flushBuffer);
            try (slot) {
              long timeout = slot.remainingMillis();
              if (events == null) {
                tts.stream(engine, chunks, voice, format, speed, counted, timeout, metered);
              } else {
                events.stream(
                    counted,
                    sink -> tts.stream(engine, chunks, voice, format, speed, sink, timeout));
              }
            } catch (IOException | RuntimeException e) {
              if (ConnectionAbort.clientGone(e)) {
                // nothing to cut; Tomcat ends the request itself and may already have handed it
                // to another connection, which a "close now" would then cut
                log.debug("The client went away after {} bytes: {}", counted.count(), e.toString());
              } else if (counted.count() > 0) {
                log.debug(
                    "Cutting the connection after {} bytes: {}", counted.count(), e.toString());
                ConnectionAbort.closeNow(servletResponse, e);
              }
              throw e;
            }
          };
      return audio(format, events, slot, prepared - start).body(body);
    } catch (IOException | RuntimeException e) {
      slot.close();
      throw e;
    }
  }

  private boolean isWarmUp() {
    jakarta.servlet.http.HttpServletRequest r = currentRequest();
    return r != null && warmUp.recognises(r);
  }

  private static boolean isHttp10() {
    jakarta.servlet.http.HttpServletRequest r = currentRequest();
    return r != null && "HTTP/1.0".equals(r.getProtocol());
  }

  /** The request this thread serves, or null outside one. */
  private static jakarta.servlet.http.HttpServletRequest currentRequest() {
    return org.springframework.web.context.request.RequestContextHolder.getRequestAttributes()
            instanceof org.springframework.web.context.request.ServletRequestAttributes a
        ? a.getRequest()
        : null;
  }

  /**
   * HTTP/1.0 has no chunked encoding, so a client could not tell a cut stream from a complete one:
   * the audio is made first, into a temporary file, and sent with its Content-Length; a failure
   * before then is a problem response.
   */
  private ResponseEntity<StreamingResponseBody> whole(
      SynthesisLimiter.Slot slot,
      PocketTtsEngine engine,
      List<TextChunk> chunks,
      VoiceState voice,
      AudioFormat format,
      double speed,
      SpeechEvents events,
      long prepareNanos)
      throws IOException {
    java.nio.file.Path tmp = java.nio.file.Files.createTempFile("pockettts-whole-", ".audio");
    try {
      try (slot;
          java.io.OutputStream file =
              new java.io.BufferedOutputStream(java.nio.file.Files.newOutputStream(tmp))) {
        long timeout = slot.remainingMillis();
        if (events == null) {
          tts.stream(engine, chunks, voice, format, speed, file, timeout);
        } else {
          events.stream(
              file, sink -> tts.stream(engine, chunks, voice, format, speed, sink, timeout));
        }
      }
      if (format == AudioFormat.WAV && events == null) {
        dev.pockettts.server.audio.WavEncoder.fixHeader(tmp, engine.sampleRate());
      }
    } catch (IOException | RuntimeException e) {
      java.nio.file.Files.deleteIfExists(tmp);
      throw e;
    }
    long size = java.nio.file.Files.size(tmp);
    StreamingResponseBody body =
        out -> {
          try {
            java.nio.file.Files.copy(tmp, out);
          } finally {
            java.nio.file.Files.deleteIfExists(tmp);
          }
        };
    return audio(format, events, slot, prepareNanos).contentLength(size).body(body);
  }

  /** The headers of an audio answer: its type, a file name, no caching, the timings so far. */
  private static ResponseEntity.BodyBuilder audio(
      AudioFormat format, SpeechEvents events, SynthesisLimiter.Slot slot, long prepareNanos) {
    return ResponseEntity.ok()
        .contentType(
            MediaType.parseMediaType(
                events == null ? format.contentType() : MediaType.TEXT_EVENT_STREAM_VALUE))
        .header(
            HttpHeaders.CONTENT_DISPOSITION,
            ContentDisposition.attachment()
                .filename("speech." + format.extension())
                .build()
                .toString())
        .header(HttpHeaders.CACHE_CONTROL, "no-store")
        .header(
            SERVER_TIMING,
            String.format(
                Locale.ROOT,
                "queue;dur=%.1f, prepare;dur=%.1f",
                slot.waitedNanos() / 1e6,
                prepareNanos / 1e6));
  }
}
