package dev.pockettts.server.model;

import dev.pockettts.server.engine.ModelFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Downloads files from a Hugging Face hub ({@code <endpoint>/<repo>/resolve/<revision>/<path>})
 * into a {@code .part} file, resuming after interruptions, and moves a file into place only after
 * its size and SHA-256 are verified. The token is sent only to the hub's own host, never to the
 * storage hosts it redirects to.
 */
public final class HubClient {

  private static final Logger log = LoggerFactory.getLogger(HubClient.class);
  private static final int MAX_REDIRECTS = 5;
  private static final long LOG_EVERY_NANOS = 2_000_000_000L;

  private final URI endpoint;
  private final String token;
  private final int attempts;
  private final Duration retryDelay;
  private final HttpClient http;

  public HubClient(URI endpoint, String token, int attempts, Duration retryDelay) {
    this.endpoint = endpoint;
    this.token = token == null || token.isBlank() ? null : token.strip();
    this.attempts = attempts;
    this.retryDelay = retryDelay;
    this.http =
        HttpClient.newBuilder()
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(Duration.ofSeconds(20))
            .build();
  }

  /** The URL of a file in a repository at a revision. */
  public URI url(RemoteFile f) {
    String base = endpoint.toString().replaceAll("/+$", "");
    return URI.create(
        base
            + "/"
            + f.repo()
            + "/resolve/"
            + URLEncoder.encode(f.revision(), StandardCharsets.UTF_8)
            + "/"
            + f.path());
  }

  /**
   * Downloads {@code f} to {@code target}, verifying it against {@code size} and {@code sha256}
   * (either may be unknown: -1 / null). Returns the SHA-256 of the file in place.
   */
  public String download(
      RemoteFile f, long size, String sha256, Path target, DownloadProgress progress) {
    Path part = target.resolveSibling(target.getFileName() + ".part");
    ModelFileException last = null;
    for (int attempt = 1; attempt <= attempts; attempt++) {
      try {
        fetch(f, part, progress);
        String actual = ModelFiles.sha256(part);
        long actualSize = Files.size(part);
        if ((size >= 0 && actualSize != size)
            || (sha256 != null && !sha256.equalsIgnoreCase(actual))) {
          Files.deleteIfExists(part);
          last =
              new ModelFileException(
                  ModelFileException.Reason.CHECKSUM,
                  "downloaded "
                      + f.path()
                      + " does not match its pinned checksum (got "
                      + actualSize
                      + " bytes, sha256 "
                      + actual
                      + "; expected "
                      + size
                      + " bytes, sha256 "
                      + sha256
                      + ")");
          log.warn("{} (attempt {} of {})", last.getMessage(), attempt, attempts);
          continue;
        }
        Files.move(
            part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return actual;
      } catch (ModelFileException e) {
        if (e.reason() != ModelFileException.Reason.NETWORK) {
          throw e;
        }
        last = e;
        log.warn(
            "Download of {} interrupted: {} (attempt {} of {}); will resume",
            f.path(),
            e.getMessage(),
            attempt,
            attempts);
      } catch (IOException e) {
        last =
            new ModelFileException(
                ModelFileException.Reason.NETWORK,
                "cannot write " + part + ": " + e.getMessage(),
                e);
        break;
      }
      sleep(retryDelay.multipliedBy(attempt));
    }
    throw last;
  }

  /** Fetches the rest of the file into {@code part}, resuming from its current length. */
  private void fetch(RemoteFile f, Path part, DownloadProgress progress) throws IOException {
    long have = Files.exists(part) ? Files.size(part) : 0;
    HttpResponse<InputStream> response = open(url(f), have);
    int status = response.statusCode();
    try (InputStream body = response.body()) {
      if (status == 416 && have > 0) {
        return; // the part file already holds everything; verification decides
      }
      if (status == 401 || status == 403) {
        throw new ModelFileException(
            ModelFileException.Reason.GATED,
            f.repo()
                + "/"
                + f.path()
                + " needs access (HTTP "
                + status
                + "): "
                + (token == null
                    ? "the repository is gated; accept its terms on Hugging Face and set HF_TOKEN"
                    : "HF_TOKEN was refused; check it and that you accepted the repository's terms"));
      }
      if (status == 404) {
        throw new ModelFileException(
            ModelFileException.Reason.NOT_FOUND,
            f.repo()
                + "/"
                + f.path()
                + " was not found at revision "
                + f.revision()
                + " (HTTP 404)");
      }
      if (status != 200 && status != 206) {
        throw new ModelFileException(
            ModelFileException.Reason.NETWORK, "HTTP " + status + " for " + url(f));
      }
      boolean append = status == 206 && have > 0;
      if (!append && have > 0) {
        progress.add(-have); // the server ignored the range: start over
        have = 0;
      }
      long total =
          response.headers().firstValueAsLong("Content-Length").orElse(-1) + (append ? have : 0);
      progress.current(f.localName());
      copy(body, part, append, f.localName(), have, total, progress);
    } catch (IOException e) {
      throw new ModelFileException(ModelFileException.Reason.NETWORK, e.getMessage(), e);
    }
  }

  /**
   * Why a connection failed, in words a user can act on (Java's own message is often null): the
   * name does not resolve, no route, refused, timed out, TLS, or the connection dropped.
   */
  static String networkReason(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.net.UnknownHostException
          || t instanceof java.nio.channels.UnresolvedAddressException) {
        return "the host name does not resolve (DNS)";
      }
      if (t instanceof java.net.NoRouteToHostException) {
        return "no route to the host (network down or unreachable)";
      }
      if (t instanceof java.net.http.HttpConnectTimeoutException
          || t instanceof java.net.SocketTimeoutException
          || t instanceof java.net.http.HttpTimeoutException) {
        return "the connection timed out";
      }
      if (t instanceof javax.net.ssl.SSLException) {
        return "the TLS handshake failed (" + t.getMessage() + ")";
      }
      if (t instanceof java.net.ConnectException && t.getMessage() != null) {
        String m = t.getMessage().toLowerCase(java.util.Locale.ROOT);
        if (m.contains("no route")) {
          return "no route to the host (network down or unreachable)";
        }
        if (m.contains("timed out")) {
          return "the connection timed out";
        }
        if (m.contains("refused")) {
          return "the connection was refused";
        }
      }
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.net.ConnectException) {
        return "the connection was refused";
      }
      if (t.getMessage() != null) {
        return t.getMessage();
      }
    }
    return e.getClass().getSimpleName();
  }

  private HttpResponse<InputStream> open(URI url, long from) {
    URI current = url;
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
      HttpRequest.Builder req =
          HttpRequest.newBuilder(current)
              .timeout(Duration.ofMinutes(5))
              .header("User-Agent", "pockettts-server");
      if (from > 0) {
        req.header("Range", "bytes=" + from + "-");
      }
      if (token != null && sameHost(current, endpoint)) {
        req.header("Authorization", "Bearer " + token);
      }
      HttpResponse<InputStream> r;
      try {
        r = http.send(req.GET().build(), HttpResponse.BodyHandlers.ofInputStream());
      } catch (IOException e) {
        throw new ModelFileException(
            ModelFileException.Reason.NETWORK,
            "cannot reach " + current.getHost() + ": " + networkReason(e),
            e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ModelFileException(ModelFileException.Reason.NETWORK, "interrupted", e);
      }
      int status = r.statusCode();
      if (status >= 300 && status < 400 && r.headers().firstValue("Location").isPresent()) {
        try {
          r.body().close();
        } catch (IOException ignored) {
          // nothing to keep from a redirect body
        }
        current = current.resolve(r.headers().firstValue("Location").get());
        continue;
      }
      return r;
    }
    throw new ModelFileException(
        ModelFileException.Reason.NETWORK, "too many redirects for " + url);
  }

  private static boolean sameHost(URI a, URI b) {
    return a.getHost() != null
        && a.getHost().equalsIgnoreCase(b.getHost())
        && a.getPort() == b.getPort();
  }

  private static void copy(
      InputStream in,
      Path part,
      boolean append,
      String name,
      long have,
      long total,
      DownloadProgress progress)
      throws IOException {
    long done = have;
    long lastLog = System.nanoTime();
    long lastBytes = done;
    byte[] buf = new byte[1 << 16];
    try (OutputStream out =
        Files.newOutputStream(
            part,
            StandardOpenOption.CREATE,
            append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        out.write(buf, 0, n);
        done += n;
        progress.add(n);
        long now = System.nanoTime();
        if (now - lastLog > LOG_EVERY_NANOS) {
          double mbs = (done - lastBytes) / 1e6 / ((now - lastLog) / 1e9);
          log.info(
              "Downloading {}: {} ({} of {} MB) at {} MB/s",
              name,
              total > 0 ? String.format(Locale.ROOT, "%.0f%%", 100.0 * done / total) : "?",
              String.format(Locale.ROOT, "%.1f", done / 1e6),
              total > 0 ? String.format(Locale.ROOT, "%.1f", total / 1e6) : "?",
              String.format(Locale.ROOT, "%.1f", mbs));
          lastLog = now;
          lastBytes = done;
        }
      }
    }
    if (total > 0 && done < total) {
      throw new IOException("connection closed after " + done + " of " + total + " bytes");
    }
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelFileException(ModelFileException.Reason.NETWORK, "interrupted", e);
    }
  }
}
