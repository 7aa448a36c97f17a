package dev.pockettts.server.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.pockettts.server.wyoming.WyomingServer;
import java.net.InetAddress;
import java.util.Arrays;
import javax.jmdns.JmDNS;
import javax.jmdns.ServiceInfo;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.TestPropertySource;

/** With WYOMING_ZEROCONF (the default), an mDNS browser on this machine finds the server. */
@TestPropertySource(properties = {"WYOMING_PORT=0"})
class WyomingZeroconfTest extends ServerTest {

  @Autowired WyomingServer wyoming;

  @Test
  void anMdnsBrowserFindsTheWyomingServer() throws Exception {
    readyServer();
    try (JmDNS browser = JmDNS.create(InetAddress.getLocalHost(), "test-browser");
        JmDNS probe = JmDNS.create(InetAddress.getLocalHost(), "test-probe")) {
      // a machine without multicast (some containers) cannot pass this test: one mDNS responder
      // must first see another's service
      probe.registerService(ServiceInfo.create("_pockettts-probe._tcp.local.", "probe", 9, "x"));
      assumeThat(browser.list("_pockettts-probe._tcp.local.", 6000))
          .as(
              "mDNS multicast does not reach this machine's own address: skipping the discovery test")
          .isNotEmpty();
      ServiceInfo found = null;
      for (int i = 0; i < 10 && found == null; i++) {
        found =
            Arrays.stream(browser.list("_wyoming._tcp.local.", 2000))
                .filter(s -> s.getPort() == wyoming.port())
                .findFirst()
                .orElse(null);
      }
      assertThat(found).as("a _wyoming._tcp.local. service on port " + wyoming.port()).isNotNull();
      assertThat(found.getName()).startsWith("pockettts-");
    }
  }
}
