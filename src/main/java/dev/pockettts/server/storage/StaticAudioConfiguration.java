package dev.pockettts.server.storage;

import dev.pockettts.server.config.ServerSettings;
import java.io.IOException;
import java.time.Duration;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.io.Resource;
import org.springframework.http.CacheControl;
import org.springframework.web.filter.ForwardedHeaderFilter;
import org.springframework.web.servlet.config.annotation.ResourceHandlerRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;
import org.springframework.web.servlet.resource.PathResourceResolver;

/**
 * Serves files of the voice folder at {@code /voice/<name>} with their content type, byte ranges
 * and caching headers; only names the store makes resolve, so temporary files, other files and
 * traversal attempts are 404, and there is no listing.
 */
@Configuration(proxyBeanMethods = false)
class StaticAudioConfiguration implements WebMvcConfigurer {

  private final ServerSettings settings;

  StaticAudioConfiguration(ServerSettings settings) {
    this.settings = settings;
  }

  @Override
  public void addResourceHandlers(ResourceHandlerRegistry registry) {
    String location = settings.voiceDir().toUri().toString();
    registry
        .addResourceHandler("/voice/**")
        .addResourceLocations(location.endsWith("/") ? location : location + "/")
        .setCacheControl(CacheControl.maxAge(Duration.ofHours(1)).cachePublic())
        .resourceChain(false)
        .addResolver(
            new PathResourceResolver() {
              @Override
              protected Resource getResource(String resourcePath, Resource location)
                  throws IOException {
                return AudioFileStore.validName(resourcePath)
                    ? super.getResource(resourcePath, location)
                    : null;
              }
            });
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
