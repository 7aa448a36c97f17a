package dev.pockettts.server.security;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.testing.RedisServer;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two replicas' limits on one real Redis count together; without Redis each replica counts its own,
 * and nothing fails.
 */
class RedisRateLimitsTest {

  private static RedisServer redis;

  @BeforeAll
  static void start() throws Exception {
    redis = RedisServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (redis != null) {
      redis.close();
    }
  }

  private static String fresh() {
    return "test:" + System.nanoTime();
  }

  @Test
  void twoReplicasShareOneBucket() {
    String bucket = fresh();
    try (RedisRateLimits a = new RedisRateLimits(redis.url(), "t:");
        RedisRateLimits b = new RedisRateLimits(redis.url(), "t:")) {
      List<Long> waits = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        waits.add((i % 2 == 0 ? a : b).tryAcquire(bucket, 5));
      }
      assertThat(waits.subList(0, 5)).containsOnly(0L);
      // 5 a minute: the next token comes 12 s after the first was taken
      assertThat(waits.get(5)).isBetween(1L, 12L);
      assertThat(a.tryAcquire(bucket, 5)).isPositive();
      assertThat(b.peek(bucket, 5)).isPositive();
    }
  }

  @Test
  void aPeekCountsNothing() {
    String bucket = fresh();
    try (RedisRateLimits a = new RedisRateLimits(redis.url(), "t:")) {
      for (int i = 0; i < 10; i++) {
        assertThat(a.peek(bucket, 2)).isZero();
      }
      assertThat(a.tryAcquire(bucket, 2)).isZero();
      assertThat(a.tryAcquire(bucket, 2)).isZero();
      assertThat(a.peek(bucket, 2)).isPositive();
    }
  }

  @Test
  void anUnreachableRedisFallsBackToTheReplicasOwnCount() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    try (RedisRateLimits a = new RedisRateLimits("redis://127.0.0.1:" + port, "t:")) {
      String bucket = fresh();
      assertThat(a.tryAcquire(bucket, 2)).isZero();
      assertThat(a.tryAcquire(bucket, 2)).isZero();
      assertThat(a.tryAcquire(bucket, 2)).isPositive();
    }
  }

  @Test
  void redisStoppedAndStartedAgain() throws Exception {
    String bucket = fresh();
    try (RedisRateLimits a = new RedisRateLimits(redis.url(), "t:")) {
      assertThat(a.tryAcquire(bucket, 3)).isZero();
      redis.stop();
      try {
        // counted locally now: a bucket of its own, full, with no exception
        for (int i = 0; i < 3; i++) {
          assertThat(a.tryAcquire(bucket, 3)).isZero();
        }
        assertThat(a.tryAcquire(bucket, 3)).isPositive();
      } finally {
        redis.restart();
      }
      // the Redis started again (empty) counts for both once it answers (Lettuce reconnects)
      long deadline = System.nanoTime() + 20_000_000_000L;
      boolean shared = false;
      try (RedisRateLimits b = new RedisRateLimits(redis.url(), "t:")) {
        while (!shared && System.nanoTime() < deadline) {
          String after = fresh();
          a.tryAcquire(after, 1);
          shared = b.tryAcquire(after, 1) > 0;
          if (!shared) {
            Thread.sleep(200);
          }
        }
      }
      assertThat(shared).as("a counts in Redis again").isTrue();
    }
  }
}
