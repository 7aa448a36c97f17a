package dev.pockettts.server.voice;

import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.storage.StorageConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Where saved voices are kept: {@code VOICES_DIR}, or the S3 bucket ({@code STORAGE=s3}). */
@Configuration(proxyBeanMethods = false)
class VoiceLibraryConfiguration {

  @Bean
  VoiceLibrary voiceLibrary(ServerSettings settings) {
    if (settings.storage().s3()) {
      return new S3VoiceLibrary(StorageConfiguration.client(settings.storage()), settings);
    }
    return new LocalVoiceLibrary(settings.voicesDir(), settings.voiceLibraryMax());
  }
}
