package dev.pockettts.server.audio;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ws.schild.jave.process.ffmpeg.DefaultFFMPEGLocator;

/**
 * Runs FFmpeg (JAVE's bundled binary, or {@code FFMPEG_PATH}) to encode PCM streams and decode
 * uploaded audio. Arguments come from {@link AudioFormat} and numbers the server computes; no user
 * text ever reaches the command line. Every process has a time limit.
 */
public final class Ffmpeg {

  private static final Logger log = LoggerFactory.getLogger(Ffmpeg.class);
  private static final long DECODE_TIMEOUT_SECONDS = 60;
  private static final long FINISH_TIMEOUT_SECONDS = 30;

  private final String executable;

  private Ffmpeg(String executable) {
    this.executable = executable;
  }

  /** FFmpeg at {@code path}, or JAVE's bundled binary when null. */
  public static Ffmpeg locate(String path) {
    if (path != null) {
      return new Ffmpeg(path);
    }
    return new Ffmpeg(new DefaultFFMPEGLocator().getExecutablePath());
  }

  public String executable() {
    return executable;
  }

  /** True when the binary is there to run (cheap; checked before each response that needs it). */
  public boolean present() {
    Path p = Path.of(executable);
    return java.nio.file.Files.isRegularFile(p) && java.nio.file.Files.isExecutable(p);
  }

  /**
   * An encoder writing {@code format} to {@code out}; WAV is written directly, the rest by FFmpeg.
   */
  public PcmEncoder encoder(AudioFormat format, int sampleRate, OutputStream out)
      throws IOException {
    return encoder(format, 1.0, sampleRate, out);
  }

  /**
   * An encoder writing {@code format} at {@code speed} (0.25 to 4, the pitch kept: FFmpeg's {@code
   * atempo}) to {@code out}. WAV and PCM at normal speed are written directly, the rest by FFmpeg.
   */
  public PcmEncoder encoder(AudioFormat format, double speed, int sampleRate, OutputStream out)
      throws IOException {
    boolean tempo = Math.abs(speed - 1.0) > 1e-9;
    if (!tempo && format.native16Bit()) {
      return new WavEncoder(out, sampleRate, format == AudioFormat.WAV);
    }
    if (format == AudioFormat.WAV) {
      out.write(WavEncoder.header(sampleRate, WavEncoder.STREAMING));
    }
    // no probing of the raw input (FFmpeg would wait for seconds of it before its first output),
    // and every encoded packet written at once rather than in 32 kB blocks
    List<String> cmd =
        command(
            "-probesize",
            "32",
            "-analyzeduration",
            "0",
            "-f",
            "f32le",
            "-ar",
            Integer.toString(sampleRate),
            "-ac",
            "1",
            "-i",
            "pipe:0");
    if (tempo) {
      cmd.addAll(List.of("-af", atempo(speed)));
    }
    cmd.addAll(format.ffmpegArgs());
    cmd.addAll(List.of("-flush_packets", "1", "pipe:1"));
    return new FfmpegEncoder(start(cmd), out);
  }

  /** An atempo filter chain for {@code speed} in [0.25, 4], each stage within [0.5, 2]. */
  static String atempo(double speed) {
    if (!(speed >= 0.25 && speed <= 4.0)) {
      throw new IllegalArgumentException("speed must be from 0.25 to 4, got " + speed);
    }
    List<String> stages = new ArrayList<>();
    double rest = speed;
    while (rest > 2.0) {
      stages.add("atempo=2.0");
      rest /= 2.0;
    }
    while (rest < 0.5) {
      stages.add("atempo=0.5");
      rest /= 0.5;
    }
    stages.add(String.format(java.util.Locale.ROOT, "atempo=%.6f", rest));
    return String.join(",", stages);
  }

  /** FFmpeg quiet and non-interactive, then {@code args}. */
  private List<String> command(String... args) {
    List<String> cmd =
        new ArrayList<>(List.of(executable, "-nostdin", "-hide_banner", "-loglevel", "error"));
    cmd.addAll(List.of(args));
    return cmd;
  }

  private Process start(List<String> cmd) throws IOException {
    try {
      return new ProcessBuilder(cmd).start();
    } catch (IOException e) {
      throw new IOException("cannot start FFmpeg (" + executable + "): " + e.getMessage(), e);
    }
  }

  /**
   * Decodes any audio FFmpeg reads into mono float PCM at {@code sampleRate}, keeping only the
   * first {@code maxSeconds} (FFmpeg stops reading there, so long files are not decoded whole).
   */
  public float[] decode(Path input, double maxSeconds, int sampleRate)
      throws IOException, UndecodableAudioException {
    List<String> cmd =
        command(
            "-i",
            input.toAbsolutePath().toString(),
            "-t",
            String.format(Locale.ROOT, "%.3f", maxSeconds),
            "-vn",
            "-ac",
            "1",
            "-ar",
            Integer.toString(sampleRate),
            "-f",
            "f32le",
            "pipe:1");
    Process p = start(cmd);
    StderrTail err = new StderrTail(p.getErrorStream());
    err.start();
    byte[] pcm;
    try (InputStream in = p.getInputStream()) {
      long limit = (long) Math.ceil(maxSeconds * sampleRate) * 4 + 4096;
      pcm = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit));
    }
    try {
      if (!p.waitFor(DECODE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new UndecodableAudioException(
            "FFmpeg took longer than " + DECODE_TIMEOUT_SECONDS + " s to decode the audio");
      }
      err.join(1000);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while decoding audio", e);
    }
    if (p.exitValue() != 0) {
      throw new UndecodableAudioException("FFmpeg cannot decode the audio: " + err.text());
    }
    int n = pcm.length / 4;
    if (n == 0) {
      throw new UndecodableAudioException("the audio holds no samples");
    }
    float[] out = new float[n];
    ByteBuffer.wrap(pcm, 0, n * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    return out;
  }

  /**
   * FFmpeg failed while encoding (it stopped, timed out or exited with an error): a server-side
   * failure, even when its message quotes a broken pipe to FFmpeg.
   */
  public static final class EncoderFailedException extends IOException {
    public EncoderFailedException(String message) {
      super(message);
    }
  }

  /** Thrown when uploaded audio cannot be decoded. */
  public static final class UndecodableAudioException extends Exception {
    public UndecodableAudioException(String message) {
      super(message);
    }
  }

  /** Keeps the last few kB of a process's stderr. */
  private static final class StderrTail extends Thread {
    private final InputStream in;
    private final ByteArrayOutputStream tail = new ByteArrayOutputStream();

    StderrTail(InputStream in) {
      super("ffmpeg-stderr");
      setDaemon(true);
      this.in = in;
    }

    @Override
    public void run() {
      byte[] buf = new byte[4096];
      try {
        int n;
        while ((n = in.read(buf)) > 0) {
          synchronized (tail) {
            if (tail.size() > 8192) {
              tail.reset();
            }
            tail.write(buf, 0, n);
          }
        }
      } catch (IOException ignored) {
        // the process ended
      }
    }

    String text() {
      synchronized (tail) {
        String s = tail.toString(StandardCharsets.UTF_8).strip();
        return s.isEmpty() ? "no error output" : s.lines().reduce((a, b) -> b).orElse(s);
      }
    }
  }

  /** Feeds f32le PCM to FFmpeg's stdin while a pump copies its stdout to the client. */
  private static final class FfmpegEncoder implements PcmEncoder {
    private final Process process;
    private final OutputStream stdin;
    private final Thread pump;
    private final StderrTail err;
    private volatile IOException pumpError;
    private volatile boolean closed;

    FfmpegEncoder(Process process, OutputStream out) {
      this.process = process;
      this.stdin = process.getOutputStream();
      this.err = new StderrTail(process.getErrorStream());
      this.err.start();
      this.pump =
          new Thread(
              () -> {
                byte[] buf = new byte[8192];
                try (InputStream in = process.getInputStream()) {
                  int n;
                  while ((n = in.read(buf)) > 0 && !closed) {
                    out.write(buf, 0, n);
                    out.flush();
                  }
                } catch (IOException e) {
                  pumpError = e;
                  process.destroyForcibly();
                }
              },
              "ffmpeg-pump");
      this.pump.setDaemon(true);
      this.pump.start();
    }

    @Override
    public void write(float[] samples) throws IOException {
      if (pumpError != null) {
        throw pumpError;
      }
      ByteBuffer b = ByteBuffer.allocate(samples.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      b.asFloatBuffer().put(samples);
      try {
        stdin.write(b.array());
        stdin.flush();
      } catch (IOException e) {
        // no cause: a "Broken pipe" to FFmpeg is an encoder failure, and must not read as a
        // client that went away (Spring swallows those, ending the response as if complete)
        throw pumpError != null
            ? pumpError
            : new EncoderFailedException("FFmpeg stopped (" + e.getMessage() + "): " + err.text());
      }
    }

    @Override
    public void finish() throws IOException {
      stdin.close();
      try {
        if (!process.waitFor(FINISH_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          throw new EncoderFailedException(
              "FFmpeg did not finish within " + FINISH_TIMEOUT_SECONDS + " s");
        }
        pump.join(TimeUnit.SECONDS.toMillis(FINISH_TIMEOUT_SECONDS));
        err.join(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
        throw new IOException("interrupted while finishing the encoding", e);
      }
      if (pumpError != null) {
        throw pumpError;
      }
      if (process.exitValue() != 0) {
        throw new EncoderFailedException(
            "FFmpeg failed (exit " + process.exitValue() + "): " + err.text());
      }
    }

    @Override
    public void close() {
      closed = true;
      if (process.isAlive()) {
        log.debug("Stopping an unfinished FFmpeg encoding");
        process.destroyForcibly();
      }
      try {
        stdin.close();
      } catch (IOException ignored) {
        // already gone
      }
      // the pump must not outlive the response: a late write or flush would reach the servlet
      // response after it was recycled for another request
      try {
        pump.join(TimeUnit.SECONDS.toMillis(FINISH_TIMEOUT_SECONDS));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
