package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.testing.RedisServer;
import dev.pockettts.server.testing.S3Server;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two servers with one {@code REDIS_URL} (and one bucket, as deployed): the key's limit and the
 * failed-authentication limit hold for both together, and with Redis stopped each counts its own,
 * never answering 500.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SharedRateLimitTest {

  @TempDir static Path dir;
  private static RedisServer redis;
  private static S3Server s3;
  private static Replicas replicas;

  @BeforeAll
  static void start() throws Exception {
    redis = RedisServer.start();
    s3 = S3Server.start(dir, "pockettts-limits");
    replicas =
        Replicas.start(
            2,
            dir,
            Replicas.onBucket(
                s3,
                "pockettts-limits",
                Map.of(
                    "REDIS_URL",
                    redis.url(),
                    "RATE_LIMIT_PER_MINUTE",
                    "5",
                    "AUTH_FAILURES_PER_MINUTE",
                    "3")));
  }

  @AfterAll
  static void stop() throws Exception {
    Replicas.closeAll(replicas, redis, s3);
  }

  private static HttpResponse<byte[]> voices(ServerHarness s, String key) throws Exception {
    return s.send(s.request("/voices").header("API_KEY", key).GET().build());
  }

  @Test
  @Order(1)
  void fivePerMinuteHoldAcrossBothServers() throws Exception {
    List<Integer> statuses = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      statuses.add(voices(replicas.get(i % 2), KEY).statusCode());
    }
    assertThat(statuses).containsExactly(200, 200, 200, 200, 200, 429);
    HttpResponse<byte[]> limited = voices(replicas.get(0), KEY);
    assertProblem(limited, 429, "rate-limited");
    assertThat(limited.headers().firstValue("Retry-After")).isPresent();
    redis.flushAll();
  }

  @Test
  @Order(2)
  void failedAuthenticationsOnOneServerBlockTheAddressOnTheOther() throws Exception {
    for (int i = 0; i < 3; i++) {
      assertProblem(voices(replicas.get(0), "wrong-key"), 401, "unauthorized");
    }
    HttpResponse<byte[]> blocked = voices(replicas.get(1), KEY);
    assertProblem(blocked, 429, "rate-limited");
    assertThat(new String(blocked.body())).contains("failed authentications");
    redis.flushAll();
  }

  @Test
  @Order(3)
  void withRedisStoppedEachServerCountsItsOwnAndNothingFails() throws Exception {
    redis.stop();
    try {
      for (int s = 0; s < 2; s++) {
        List<Integer> statuses = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
          statuses.add(voices(replicas.get(s), KEY).statusCode());
        }
        // each server's own bucket of 5 (the local one, never used before)
        assertThat(statuses).containsExactly(200, 200, 200, 200, 200, 429);
      }
    } finally {
      redis.restart();
    }
  }
}
