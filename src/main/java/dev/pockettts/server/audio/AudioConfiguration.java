package dev.pockettts.server.audio;

import dev.pockettts.server.config.ServerSettings;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The FFmpeg the server runs. When the application stops (after its requests had their shutdown
 * period), every FFmpeg process still running is killed and every upload still on disk deleted.
 */
@Configuration(proxyBeanMethods = false)
class AudioConfiguration {

  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(AudioConfiguration.class);

  @Bean(destroyMethod = "destroyAll")
  Ffmpeg ffmpeg(ServerSettings settings) {
    Ffmpeg.deleteStaleUploads();
    Ffmpeg ffmpeg = Ffmpeg.locate(settings.ffmpegPath());
    if (settings.ffmpegPath() != null) {
      return ffmpeg; // the administrator's binary, used as given
    }
    // JAVE's binary, unpacked into the temporary folder at run time, is run once: in the
    // background, so the start does not wait for it and no request pays for the first process
    Thread check =
        new Thread(
            () -> {
              Ffmpeg.Check c = ffmpeg.selfCheck(10_000);
              if (c.runs()) {
                log.info("FFmpeg at {} runs: {}", ffmpeg.executable(), c.detail());
              } else {
                log.warn(
                    "FFmpeg at {} does not run ({}); MP3, OGG, Opus, AAC and FLAC output, other"
                        + " speeds and uploaded recordings fail until it does; WAV and PCM work",
                    ffmpeg.executable(),
                    c.detail());
              }
            },
            "ffmpeg-check");
    check.setDaemon(true);
    check.start();
    return ffmpeg;
  }

  /**
   * Kills what FFmpeg still runs once the web server's graceful shutdown has given requests their
   * time, before the server itself stops: a request blocked on a hung FFmpeg then ends at once
   * instead of holding the shutdown until its own deadline.
   */
  @Bean
  SmartLifecycle ffmpegReaper() {
    return new SmartLifecycle() {
      private volatile boolean running;

      @Override
      public void start() {
        running = true;
      }

      @Override
      public void stop() {
        running = false;
        Ffmpeg.destroyAll();
      }

      @Override
      public boolean isRunning() {
        return running;
      }

      @Override
      public int getPhase() {
        // after WebServerGracefulShutdownLifecycle (DEFAULT_PHASE - 1024) stops, before
        // WebServerStartStopLifecycle (DEFAULT_PHASE - 2048)
        return SmartLifecycle.DEFAULT_PHASE - 1536;
      }
    };
  }
}
