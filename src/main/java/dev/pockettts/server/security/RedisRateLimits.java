package dev.pockettts.server.security;

import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.EstimationProbe;
import io.github.bucket4j.distributed.BucketProxy;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.github.bucket4j.redis.lettuce.cas.LettuceBasedProxyManager;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Buckets in Redis (Bucket4j over Lettuce, compare-and-swap), so that every replica pointed at the
 * same Redis counts the same requests. When Redis does not answer (down, unreachable, slower than
 * half a second) the request is counted in this replica instead ({@link LocalRateLimits}) and the
 * log says so once, and again when Redis answers; no request fails for it.
 */
final class RedisRateLimits implements RateLimits {

  private static final Logger log = LoggerFactory.getLogger(RedisRateLimits.class);
  private static final Duration TIMEOUT = Duration.ofMillis(500);
  private static final long RECONNECT_NANOS = TimeUnit.SECONDS.toNanos(5);

  private final String where;
  private final String prefix;
  private final RedisClient client;
  private final LocalRateLimits local = new LocalRateLimits();
  private StatefulRedisConnection<byte[], byte[]> connection;
  private LettuceBasedProxyManager<byte[]> buckets;
  private long lastAttempt;
  private boolean down;

  /**
   * @param url {@code redis://[user:password@]host[:port][/database]} or {@code rediss://...}
   * @param prefix what every key starts with
   */
  RedisRateLimits(String url, String prefix) {
    RedisURI uri = RedisURI.create(url);
    uri.setTimeout(TIMEOUT);
    this.where = uri.getHost() + ":" + uri.getPort();
    this.prefix = prefix;
    this.client = RedisClient.create(uri);
    client.setOptions(
        ClientOptions.builder()
            .autoReconnect(true)
            // while disconnected a command fails at once instead of waiting for the timeout
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
            .timeoutOptions(TimeoutOptions.enabled(TIMEOUT))
            .build());
    connect();
  }

  /** The proxy manager, connecting first when there is no connection (at most every 5 s). */
  private synchronized LettuceBasedProxyManager<byte[]> buckets() {
    if (buckets == null && System.nanoTime() - lastAttempt >= RECONNECT_NANOS) {
      connect();
    }
    return buckets;
  }

  private synchronized void connect() {
    lastAttempt = System.nanoTime();
    try {
      connection = client.connect(ByteArrayCodec.INSTANCE);
      buckets =
          Bucket4jLettuce.casBasedBuilder(connection)
              .expirationAfterWrite(
                  ExpirationAfterWriteStrategy.basedOnTimeForRefillingBucketUpToMax(
                      Duration.ofSeconds(10)))
              .build();
      log.info("Rate limits are counted in Redis at {}, shared by every replica using it", where);
    } catch (RuntimeException e) {
      failed(e);
    }
  }

  private synchronized void failed(RuntimeException e) {
    if (!down) {
      down = true;
      log.warn(
          "Redis at {} does not answer ({}): rate limits are counted in this replica alone until"
              + " it does",
          where,
          e.getMessage());
    }
  }

  private synchronized void answered() {
    if (down) {
      down = false;
      log.info("Redis at {} answers again: rate limits are shared again", where);
    }
  }

  private BucketProxy bucket(LettuceBasedProxyManager<byte[]> manager, String name, int perMinute) {
    BucketConfiguration config =
        BucketConfiguration.builder()
            .addLimit(l -> l.capacity(perMinute).refillGreedy(perMinute, Duration.ofMinutes(1)))
            .build();
    byte[] key = (prefix + name + ":" + perMinute).getBytes(StandardCharsets.UTF_8);
    return manager.builder().build(key, () -> config);
  }

  private static long seconds(long nanos) {
    return Math.max(1, (long) Math.ceil(nanos / 1e9));
  }

  @Override
  public long tryAcquire(String bucket, int perMinute) {
    return counted(
        bucket,
        perMinute,
        b -> {
          ConsumptionProbe p = b.tryConsumeAndReturnRemaining(1);
          return p.isConsumed() ? 0 : seconds(p.getNanosToWaitForRefill());
        },
        () -> local.tryAcquire(bucket, perMinute));
  }

  @Override
  public long peek(String bucket, int perMinute) {
    return counted(
        bucket,
        perMinute,
        b -> {
          EstimationProbe p = b.estimateAbilityToConsume(1);
          return p.canBeConsumed() ? 0 : seconds(p.getNanosToWaitForRefill());
        },
        () -> local.peek(bucket, perMinute));
  }

  /** {@code inRedis} on the bucket in Redis; {@code locally} when Redis does not answer. */
  private long counted(
      String bucket, int perMinute, ToLongFunction<BucketProxy> inRedis, LongSupplier locally) {
    LettuceBasedProxyManager<byte[]> manager = buckets();
    if (manager != null) {
      try {
        long wait = inRedis.applyAsLong(bucket(manager, bucket, perMinute));
        answered();
        return wait;
      } catch (RuntimeException e) {
        failed(e);
      }
    }
    return locally.getAsLong();
  }

  @Override
  public synchronized void close() {
    if (connection != null) {
      connection.close();
    }
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    local.close();
  }
}
