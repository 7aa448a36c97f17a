package dev.pockettts.server.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.wyoming.WyomingServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.TestPropertySource;

/** A Wyoming request when every worker is busy and the queue is full gets an error event. */
@TestPropertySource(
    properties = {
      "WYOMING_PORT=0",
      "WYOMING_ZEROCONF=false",
      "SYNTHESIS_WORKERS=1",
      "QUEUE_SIZE=0",
      "TEMPERATURE=0"
    })
class WyomingBusyTest extends ServerTest {

  @Autowired WyomingServer wyoming;

  private static void synthesize(OutputStream out, String text) throws Exception {
    byte[] data = ("{\"text\":\"" + text + "\"}").getBytes(StandardCharsets.UTF_8);
    out.write(
        ("{\"type\":\"synthesize\",\"data_length\":" + data.length + "}\n")
            .getBytes(StandardCharsets.UTF_8));
    out.write(data);
    out.flush();
  }

  @Test
  void aFullQueueIsAnErrorEvent() throws Exception {
    readyServer();
    try (Socket busy = new Socket("127.0.0.1", wyoming.port());
        Socket second = new Socket("127.0.0.1", wyoming.port())) {
      busy.setSoTimeout(30_000);
      second.setSoTimeout(30_000);
      synthesize(busy.getOutputStream(), (TtsEndToEndTest.HELLO + " ").repeat(12));
      // the first has its worker once its audio starts
      BufferedReader first =
          new BufferedReader(
              new InputStreamReader(busy.getInputStream(), StandardCharsets.ISO_8859_1));
      assertThat(first.readLine()).contains("\"audio-start\"");
      synthesize(second.getOutputStream(), "Hello.");
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(second.getInputStream(), StandardCharsets.UTF_8));
      String header = in.readLine();
      assertThat(header).contains("\"type\":\"error\"");
      char[] data =
          new char[Integer.parseInt(header.replaceAll(".*\"data_length\":(\\d+).*", "$1"))];
      for (int got = 0; got < data.length; ) {
        int n = in.read(data, got, data.length - got);
        assertThat(n).as("the error event's data").isPositive();
        got += n;
      }
      assertThat(new String(data)).contains("\"code\":\"server-busy\"");
    }
  }
}
