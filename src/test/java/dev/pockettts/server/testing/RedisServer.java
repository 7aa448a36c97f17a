package dev.pockettts.server.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real Redis for the tests: Debian's {@code redis-server} (installed and required by {@code
 * .ci/run}), started on a free port of 127.0.0.1 with nothing saved to disk. Without the binary the
 * test is skipped with a message, or fails when {@code REDIS_TESTS_REQUIRED=true}.
 */
public final class RedisServer implements AutoCloseable {

  private final int port;
  private Process process;

  private RedisServer(int port) {
    this.port = port;
  }

  /** A Redis on a free port, running. */
  public static RedisServer start() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    RedisServer r = new RedisServer(port);
    r.restart();
    return r;
  }

  private static Path binary() {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
      Path p = Path.of(dir, "redis-server");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    String message =
        "redis-server is not installed (sudo apt-get install redis-server); the Redis tests are"
            + " skipped";
    if (Boolean.parseBoolean(System.getenv("REDIS_TESTS_REQUIRED"))) {
      Assertions.fail(message.replace("are skipped", "are required (REDIS_TESTS_REQUIRED=true)"));
    }
    Assumptions.abort(message);
    return null;
  }

  /** Starts it again on the same port (after {@link #stop}). */
  public void restart() throws Exception {
    process =
        new ProcessBuilder(
                binary().toString(),
                "--port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no")
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!answers()) {
      if (System.nanoTime() > deadline || !process.isAlive()) {
        throw new IllegalStateException("redis-server did not start on port " + port);
      }
      Thread.sleep(50);
    }
  }

  private boolean answers() {
    return "+PONG".equals(command("PING"));
  }

  /** Empties every database (the tests' buckets start full again). */
  public void flushAll() {
    if (!"+OK".equals(command("FLUSHALL"))) {
      throw new IllegalStateException("FLUSHALL failed on port " + port);
    }
  }

  /** The first line of Redis's answer to an inline command, or null when it does not answer. */
  private String command(String line) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      s.setSoTimeout(2000);
      OutputStream out = s.getOutputStream();
      out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      StringBuilder answer = new StringBuilder();
      int c;
      while ((c = in.read()) >= 0 && c != '\r') {
        answer.append((char) c);
      }
      return answer.toString();
    } catch (IOException e) {
      return null;
    }
  }

  /** Stops it, as a crash or an outage would (the port stays this server's). */
  public void stop() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
      process = null;
    }
  }

  public String url() {
    return "redis://127.0.0.1:" + port;
  }

  @Override
  public void close() throws InterruptedException {
    stop();
  }
}
