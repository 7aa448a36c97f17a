package dev.pockettts.server.security;

/**
 * Token buckets by name, each holding up to its per-minute number of requests and refilled evenly
 * over a minute: counted in this replica ({@link LocalRateLimits}), or in Redis for every replica
 * that shares it ({@link RedisRateLimits}).
 */
interface RateLimits extends AutoCloseable {

  /** 0 when one more request of {@code bucket} may go now (it is counted), else seconds to wait. */
  long tryAcquire(String bucket, int perMinute);

  /** 0 when one more could go now (nothing is counted), else the seconds to wait (at least 1). */
  long peek(String bucket, int perMinute);

  @Override
  void close();
}
