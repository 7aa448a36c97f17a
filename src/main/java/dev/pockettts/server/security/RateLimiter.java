package dev.pockettts.server.security;

/**
 * A token bucket: up to {@code perMinute} requests in a burst, refilled evenly over a minute.
 * Thread-safe.
 */
final class RateLimiter {

  private final double capacity;
  private final double perNano;
  private double tokens;
  private long last;

  RateLimiter(int perMinute, long now) {
    this.capacity = perMinute;
    this.perNano = perMinute / 60e9;
    this.tokens = perMinute;
    this.last = now;
  }

  /** 0 when a request could go now (nothing is taken), else the seconds to wait (at least 1). */
  synchronized long peek(long now) {
    double t = Math.min(capacity, tokens + (now - last) * perNano);
    return t >= 1 ? 0 : Math.max(1, (long) Math.ceil((1 - t) / perNano / 1e9));
  }

  /** 0 when the request may go now, else the seconds to wait (at least 1). */
  synchronized long tryAcquire(long now) {
    tokens = Math.min(capacity, tokens + (now - last) * perNano);
    last = now;
    if (tokens >= 1) {
      tokens -= 1;
      return 0;
    }
    return Math.max(1, (long) Math.ceil((1 - tokens) / perNano / 1e9));
  }
}
