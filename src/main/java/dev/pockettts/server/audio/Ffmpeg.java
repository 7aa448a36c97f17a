package dev.pockettts.server.audio;

import dev.pockettts.server.system.ClientText;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
  private static final String UPLOAD_PREFIX = "pockettts-ref-";

  /** Every FFmpeg process this JVM started that has not ended yet. */
  private static final java.util.Set<Process> LIVE =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** Every uploaded recording on disk now (deleted when its decoding ends). */
  private static final java.util.Set<Path> UPLOADS =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  private static final java.util.concurrent.ScheduledExecutorService WATCHDOG =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "ffmpeg-watchdog");
            t.setDaemon(true);
            return t;
          });

  static {
    // the last resort when the JVM stops: give in-flight work the application's shutdown period,
    // then kill what is left (the application itself calls destroyAll once its requests ended)
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(65);
                  while (!LIVE.isEmpty() && System.nanoTime() < until) {
                    try {
                      Thread.sleep(100);
                    } catch (InterruptedException e) {
                      break;
                    }
                  }
                  destroyAll();
                },
                "ffmpeg-reaper"));
  }

  private final String executable;

  /** Why the binary cannot be started, once a {@link #selfCheck} found it so; else null. */
  private volatile String cannotStart;

  private Ffmpeg(String executable) {
    this.executable = executable;
  }

  /** What {@link #selfCheck} found: whether FFmpeg ran, and its version line or what went wrong. */
  public record Check(boolean runs, String detail) {}

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

  /**
   * True when the binary is there to run (cheap; checked before each response that needs it): a
   * regular, executable file that {@link #selfCheck}, if it ran, could start.
   */
  public boolean present() {
    Path p = Path.of(executable);
    return cannotStart == null
        && java.nio.file.Files.isRegularFile(p)
        && java.nio.file.Files.isExecutable(p);
  }

  /**
   * Runs {@code ffmpeg -version} once, so that a binary the system will not start (a temporary
   * folder mounted {@code noexec}, where JAVE unpacks it; a binary for another CPU) is known when
   * the server starts rather than at the first MP3 or upload: {@link #present} is then false and
   * those requests get a 503 that says FFmpeg is missing. A binary that starts but fails or hangs
   * is only reported (it may be a passing state). The first process a JVM starts costs about 100 ms
   * more than later ones; this one is started in the background at start, not in a request.
   */
  public Check selfCheck(long timeoutMillis) {
    Process p;
    try {
      p = start(command("-version"));
    } catch (IOException e) {
      cannotStart = e.getMessage();
      return new Check(false, e.getMessage());
    }
    Deadline deadline = Deadline.kill(p, timeoutMillis);
    StderrTail err = new StderrTail(p.getErrorStream());
    err.start();
    String first = null;
    try {
      p.getOutputStream().close();
      try (java.io.BufferedReader out =
          new java.io.BufferedReader(
              new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        first = out.readLine();
        out.transferTo(java.io.Writer.nullWriter());
      }
      p.waitFor();
      err.join(1000);
    } catch (IOException e) {
      kill(p);
      if (!deadline.passed()) { // else the kill at the deadline closed the stream
        return new Check(false, "cannot read ffmpeg -version: " + e.getMessage());
      }
    } catch (InterruptedException e) {
      kill(p);
      Thread.currentThread().interrupt();
      return new Check(false, "interrupted");
    } finally {
      deadline.cancel();
    }
    if (deadline.passed()) {
      return new Check(false, "ffmpeg -version did not end within " + timeoutMillis + " ms");
    }
    if (p.exitValue() != 0 || first == null) {
      return new Check(
          false, "ffmpeg -version exited with status " + p.exitValue() + ": " + err.text());
    }
    return new Check(true, first.strip());
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
    // a WAV header goes out with FFmpeg's first bytes, not before: an FFmpeg that fails before any
    // audio then leaves the response untouched, so the client gets a problem, not a bare header
    byte[] prefix =
        format == AudioFormat.WAV ? WavEncoder.header(sampleRate, WavEncoder.STREAMING) : null;
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
    return new FfmpegEncoder(start(cmd), out, prefix);
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
    Process p;
    try {
      p = new ProcessBuilder(cmd).start();
    } catch (IOException e) {
      throw new IOException("cannot start FFmpeg (" + executable + "): " + e.getMessage(), e);
    }
    LIVE.add(p);
    p.onExit().thenRun(() -> LIVE.remove(p));
    return p;
  }

  /** Kills a process and whatever it started (a wrapper script's own children too). */
  static void kill(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
  }

  /** FFmpeg processes running now (for the tests). */
  public static int liveProcesses() {
    return LIVE.size();
  }

  /**
   * Kills every FFmpeg process still running and deletes every upload still on disk: no child or
   * temporary file outlives the server. Called when the application stops (after in-flight requests
   * have been given their time), and by a JVM shutdown hook as the last resort.
   */
  public static void destroyAll() {
    for (Process p : List.copyOf(LIVE)) {
      log.warn("Killing an FFmpeg process (pid {}) that was still running", p.pid());
      kill(p);
    }
    for (Path f : List.copyOf(UPLOADS)) {
      deleteUpload(f);
    }
  }

  private static void deleteUpload(Path f) {
    try {
      Files.deleteIfExists(f);
    } catch (IOException e) {
      log.warn("Cannot delete the temporary upload {}: {}", f, e.toString());
    }
    UPLOADS.remove(f);
  }

  /**
   * Deletes uploads that an earlier run of the server left behind when it was killed (files older
   * than an hour: a newer one may belong to another server on this machine).
   */
  public static void deleteStaleUploads() {
    Path dir = Path.of(System.getProperty("java.io.tmpdir"));
    long cutoff = System.currentTimeMillis() - TimeUnit.HOURS.toMillis(1);
    try (var files = Files.newDirectoryStream(dir, UPLOAD_PREFIX + "*")) {
      for (Path f : files) {
        if (Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)
            && Files.getLastModifiedTime(f).toMillis() < cutoff) {
          Files.deleteIfExists(f);
          log.info("Deleted a temporary upload left by an earlier run: {}", f.getFileName());
        }
      }
    } catch (IOException e) {
      log.debug("Cannot sweep old uploads in {}: {}", dir, e.toString());
    }
  }

  /**
   * Decodes an uploaded recording into mono float PCM at {@code sampleRate}, keeping only the first
   * {@code maxSeconds} (FFmpeg stops reading there, so long files are not decoded whole). The
   * container is told from the upload's first bytes ({@link AudioContainer}) and FFmpeg is held to
   * that one demuxer and to the upload's own file, so an upload can never make FFmpeg read another
   * file or URL. FFmpeg is killed when it runs past {@code timeoutMillis}.
   */
  public float[] decode(byte[] upload, double maxSeconds, int sampleRate, long timeoutMillis)
      throws IOException, UndecodableAudioException {
    AudioContainer container =
        AudioContainer.sniff(
            java.util.Arrays.copyOf(upload, Math.min(upload.length, AudioContainer.HEAD_BYTES)));
    if (container == null) {
      throw new UndecodableAudioException(
          "the upload is not in an audio format this server reads ("
              + AudioContainer.accepted()
              + ")");
    }
    Path tmp = Files.createTempFile(UPLOAD_PREFIX, ".audio");
    UPLOADS.add(tmp);
    try {
      Files.write(tmp, upload);
      return decodeFile(tmp, container, maxSeconds, sampleRate, timeoutMillis);
    } finally {
      deleteUpload(tmp);
    }
  }

  private float[] decodeFile(
      Path input, AudioContainer container, double maxSeconds, int sampleRate, long timeoutMillis)
      throws IOException, UndecodableAudioException {
    List<String> cmd =
        command(
            "-protocol_whitelist",
            "file",
            "-format_whitelist",
            container.demuxer(),
            "-f",
            container.demuxer());
    if (container == AudioContainer.MP4) {
      cmd.addAll(List.of("-enable_drefs", "0")); // never follow a data reference to another file
    }
    cmd.addAll(
        List.of(
            "-i",
            "file:" + input.toAbsolutePath(),
            "-t",
            String.format(Locale.ROOT, "%.3f", maxSeconds),
            "-vn",
            "-sn",
            "-dn",
            "-ac",
            "1",
            "-ar",
            Integer.toString(sampleRate),
            "-f",
            "f32le",
            "pipe:1"));
    long timeout = Math.max(1, Math.min(timeoutMillis, DECODE_TIMEOUT_SECONDS * 1000));
    Process p = start(cmd);
    // the deadline is enforced by killing the process: a read of its output blocks until then
    Deadline deadline = Deadline.kill(p, timeout);
    StderrTail err = new StderrTail(p.getErrorStream());
    err.start();
    byte[] pcm;
    try {
      p.getOutputStream().close();
      try (InputStream in = p.getInputStream()) {
        long limit = (long) Math.ceil(maxSeconds * sampleRate) * 4 + 4096;
        pcm = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit));
      }
      if (!p.waitFor(timeout, TimeUnit.MILLISECONDS)) {
        deadline.expire();
      }
      err.join(1000);
    } catch (InterruptedException e) {
      kill(p);
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while decoding audio", e);
    } catch (IOException e) {
      kill(p);
      throw e;
    } finally {
      deadline.cancel();
    }
    if (deadline.passed()) {
      throw new DeadlineExceededException(
          "decoding the upload took longer than " + timeout / 1000.0 + " s");
    }
    if (p.exitValue() != 0) {
      log.info("FFmpeg cannot decode an upload read as {}: {}", container.label(), err.text());
      throw new UndecodableAudioException(
          "the upload starts like "
              + container.label()
              + " but FFmpeg cannot decode it: "
              + withoutPaths(err.text(), input));
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
   * FFmpeg's message without file paths of the server: the upload's path becomes "the upload", any
   * other absolute path "a file", and FFmpeg's "[demuxer @ 0x...]" prefix goes.
   */
  static String withoutPaths(String message, Path input) {
    String m = message.replace("file:" + input.toAbsolutePath(), "the upload");
    m = m.replace(input.toAbsolutePath().toString(), "the upload");
    m = m.replaceAll("\\[[^\\]]*@ ?0x[0-9a-fA-F]+\\] ?", "");
    return ClientText.withoutPaths(m);
  }

  /**
   * FFmpeg ran past its deadline and was killed (a recording that takes too long to decode, or an
   * encoder that stopped reading); the request ran out of its time.
   */
  public static final class DeadlineExceededException extends RuntimeException {
    public DeadlineExceededException(String message) {
      super(message);
    }
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

  /** A process killed when its time is up, unless cancelled first. */
  private static final class Deadline {
    private final Process process;
    private final java.util.concurrent.atomic.AtomicBoolean killed =
        new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.ScheduledFuture<?> task;

    private Deadline(Process process, long millis) {
      this.process = process;
      this.task = WATCHDOG.schedule(this::expire, millis, TimeUnit.MILLISECONDS);
    }

    static Deadline kill(Process p, long millis) {
      return new Deadline(p, millis);
    }

    /** Ends the process now as one past its time. */
    void expire() {
      killed.set(true);
      Ffmpeg.kill(process);
    }

    /** Whether the process was killed because its time was up. */
    boolean passed() {
      return killed.get();
    }

    void cancel() {
      task.cancel(false);
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
    private volatile long produced;

    FfmpegEncoder(Process process, OutputStream out, byte[] prefix) {
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
                    if (produced == 0 && prefix != null) {
                      out.write(prefix);
                    }
                    out.write(buf, 0, n);
                    produced += n;
                    out.flush();
                  }
                } catch (IOException e) {
                  pumpError = e;
                  kill(process);
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
          kill(process);
          throw new EncoderFailedException(
              "FFmpeg did not finish within " + FINISH_TIMEOUT_SECONDS + " s");
        }
        pump.join(TimeUnit.SECONDS.toMillis(FINISH_TIMEOUT_SECONDS));
        err.join(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        kill(process);
        throw new IOException("interrupted while finishing the encoding", e);
      }
      if (pumpError != null) {
        throw pumpError;
      }
      if (process.exitValue() != 0) {
        throw new EncoderFailedException(
            "FFmpeg failed (exit " + process.exitValue() + "): " + err.text());
      }
      if (produced == 0) {
        // it read the audio and exited cleanly without writing a byte: no output is no success
        throw new EncoderFailedException("FFmpeg produced no output: " + err.text());
      }
    }

    @Override
    public void abort() {
      closed = true;
      kill(process);
    }

    @Override
    public void close() {
      closed = true;
      if (process.isAlive()) {
        log.debug("Stopping an unfinished FFmpeg encoding");
        kill(process);
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
