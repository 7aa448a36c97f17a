package dev.pockettts.server.wyoming;

import java.io.IOException;
import java.net.InetAddress;
import java.util.Locale;
import javax.jmdns.JmDNS;
import javax.jmdns.ServiceInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Announces the Wyoming server on the local network with mDNS ({@code _wyoming._tcp.local.}), so
 * that Home Assistant discovers it. Announcing runs in the background and never stops the server: a
 * network without multicast gets a log line.
 */
final class WyomingAnnouncer {

  static final String SERVICE_TYPE = "_wyoming._tcp.local.";

  private static final Logger log = LoggerFactory.getLogger(WyomingAnnouncer.class);

  private final Thread thread;
  private volatile JmDNS jmdns;
  private volatile boolean stopped;

  /** Starts announcing {@code port} on {@code host} (any address: the machine's own). */
  WyomingAnnouncer(String host, int port, String name) {
    thread =
        new Thread(
            () -> {
              try {
                InetAddress address =
                    host == null || host.equals("0.0.0.0") || host.equals("::")
                        ? InetAddress.getLocalHost()
                        : InetAddress.getByName(host);
                JmDNS j = JmDNS.create(address, name);
                jmdns = j;
                if (stopped) {
                  j.close();
                  return;
                }
                j.registerService(
                    ServiceInfo.create(SERVICE_TYPE, name, port, "PocketTTS text to speech"));
                log.info(
                    "Wyoming server announced as {}.{} on {}:{}",
                    name,
                    SERVICE_TYPE,
                    address,
                    port);
              } catch (IOException | RuntimeException e) {
                log.warn(
                    "Cannot announce the Wyoming server with mDNS ({}); add it in Home Assistant by"
                        + " host and port",
                    e.toString());
              }
            },
            "wyoming-zeroconf");
    thread.setDaemon(true);
    thread.start();
  }

  /** The service name: this program and the machine's name, as mDNS allows it. */
  static String serviceName() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "local";
    }
    return ("pockettts-" + host.split("\\.")[0])
        .toLowerCase(Locale.ROOT)
        .replaceAll("[^a-z0-9-]", "-");
  }

  /** Withdraws the announcement (in the background: mDNS says goodbye over a few hundred ms). */
  void stop() {
    stopped = true;
    JmDNS j = jmdns;
    if (j != null) {
      Thread t =
          new Thread(
              () -> {
                try {
                  j.unregisterAllServices();
                  j.close();
                } catch (IOException | RuntimeException e) {
                  log.debug("Closing mDNS: {}", e.toString());
                }
              },
              "wyoming-zeroconf-stop");
      t.setDaemon(true);
      t.start();
    }
  }
}
