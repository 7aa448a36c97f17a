package dev.pockettts.server.wyoming;

import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.synthesis.ModelService;
import dev.pockettts.server.synthesis.SynthesisLimiter;
import dev.pockettts.server.synthesis.TtsService;
import dev.pockettts.server.voice.VoiceService;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * The Wyoming protocol server (Home Assistant's protocol for local speech services) on {@code
 * WYOMING_HOST:WYOMING_PORT}, beside the HTTP API in the same process: the same voices, workers,
 * limits and metrics. Unset {@code WYOMING_PORT}: no Wyoming server. The protocol has no
 * authentication, so the port belongs on a trusted network.
 */
@Component
public class WyomingServer implements SmartLifecycle {

  private static final Logger log = LoggerFactory.getLogger(WyomingServer.class);

  /** A connection that sends nothing for this long is closed. */
  static final Duration IDLE_TIMEOUT = Duration.ofMinutes(5);

  /** Connections served at once; more are closed as they come. */
  static final int MAX_CONNECTIONS = 64;

  private final ServerSettings settings;
  private final ModelService models;
  private final VoiceService voices;
  private final TtsService tts;
  private final SynthesisLimiter limiter;
  private final WyomingInfo info;
  private final Semaphore connections = new Semaphore(MAX_CONNECTIONS);
  private volatile ServerSocket server;
  private WyomingAnnouncer announcer;
  private ExecutorService clients;

  public WyomingServer(
      ServerSettings settings,
      ModelService models,
      VoiceService voices,
      TtsService tts,
      SynthesisLimiter limiter,
      @Value("${tts.version:unknown}") String version) {
    this.settings = settings;
    this.models = models;
    this.voices = voices;
    this.tts = tts;
    this.limiter = limiter;
    this.info = new WyomingInfo(models, voices, version);
  }

  @Override
  public synchronized void start() {
    ServerSettings.Wyoming w = settings.wyoming();
    if (w.port() == null || server != null) {
      return;
    }
    try {
      ServerSocket s = new ServerSocket();
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(w.host(), w.port()));
      server = s;
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot listen for Wyoming clients on "
              + w.host()
              + ":"
              + w.port()
              + ": "
              + e.getMessage(),
          e);
    }
    AtomicInteger n = new AtomicInteger();
    clients =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "wyoming-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    Thread accept = new Thread(this::accept, "wyoming-accept");
    accept.setDaemon(true);
    accept.start();
    log.info(
        "Wyoming server listening on {}:{} (no authentication: keep it on a trusted network)",
        w.host(),
        port());
    if (w.zeroconf()) {
      announcer = new WyomingAnnouncer(w.host(), port(), WyomingAnnouncer.serviceName());
    }
  }

  /** The port listened on (the bound one when WYOMING_PORT is 0), or -1 when not listening. */
  public int port() {
    ServerSocket s = server;
    return s == null ? -1 : s.getLocalPort();
  }

  private void accept() {
    ServerSocket s = server;
    while (s != null && !s.isClosed()) {
      Socket socket;
      try {
        socket = s.accept();
      } catch (IOException e) {
        if (!s.isClosed()) {
          log.warn("Wyoming server: {}", e.toString());
        }
        continue;
      }
      if (!connections.tryAcquire()) {
        log.warn("Wyoming server: {} connections open, refusing one more", MAX_CONNECTIONS);
        close(socket);
        continue;
      }
      try {
        clients.execute(
            () -> {
              try {
                new WyomingConnection(socket, info, models, voices, tts, limiter, settings).run();
              } finally {
                connections.release();
              }
            });
      } catch (RuntimeException e) {
        connections.release();
        close(socket);
      }
    }
  }

  private static void close(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      log.debug("Closing a Wyoming connection: {}", e.toString());
    }
  }

  @Override
  public synchronized void stop() {
    ServerSocket s = server;
    server = null;
    if (announcer != null) {
      announcer.stop();
      announcer = null;
    }
    if (s != null) {
      try {
        s.close();
      } catch (IOException e) {
        log.debug("Closing the Wyoming server: {}", e.toString());
      }
      clients.shutdownNow();
    }
  }

  @Override
  public boolean isRunning() {
    return server != null;
  }
}
