package dev.pockettts.server.config;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/** Makes the parsed settings a bean; the environment holds .env entries as defaults. */
@Configuration(proxyBeanMethods = false)
class SettingsConfiguration {

  @Bean
  ServerSettings serverSettings(Environment environment) {
    return ServerSettings.parse(environment::getProperty);
  }
}
