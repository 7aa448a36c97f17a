package dev.pockettts.server.audio;

import dev.pockettts.server.config.ServerSettings;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The FFmpeg the server runs. When the application stops (after its requests had their shutdown
 * period), every FFmpeg process still running is killed and every upload still on disk deleted.
 */
@Configuration(proxyBeanMethods = false)
class AudioConfiguration {

  @Bean(destroyMethod = "destroyAll")
  Ffmpeg ffmpeg(ServerSettings settings) {
    Ffmpeg.deleteStaleUploads();
    return Ffmpeg.locate(settings.ffmpegPath());
  }
}
