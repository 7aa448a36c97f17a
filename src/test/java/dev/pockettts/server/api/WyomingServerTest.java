package dev.pockettts.server.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.synthesis.SynthesisLimiter;
import dev.pockettts.server.voice.VoiceService;
import dev.pockettts.server.wyoming.WyomingServer;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.TestPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The Wyoming server of the running server, over a real socket, with a client written here from the
 * protocol's description: a JSON header line, then data_length bytes of JSON data, then
 * payload_length bytes of payload.
 */
@TestPropertySource(
    properties = {
      "TEMPERATURE=0",
      "WYOMING_PORT=0",
      "WYOMING_ZEROCONF=false",
      "MAX_SCRIPT_CHARS=4000"
    })
class WyomingServerTest extends ServerTest {

  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final String HELLO = TtsEndToEndTest.HELLO;

  @Autowired WyomingServer wyoming;
  @Autowired VoiceService voices;
  @Autowired SynthesisLimiter limiter;

  ServerHarness server;
  private final List<Client> clients = new ArrayList<>();

  /** An event as the test client read it. */
  record Event(String type, JsonNode data, byte[] payload) {}

  /** A Wyoming client over one connection. */
  final class Client implements AutoCloseable {
    final Socket socket;
    final OutputStream out;
    final DataInputStream in;

    Client() throws IOException {
      socket = new Socket("127.0.0.1", wyoming.port());
      socket.setSoTimeout(30_000);
      out = socket.getOutputStream();
      in = new DataInputStream(socket.getInputStream());
      clients.add(this);
    }

    /** Sends an event with its data in the data part, as the Python library does. */
    void send(String type, String dataJson) throws IOException {
      byte[] data = dataJson == null ? new byte[0] : dataJson.getBytes(StandardCharsets.UTF_8);
      String header =
          "{\"type\":\""
              + type
              + "\""
              + (data.length > 0 ? ",\"data_length\":" + data.length : "")
              + "}\n";
      out.write(header.getBytes(StandardCharsets.UTF_8));
      out.write(data);
      out.flush();
    }

    void sendRaw(byte[] bytes) throws IOException {
      out.write(bytes);
      out.flush();
    }

    /** The next event; null when the server closed the connection. */
    Event read() throws IOException {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) != '\n') {
        if (b < 0) {
          return null;
        }
        line.write(b);
      }
      JsonNode header = JSON.readTree(line.toByteArray());
      ObjectNode data = JSON.createObjectNode();
      if (header.has("data")) {
        data.setAll((ObjectNode) header.get("data"));
      }
      int dataLength = header.path("data_length").asInt(0);
      if (dataLength > 0) {
        byte[] d = new byte[dataLength];
        in.readFully(d);
        data.setAll((ObjectNode) JSON.readTree(d));
      }
      int payloadLength = header.path("payload_length").asInt(0);
      byte[] payload = new byte[payloadLength];
      in.readFully(payload);
      return new Event(header.path("type").asString(), data, payload);
    }

    /** Reads until an event of {@code type}, returning every event read, that one last. */
    List<Event> readUntil(String type) throws IOException {
      List<Event> events = new ArrayList<>();
      while (true) {
        Event e = read();
        assertThat(e)
            .as("the connection ended before " + type + " after " + types(events))
            .isNotNull();
        events.add(e);
        if (e.type().equals(type)) {
          return events;
        }
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  @AfterEach
  void closeClients() throws IOException {
    for (Client c : clients) {
      c.close();
    }
  }

  private static List<String> types(List<Event> events) {
    return events.stream().map(Event::type).toList();
  }

  private static byte[] audio(List<Event> events) {
    ByteArrayOutputStream pcm = new ByteArrayOutputStream();
    for (Event e : events) {
      if (e.type().equals("audio-chunk")) {
        assertThat(e.data().path("rate").asInt()).isEqualTo(24000);
        assertThat(e.data().path("width").asInt()).isEqualTo(2);
        assertThat(e.data().path("channels").asInt()).isEqualTo(1);
        pcm.writeBytes(e.payload());
      }
    }
    return pcm.toByteArray();
  }

  private byte[] httpPcm(String script) throws Exception {
    HttpResponse<byte[]> r =
        server.postJson("/tts", "{\"script\":\"" + script + "\",\"format\":\"pcm\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    return r.body();
  }

  @Test
  void describeListsEveryVoiceWithItsLanguage() throws Exception {
    Client c = new Client();
    c.send("describe", null);
    Event info = c.read();
    assertThat(info.type()).isEqualTo("info");
    JsonNode program = info.data().path("tts").get(0);
    assertThat(program.path("installed").asBoolean()).isTrue();
    assertThat(program.path("supports_synthesize_streaming").asBoolean()).isTrue();
    assertThat(program.path("attribution").path("name").asString()).isEqualTo("Kyutai");
    assertThat(program.path("attribution").path("url").asString()).startsWith("https://");
    List<String> names = new ArrayList<>();
    for (JsonNode v : program.path("voices")) {
      names.add(v.path("name").asString());
      assertThat(v.path("languages").toString()).isEqualTo("[\"en\"]");
      assertThat(v.path("installed").asBoolean()).isTrue();
      assertThat(v.path("description").asString()).isNotBlank();
    }
    assertThat(names)
        .containsExactlyElementsOf(
            voices.list().stream().map(VoiceService.Description::id).toList())
        .contains("alba", "caro_davy");
  }

  @Test
  void synthesizeGivesThePcmThatTtsGives() throws Exception {
    Client c = new Client();
    c.send("synthesize", "{\"text\":\"" + HELLO + "\",\"voice\":{\"name\":\"marius\"}}");
    List<Event> events = c.readUntil("audio-stop");
    assertThat(events.get(0).type()).isEqualTo("audio-start");
    assertThat(events.get(0).data().path("rate").asInt()).isEqualTo(24000);
    assertThat(types(events)).filteredOn("audio-chunk"::equals).hasSizeGreaterThan(1);
    byte[] expected =
        server
            .postJson(
                "/tts", "{\"script\":\"" + HELLO + "\",\"model\":\"marius\",\"format\":\"pcm\"}")
            .body();
    assertThat(audio(events)).hasSize(expected.length).isEqualTo(expected);
    // a second request on the same connection, with no voice: the default voice
    c.send("synthesize", "{\"text\":\"" + HELLO + "\"}");
    assertThat(audio(c.readUntil("audio-stop"))).isEqualTo(httpPcm(HELLO));
    // by language: that language's default voice
    c.send("synthesize", "{\"text\":\"" + HELLO + "\",\"voice\":{\"language\":\"en-GB\"}}");
    assertThat(audio(c.readUntil("audio-stop"))).isEqualTo(httpPcm(HELLO));
  }

  @Test
  void numbersAndPauseMarkersAreReadAsOnTts() throws Exception {
    String script = "It costs $3.50. [pause:500ms] Go!";
    Client c = new Client();
    c.send("synthesize", "{\"text\":\"" + script + "\"}");
    byte[] spoken = audio(c.readUntil("audio-stop"));
    assertThat(spoken).isEqualTo(httpPcm(script));
    // half a second of silence is in it: 12000 zero samples in a row
    int run = 0;
    int longest = 0;
    for (int i = 0; i + 1 < spoken.length; i += 2) {
      run = spoken[i] == 0 && spoken[i + 1] == 0 ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    assertThat(longest).isGreaterThanOrEqualTo(12_000);
  }

  @Test
  void streamedTextIsSpokenSentenceBySentenceAndNotTwice() throws Exception {
    Client c = new Client();
    c.send("synthesize-start", "{\"voice\":{\"name\":\"alba\"}}");
    c.send("synthesize-chunk", "{\"text\":\"Hello there, how \"}");
    c.send("synthesize-chunk", "{\"text\":\"are you today? Fine\"}");
    // the first sentence is complete: its audio comes before synthesize-stop is sent
    List<Event> first = c.readUntil("audio-chunk");
    assertThat(types(first)).containsExactly("audio-start", "audio-chunk");
    c.send("synthesize-chunk", "{\"text\":\", thanks.\"}");
    c.send("synthesize", "{\"text\":\"Hello there, how are you today? Fine, thanks.\"}");
    c.send("synthesize-stop", null);
    List<Event> rest = c.readUntil("synthesize-stopped");
    List<Event> all = new ArrayList<>(first);
    all.addAll(rest);
    assertThat(types(all)).filteredOn("audio-start"::equals).hasSize(2);
    assertThat(types(all)).filteredOn("audio-stop"::equals).hasSize(2);
    assertThat(types(all)).doesNotContain("error");
    int firstStop = types(all).indexOf("audio-stop");
    assertThat(audio(all.subList(0, firstStop))).isEqualTo(httpPcm(HELLO));
    assertThat(audio(all.subList(firstStop, all.size()))).isEqualTo(httpPcm("Fine, thanks."));
    // nothing more: the final synthesize was not spoken again
    c.send("describe", null);
    assertThat(c.read().type()).isEqualTo("info");
  }

  private static void assertError(Event e, String code) {
    assertThat(e).isNotNull();
    assertThat(e.type()).isEqualTo("error");
    assertThat(e.data().path("code").asString()).isEqualTo(code);
    assertThat(e.data().path("text").asString()).isNotBlank();
  }

  @Test
  void badEventsGetAnErrorAndTheServerKeepsServing() throws Exception {
    Client c = new Client();
    c.sendRaw("this is not json\n".getBytes(StandardCharsets.UTF_8));
    assertError(c.read(), "bad-event");
    c.sendRaw("{\"data\":{}}\n".getBytes(StandardCharsets.UTF_8));
    assertError(c.read(), "bad-event");
    c.send("transcribe", null);
    assertError(c.read(), "unknown-event");
    c.send("synthesize", "{\"voice\":{\"name\":\"alba\"}}");
    assertError(c.read(), "missing-text");
    c.send("synthesize", "{\"text\":\"" + "word ".repeat(1000) + "\"}");
    assertError(c.read(), "script-too-long");
    // the script rules of /tts: control characters, nothing to speak
    c.send("synthesize", "{\"text\":\"Ring \\u0007 now.\"}");
    assertError(c.read(), "invalid-characters");
    c.send("synthesize", "{\"text\":\"?! ... --\"}");
    assertError(c.read(), "nothing-to-speak");
    c.send("synthesize", "{\"text\":\"Hi.\",\"voice\":{\"name\":\"nobody\"}}");
    assertError(c.read(), "unknown-voice");
    c.send("synthesize-chunk", "{\"text\":\"Hi.\"}");
    assertError(c.read(), "not-streaming");
    // the same connection still works
    c.send("describe", null);
    assertThat(c.read().type()).isEqualTo("info");

    // a header line with no end, and lengths over the limit: an error, then the connection closes
    Client longLine = new Client();
    longLine.sendRaw(("{\"type\":\"" + "x".repeat(20_000)).getBytes(StandardCharsets.UTF_8));
    assertError(longLine.read(), "bad-event");
    assertThat(longLine.read()).isNull();
    Client hugeData = new Client();
    hugeData.sendRaw("{\"type\":\"synthesize\",\"data_length\":999999999}\n".getBytes());
    assertError(hugeData.read(), "bad-event");
    assertThat(hugeData.read()).isNull();
    Client payload = new Client();
    payload.sendRaw("{\"type\":\"synthesize\",\"payload_length\":5000000}\n".getBytes());
    assertError(payload.read(), "bad-event");
    assertThat(payload.read()).isNull();

    // and others are still served
    Client other = new Client();
    other.send("synthesize", "{\"text\":\"" + HELLO + "\"}");
    assertThat(audio(other.readUntil("audio-stop"))).isEqualTo(httpPcm(HELLO));
  }

  @Test
  void aClientThatLeavesMidStreamFreesItsWorker() throws Exception {
    Client c = new Client();
    // some 3,800 characters: minutes of audio, far more than the socket buffers hold and than the
    // tiny model makes before the first chunk is read, on any machine
    c.send("synthesize", "{\"text\":\"" + (HELLO + " ").repeat(120) + "\"}");
    c.readUntil("audio-chunk");
    assertThat(limiter.active()).isEqualTo(1);
    c.close();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (limiter.active() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(limiter.active()).isZero();
  }

  @Test
  void twoClientsAtOnce() throws Exception {
    Client a = new Client();
    Client b = new Client();
    a.send("synthesize", "{\"text\":\"" + HELLO + "\"}");
    b.send("synthesize", "{\"text\":\"" + HELLO + "\",\"voice\":{\"name\":\"marius\"}}");
    CompletableFuture<byte[]> fa = read(a);
    CompletableFuture<byte[]> fb = read(b);
    assertThat(fa.get(60, TimeUnit.SECONDS)).isEqualTo(httpPcm(HELLO));
    assertThat(fb.get(60, TimeUnit.SECONDS))
        .isEqualTo(
            server
                .postJson(
                    "/tts",
                    "{\"script\":\"" + HELLO + "\",\"model\":\"marius\",\"format\":\"pcm\"}")
                .body());
  }

  private static CompletableFuture<byte[]> read(Client c) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return audio(c.readUntil("audio-stop"));
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
  }
}
