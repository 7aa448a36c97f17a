package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;

import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * Base of the tests against the real server on a random port, with the tiny models and the bundled
 * FFmpeg; subclasses add their own settings with {@code @TestPropertySource}.
 */
@SpringBootTest(
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "API_KEY=" + KEY,
      "MODELS_DIR=src/test/resources/models/tiny-bundle",
      "OFFLINE=true"
    })
abstract class ServerTest {

  @LocalServerPort int port;

  /** A client for this server (the model may still be loading). */
  ServerHarness server() {
    return new ServerHarness(port);
  }

  /** A client for this server once its model is loaded. */
  ServerHarness readyServer() throws Exception {
    ServerHarness s = server();
    s.awaitReady();
    return s;
  }
}
