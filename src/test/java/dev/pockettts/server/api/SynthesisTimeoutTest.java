package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;

/**
 * A synthesis over REQUEST_TIMEOUT is stopped and answered with a problem. The limit here is 20 ms
 * and the scripts take the tiny model about two seconds on a 2-core machine, so every request runs
 * past it on any machine (a limit of seconds did not: a fast machine finished within it).
 */
@TestPropertySource(properties = {"REQUEST_TIMEOUT=PT0.02S", "VOICE_DIR=target/test-voice-timeout"})
class SynthesisTimeoutTest extends ServerTest {

  static final String SCRIPT =
      "A long script runs past the time limit of this server. ".repeat(200);

  ServerHarness server;

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  @Test
  void aSynthesisOverTheTimeLimitIsStoppedAndNoFileIsKept() throws Exception {
    var r =
        server.postJson(
            "/tts", "{\"script\":\"" + SCRIPT + "\",\"format\":\"wav\",\"type\":\"url\"}");
    assertProblem(r, 503, "synthesis-timeout");
    Path dir = Path.of("target/test-voice-timeout");
    if (Files.isDirectory(dir)) {
      try (var files = Files.list(dir)) {
        assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".wav"));
      }
    }
  }

  @Test
  void aSynthesisThatFailsIsAProblemForAnHttp10Client() throws Exception {
    byte[] r = Http10Test.post10(port, "{\"script\":\"" + SCRIPT + "\",\"format\":\"wav\"}");
    String head = Http10Test.head(r);
    assertThat(head).startsWith("HTTP/1.1 503").containsIgnoringCase("application/problem+json");
    assertThat(new String(Http10Test.body(r), StandardCharsets.UTF_8))
        .contains("/problems/synthesis-timeout");
  }
}
