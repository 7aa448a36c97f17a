package dev.pockettts.server.security;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;

/**
 * Buckets in this replica's memory: bounded to the 100,000 buckets used last (a bucket unused for
 * 10 minutes is full again anyway, at any rate of at least one every 10 minutes).
 */
final class LocalRateLimits implements RateLimits {

  private final Cache<String, RateLimiter> buckets =
      Caffeine.newBuilder().maximumSize(100_000).expireAfterAccess(Duration.ofMinutes(10)).build();

  private RateLimiter bucket(String name, int perMinute) {
    return buckets.get(name + "/" + perMinute, k -> new RateLimiter(perMinute, System.nanoTime()));
  }

  @Override
  public long tryAcquire(String bucket, int perMinute) {
    return bucket(bucket, perMinute).tryAcquire(System.nanoTime());
  }

  @Override
  public long peek(String bucket, int perMinute) {
    RateLimiter r = buckets.getIfPresent(bucket + "/" + perMinute);
    return r == null ? 0 : r.peek(System.nanoTime());
  }

  @Override
  public void close() {
    buckets.invalidateAll();
  }
}
