package dev.pockettts.server.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.audio.Ffmpeg;
import dev.pockettts.server.engine.EngineException;
import java.io.IOException;
import org.apache.catalina.connector.ClientAbortException;
import org.junit.jupiter.api.Test;
import org.springframework.web.context.request.async.AsyncRequestNotUsableException;

/**
 * Which failures leave a started response alone (the container is already ending the request, and
 * may have handed it to another connection) and which cut it (the server failed, the client waits).
 */
class ConnectionAbortTest {

  @Test
  void aClientThatWentAwayOrACancelledTaskIsLeftToTheContainer() {
    assertThat(ConnectionAbort.clientGone(new ClientAbortException(new IOException("Broken pipe"))))
        .isTrue();
    assertThat(
            ConnectionAbort.clientGone(
                new AsyncRequestNotUsableException("ServletOutputStream failed to write")))
        .isTrue();
    assertThat(ConnectionAbort.clientGone(new IOException("Connection reset by peer"))).isTrue();
    assertThat(
            ConnectionAbort.clientGone(
                new EngineException("interrupted while decoding", new InterruptedException())))
        .isTrue();
  }

  @Test
  void aServerSideFailureCutsTheConnection() {
    assertThat(
            ConnectionAbort.clientGone(
                new Ffmpeg.EncoderFailedException("FFmpeg stopped (Broken pipe): ...")))
        .isFalse();
    assertThat(
            ConnectionAbort.clientGone(new Ffmpeg.EncoderFailedException("FFmpeg failed (exit 1)")))
        .isFalse();
    assertThat(ConnectionAbort.clientGone(new EngineException("flow_lm_main failed"))).isFalse();
    assertThat(ConnectionAbort.clientGone(new IllegalStateException("boom"))).isFalse();
  }

  @Test
  void anInterruptedThreadMeansTheTaskWasCancelled() {
    Thread.currentThread().interrupt();
    try {
      assertThat(ConnectionAbort.clientGone(new IllegalStateException("boom"))).isTrue();
    } finally {
      Thread.interrupted();
    }
  }
}
