package dev.pockettts.server.security;

import dev.pockettts.server.config.ServerSettings;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The rate limits' counters: in Redis with {@code REDIS_URL}, else in this replica. */
@Configuration(proxyBeanMethods = false)
class RateLimitConfiguration {

  @Bean(destroyMethod = "close")
  RateLimits rateLimits(ServerSettings settings) {
    return settings.redisUrl() == null
        ? new LocalRateLimits()
        : new RedisRateLimits(settings.redisUrl(), "pockettts:rate:");
  }
}
