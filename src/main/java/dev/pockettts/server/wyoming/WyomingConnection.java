package dev.pockettts.server.wyoming;

import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.engine.InvalidTextException;
import dev.pockettts.server.engine.Language;
import dev.pockettts.server.engine.TextChunk;
import dev.pockettts.server.synthesis.ModelService;
import dev.pockettts.server.synthesis.ScriptRules;
import dev.pockettts.server.synthesis.SynthesisException;
import dev.pockettts.server.synthesis.SynthesisLimiter;
import dev.pockettts.server.synthesis.TtsService;
import dev.pockettts.server.voice.VoiceException;
import dev.pockettts.server.voice.VoiceService;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * One Wyoming client: events are read and answered in order, any number of requests per connection.
 * Speech goes through the same worker slots, text preparation, time limit and metrics as {@code
 * POST /tts}, as 16-bit mono PCM sent block by block as it is generated.
 */
final class WyomingConnection implements Runnable {

  private static final Logger log = LoggerFactory.getLogger(WyomingConnection.class);

  /** Where a sentence ends in text streamed so far: end punctuation, closing quotes, a space. */
  private static final Pattern SENTENCE_END = Pattern.compile("[.!?…。！？]+[\"'”’)\\]]*\\s+");

  private final Socket socket;
  private final WyomingInfo info;
  private final ModelService models;
  private final VoiceService voices;
  private final TtsService tts;
  private final SynthesisLimiter limiter;
  private final ServerSettings settings;
  private final WyomingEvent.Limits limits;
  private OutputStream out;

  /** The streamed request in progress, or null. */
  private Streaming streaming;

  WyomingConnection(
      Socket socket,
      WyomingInfo info,
      ModelService models,
      VoiceService voices,
      TtsService tts,
      SynthesisLimiter limiter,
      ServerSettings settings) {
    this.socket = socket;
    this.info = info;
    this.models = models;
    this.voices = voices;
    this.tts = tts;
    this.limiter = limiter;
    this.settings = settings;
    // a script of MAX_SCRIPT_CHARS characters, each up to 6 bytes escaped in JSON, and its fields
    this.limits =
        new WyomingEvent.Limits(
            8192, (int) Math.min(Integer.MAX_VALUE - 8, 6L * settings.maxScriptChars() + 4096), 0);
  }

  @Override
  public void run() {
    String peer = String.valueOf(socket.getRemoteSocketAddress());
    try (socket) {
      socket.setSoTimeout((int) WyomingServer.IDLE_TIMEOUT.toMillis());
      socket.setTcpNoDelay(true);
      InputStream in = new BufferedInputStream(socket.getInputStream());
      out = new BufferedOutputStream(socket.getOutputStream());
      while (true) {
        WyomingEvent event;
        try {
          event = WyomingEvent.read(in, limits);
        } catch (WyomingEvent.ProtocolException e) {
          error("bad-event", e.getMessage());
          if (e.fatal) {
            return;
          }
          continue;
        }
        if (event == null) {
          return;
        }
        handle(event);
      }
    } catch (SocketTimeoutException e) {
      log.debug("Wyoming client {} idle for {}: closing", peer, WyomingServer.IDLE_TIMEOUT);
    } catch (IOException e) {
      log.debug("Wyoming client {} gone: {}", peer, e.toString());
    } catch (RuntimeException e) {
      log.warn("Wyoming client {}: {}", peer, e.toString(), e);
    }
  }

  private void handle(WyomingEvent event) throws IOException {
    switch (event.type()) {
      case "describe" -> new WyomingEvent("info", info.describe()).write(out);
      case "ping" -> {
        ObjectNode pong = WyomingEvent.object();
        if (event.text("text") != null) {
          pong.put("text", event.text("text"));
        }
        new WyomingEvent("pong", pong).write(out);
      }
      case "synthesize" -> {
        if (streaming != null) {
          // a streaming client sends the whole text again for servers that do not stream: it was
          // spoken sentence by sentence already
          return;
        }
        String text = event.text("text");
        if (text == null) {
          error("missing-text", "synthesize needs a text");
          return;
        }
        speak(text, event.data().get("voice"));
      }
      case "synthesize-start" -> streaming = new Streaming(event.data().get("voice"));
      case "synthesize-chunk" -> {
        if (streaming == null) {
          error("not-streaming", "synthesize-chunk before synthesize-start");
          return;
        }
        String text = event.text("text");
        if (text != null && streaming.add(text)) {
          streaming.speakFinishedSentences();
        }
      }
      case "synthesize-stop" -> {
        if (streaming == null) {
          error("not-streaming", "synthesize-stop before synthesize-start");
          return;
        }
        Streaming s = streaming;
        streaming = null;
        s.finish();
        new WyomingEvent("synthesize-stopped", WyomingEvent.object()).write(out);
      }
      default ->
          error(
              "unknown-event",
              "this server speaks text (describe, synthesize, synthesize-start/-chunk/-stop);"
                  + " it does not handle '"
                  + event.type()
                  + "'");
    }
  }

  /** Text streamed in pieces; each finished sentence is spoken as soon as it is complete. */
  private final class Streaming {
    private final JsonNode voice;
    private final StringBuilder pending = new StringBuilder();
    private long received;
    private boolean failed;

    Streaming(JsonNode voice) {
      this.voice = voice;
    }

    /** Adds a piece; false (and an error sent) once the text is over MAX_SCRIPT_CHARS. */
    boolean add(String text) throws IOException {
      if (failed) {
        return false;
      }
      received += text.length();
      if (received > settings.maxScriptChars()) {
        failed = true;
        pending.setLength(0);
        error(
            "script-too-long",
            "the streamed text is longer than MAX_SCRIPT_CHARS ("
                + settings.maxScriptChars()
                + " characters); the rest is not spoken");
        return false;
      }
      pending.append(text);
      return true;
    }

    void speakFinishedSentences() throws IOException {
      int end = -1;
      Matcher m = SENTENCE_END.matcher(pending);
      while (m.find()) {
        end = m.end();
      }
      if (end > 0) {
        String sentences = pending.substring(0, end);
        pending.delete(0, end);
        speakPart(sentences);
      }
    }

    void finish() throws IOException {
      if (!failed && !pending.toString().isBlank()) {
        speakPart(pending.toString());
      }
      pending.setLength(0);
    }

    private void speakPart(String text) throws IOException {
      if (!text.isBlank() && !speak(text, voice)) {
        failed = true;
      }
    }
  }

  /**
   * Speaks {@code text}: audio-start, audio-chunk events as blocks are generated, audio-stop; an
   * error event instead when it cannot. Returns whether it was spoken.
   */
  private boolean speak(String text, JsonNode voiceRequest) throws IOException {
    if (text.length() > settings.maxScriptChars()) {
      error(
          "script-too-long",
          "the text is longer than MAX_SCRIPT_CHARS ("
              + settings.maxScriptChars()
              + " characters)");
      return false;
    }
    try {
      ScriptRules.check(text); // before taking a worker, as /tts refuses it before
    } catch (SynthesisException e) {
      error(e.code(), e.getMessage());
      return false;
    }
    try (SynthesisLimiter.Slot slot = limiter.acquire()) {
      VoiceService.Voice voice = voice(voiceRequest);
      List<TextChunk> chunks = tts.prepare(voice.engine(), text, AudioFormat.PCM, 1.0, true);
      int rate = voice.engine().sampleRate();
      new WyomingEvent("audio-start", audioFormat(rate)).write(out);
      AudioChunks chunked = new AudioChunks(rate);
      tts.stream(
          voice.engine(),
          chunks,
          voice.state(),
          AudioFormat.PCM,
          1.0,
          chunked,
          slot.remainingMillis());
      chunked.flush();
      new WyomingEvent("audio-stop", WyomingEvent.object()).write(out);
      return true;
    } catch (VoiceException e) {
      error(e.code(), e.getMessage());
    } catch (SynthesisException e) {
      error(e.code(), e.getMessage());
    } catch (InvalidTextException e) {
      error("invalid-script", e.getMessage()); // as /tts says it
    } catch (IOException e) {
      throw e; // the client went away: the stream ended when its write failed
    } catch (RuntimeException e) {
      log.warn("Wyoming synthesis failed: {}", e.toString(), e);
      error("synthesis-failed", "the synthesis failed on the server");
    }
    return false;
  }

  /**
   * The voice asked for: by {@code name} (built-in of any loaded bundle, or saved); by {@code
   * language} (a BCP 47 code such as {@code en} or {@code fr-FR}) the default voice of the bundle
   * speaking it; otherwise the default bundle's default voice.
   */
  private VoiceService.Voice voice(JsonNode request) {
    String name = text(request, "name");
    if (name != null) {
      return voices.named(name, null);
    }
    String language = text(request, "language");
    ModelService.Bundle bundle = models.defaultBundle();
    if (language != null) {
      String wanted = language.toLowerCase(Locale.ROOT).split("[-_]")[0];
      bundle =
          models.bundles().stream()
              .filter(b -> wanted.equals(Language.code(b.language())))
              .findFirst()
              .orElseThrow(
                  () ->
                      new VoiceException(
                          VoiceException.Reason.UNKNOWN_VOICE,
                          "no loaded model speaks '" + language + "'; see describe"));
    }
    String fallback = VoiceService.defaultVoiceOf(bundle);
    if (fallback == null) {
      throw new VoiceException(
          VoiceException.Reason.UNKNOWN_VOICE,
          "the model " + bundle.name() + " has no built-in voice; name a saved one");
    }
    return voices.named(fallback, bundle.name());
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node == null ? null : node.get(field);
    return v != null && v.isString() && !v.asString().isBlank() ? v.asString() : null;
  }

  private static ObjectNode audioFormat(int rate) {
    ObjectNode d = WyomingEvent.object();
    d.put("rate", rate);
    d.put("width", 2);
    d.put("channels", 1);
    return d;
  }

  private void error(String code, String text) throws IOException {
    ObjectNode d = WyomingEvent.object();
    d.put("text", text);
    d.put("code", code);
    new WyomingEvent("error", d).write(out);
  }

  /**
   * The PCM stream as audio-chunk events: what the encoder flushes (one generated block) goes out
   * as one chunk, in whole samples.
   */
  private final class AudioChunks extends OutputStream {
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream(8192);
    private final int rate;

    AudioChunks(int rate) {
      this.rate = rate;
    }

    @Override
    public void write(int b) throws IOException {
      pending.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      pending.write(b, off, len);
      if (pending.size() >= 1 << 16) {
        flush();
      }
    }

    @Override
    public void flush() throws IOException {
      int whole = pending.size() / 2 * 2;
      if (whole == 0) {
        return;
      }
      byte[] all = pending.toByteArray();
      pending.reset();
      pending.write(all, whole, all.length - whole);
      byte[] samples = whole == all.length ? all : java.util.Arrays.copyOf(all, whole);
      new WyomingEvent("audio-chunk", audioFormat(rate), samples).write(out);
    }
  }
}
