package dev.pockettts.server.security;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RateLimiterTest {

  @Test
  void aBurstUpToTheLimitThenOneRequestPerRefill() {
    long t = 0;
    RateLimiter r = new RateLimiter(60, t); // one a second
    for (int i = 0; i < 60; i++) {
      assertThat(r.tryAcquire(t)).isZero();
    }
    assertThat(r.tryAcquire(t)).isEqualTo(1);
    t += 1_000_000_000L;
    assertThat(r.tryAcquire(t)).isZero();
    assertThat(r.tryAcquire(t)).isPositive();
  }

  @Test
  void aSlowLimitAsksForALongerWait() {
    RateLimiter r = new RateLimiter(2, 0);
    r.tryAcquire(0);
    r.tryAcquire(0);
    assertThat(r.tryAcquire(0)).isEqualTo(30);
  }
}
