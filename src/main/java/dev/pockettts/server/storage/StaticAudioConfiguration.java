package dev.pockettts.server.storage;

import dev.pockettts.server.config.ServerSettings;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.filter.ForwardedHeaderFilter;

/** Web settings of the audio files' URLs: whether forwarded headers shape them. */
@Configuration(proxyBeanMethods = false)
class StaticAudioConfiguration {

  private final ServerSettings settings;

  StaticAudioConfiguration(ServerSettings settings) {
    this.settings = settings;
  }

  /** Honour X-Forwarded-* for URLs only when told to (FORWARDED_HEADERS=true). */
  @Bean
  FilterRegistrationBean<ForwardedHeaderFilter> forwardedHeaderFilter() {
    FilterRegistrationBean<ForwardedHeaderFilter> bean =
        new FilterRegistrationBean<>(new ForwardedHeaderFilter());
    bean.setEnabled(settings.forwardedHeaders());
    bean.setOrder(Integer.MIN_VALUE);
    return bean;
  }
}
