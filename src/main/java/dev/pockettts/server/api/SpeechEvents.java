package dev.pockettts.server.api;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * OpenAI's {@code stream_format=sse} for speech: each piece of encoded audio as a {@code
 * speech.audio.delta} event with base64 audio, then one {@code speech.audio.done} event.
 */
final class SpeechEvents {

  /** Writes encoded audio to the stream it is given. */
  interface Body {
    void writeTo(OutputStream sink) throws IOException;
  }

  void stream(OutputStream out, Body body) throws IOException {
    OutputStream deltas =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
              return;
            }
            byte[] piece = new byte[len];
            System.arraycopy(b, off, piece, 0, len);
            event(
                out,
                "{\"type\":\"speech.audio.delta\",\"audio\":\""
                    + Base64.getEncoder().encodeToString(piece)
                    + "\"}");
          }

          @Override
          public void flush() throws IOException {
            out.flush();
          }
        };
    body.writeTo(deltas);
    event(out, "{\"type\":\"speech.audio.done\"}");
    out.flush();
  }

  private static void event(OutputStream out, String json) throws IOException {
    out.write(("data: " + json + "\n\n").getBytes(StandardCharsets.UTF_8));
  }
}
