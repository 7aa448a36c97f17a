package dev.pockettts.server.audio;

import dev.pockettts.server.config.ServerSettings;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The FFmpeg the server runs. */
@Configuration(proxyBeanMethods = false)
class AudioConfiguration {

  @Bean
  Ffmpeg ffmpeg(ServerSettings settings) {
    return Ffmpeg.locate(settings.ffmpegPath());
  }
}
