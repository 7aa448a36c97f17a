package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.HttpResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.audio.speech.SpeechCreateParams;
import com.openai.models.models.Model;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.test.context.TestPropertySource;
import tools.jackson.databind.JsonNode;

/** The OpenAI-compatible routes, driven by the official OpenAI Java SDK and by hand-made JSON. */
@TestPropertySource(properties = "TEMPERATURE=0")
class OpenAiApiTest extends ServerTest {

  /** 39 frames of speech from the tiny models (as in TtsEndToEndTest). */
  private static final String HELLO = "Hello there, how are you today?";

  private static final int FRAMES = 39;

  private ServerHarness server;

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  private OpenAIClient client(String key) {
    return OpenAIOkHttpClient.builder()
        .apiKey(key)
        .baseUrl("http://127.0.0.1:" + port + "/v1")
        .maxRetries(0)
        .build();
  }

  /** tts-1 speaking HELLO; the caller adds the voice and anything else. */
  private static SpeechCreateParams.Builder hello() {
    return SpeechCreateParams.builder().model("tts-1").input(HELLO);
  }

  private static byte[] bytes(HttpResponse r) throws Exception {
    try (InputStream in = r.body()) {
      return in.readAllBytes();
    }
  }

  @Test
  void theOfficialClientGetsSpeechInTheMappedVoice() throws Exception {
    OpenAIClient client = client(KEY);
    try (HttpResponse r =
        client
            .audio()
            .speech()
            .create(
                hello()
                    .voice(SpeechCreateParams.Voice.UnionMember1.ALLOY)
                    .responseFormat(SpeechCreateParams.ResponseFormat.WAV)
                    .build())) {
      assertThat(r.statusCode()).isEqualTo(200);
      byte[] wav = bytes(r);
      float[] pcm = AudioCheck.wavSamples(wav);
      assertThat(pcm).hasSize(FRAMES * 1920);
      // alloy is alba: the tiny models speak alba at 150 Hz
      assertThat(AudioCheck.frequency(pcm, 24000)).isCloseTo(150, within(1.0));
    }
  }

  @Test
  void theOfficialClientListsTheModels() {
    List<String> ids = client(KEY).models().list().data().stream().map(Model::id).toList();
    assertThat(ids).contains("tts-1", "tts-1-hd", "pocket-tts", "tiny_english");
    // MODELS_DIR holds the tiny model itself: the configured bundle name is not loaded
    assertThat(ids).doesNotContain("english_2026-04");
  }

  @Test
  void anUnknownModelNamesOnlyTheLoadedOnes() throws Exception {
    var r =
        server.postJson(
            "/v1/audio/speech",
            "{\"model\":\"english_2026-04\",\"input\":\"Hi.\",\"voice\":\"alloy\"}");
    assertThat(r.statusCode()).isEqualTo(400);
    String message = ServerHarness.json(r).path("error").path("message").asString();
    assertThat(message)
        .contains("tiny_english")
        .doesNotContain("english_2026-04\"")
        .doesNotContain(", english_2026-04");
    assertThat(ServerHarness.json(r).path("error").path("code").asString())
        .isEqualTo("unknown-model");
  }

  @Test
  void theOfficialClientSeesAWrongKeyAsUnauthorized() {
    assertThatThrownBy(
            () ->
                client("wrong-key")
                    .audio()
                    .speech()
                    .create(hello().voice(SpeechCreateParams.Voice.UnionMember1.ALLOY).build()))
        .isInstanceOf(UnauthorizedException.class);
  }

  @Test
  void theOfficialClientSeesAnUnknownVoiceAsABadRequest() {
    assertThatThrownBy(() -> client(KEY).audio().speech().create(hello().voice("nobody").build()))
        .isInstanceOf(BadRequestException.class);
  }

  @ParameterizedTest
  @CsvSource({
    "mp3,mp3,audio/mpeg",
    "opus,ogg,audio/ogg;codecs=opus",
    "aac,aac,audio/aac",
    "flac,flac,audio/flac",
    "wav,wav,audio/wav"
  })
  void everyResponseFormatDecodesToTheSpeech(String format, String ext, String contentType)
      throws Exception {
    var r =
        server.postJson(
            "/v1/audio/speech",
            "{\"model\":\"pocket-tts\",\"input\":\""
                + HELLO
                + "\",\"voice\":\"alba\",\"response_format\":\""
                + format
                + "\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue(contentType);
    assertThat(AudioCheck.probe(r.body(), ext).channels()).isEqualTo(1);
    // decoded back (a streamed FLAC header carries no length, so decode rather than probe)
    float[] pcm =
        dev.pockettts.server.audio.Ffmpeg.locate(null).decode(r.body(), 60, 24000, 60_000);
    assertThat(pcm.length / 24000.0).isCloseTo(FRAMES * 0.08, within(0.15));
    if (format.equals("flac") || format.equals("wav")) {
      // lossless: the voice's tone survives exactly (lossy coding noise adds zero crossings)
      assertThat(AudioCheck.frequency(pcm, 24000)).isCloseTo(150, within(1.0));
    }
  }

  @Test
  void pcmIsRaw16BitSamplesAt24k() throws Exception {
    var r =
        server.postJson(
            "/v1/audio/speech",
            "{\"input\":\"" + HELLO + "\",\"voice\":\"alloy\",\"response_format\":\"pcm\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).hasSize(FRAMES * 1920 * 2);
    float[] pcm = raw16(r.body(), 0);
    assertThat(AudioCheck.frequency(pcm, 24000)).isCloseTo(150, within(1.0));
  }

  @ParameterizedTest
  @CsvSource({"2.0", "0.5", "4.0", "0.25"})
  void speedChangesTheDurationAndKeepsThePitch(double speed) throws Exception {
    var r =
        server.postJson(
            "/v1/audio/speech",
            "{\"input\":\""
                + HELLO
                + "\",\"voice\":\"alba\",\"response_format\":\"wav\",\"speed\":"
                + speed
                + "}");
    assertThat(r.statusCode()).isEqualTo(200);
    float[] pcm = AudioCheck.wavSamples(r.body());
    double seconds = pcm.length / 24000.0;
    assertThat(seconds).isCloseTo(FRAMES * 0.08 / speed, within(0.1 + 0.05 / speed));
    assertThat(AudioCheck.frequency(pcm, 24000)).isCloseTo(150, within(6.0));
  }

  @Test
  void sseStreamsBase64AudioDeltasThenDone() throws Exception {
    var r =
        server.postJson(
            "/v1/audio/speech",
            "{\"input\":\""
                + HELLO
                + "\",\"voice\":\"alba\",\"response_format\":\"pcm\",\"stream_format\":\"sse\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
    List<String> types = new ArrayList<>();
    java.io.ByteArrayOutputStream audio = new java.io.ByteArrayOutputStream();
    for (String line : new String(r.body(), StandardCharsets.UTF_8).split("\n")) {
      if (line.startsWith("data: ")) {
        JsonNode event = ServerHarness.JSON.readTree(line.substring(6));
        types.add(event.get("type").asString());
        if (event.has("audio")) {
          audio.writeBytes(Base64.getDecoder().decode(event.get("audio").asString()));
        }
      }
    }
    assertThat(types).last().isEqualTo("speech.audio.done");
    assertThat(types.subList(0, types.size() - 1)).containsOnly("speech.audio.delta");
    assertThat(audio.toByteArray()).hasSize(FRAMES * 1920 * 2);
    assertThat(AudioCheck.frequency(raw16(audio.toByteArray(), 0), 24000))
        .isCloseTo(150, within(1.0));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"voice\":\"alba\"}|missing-input",
        "{\"input\":\"Hi.\"}|missing-voice",
        "{\"input\":\"Hi.\",\"voice\":\"../alba\"}|unknown-voice",
        "{\"input\":\"Hi.\",\"voice\":\"alba\",\"model\":\"whisper-1\"}|unknown-model",
        "{\"input\":\"Hi.\",\"voice\":\"alba\",\"speed\":5}|invalid-speed",
        "{\"input\":\"Hi.\",\"voice\":\"alba\",\"speed\":\"fast\"}|invalid-speed",
        "{\"input\":\"Hi.\",\"voice\":\"alba\",\"response_format\":\"aiff\"}|unknown-format",
        "{\"input\":\"Hi.\",\"voice\":\"alba\",\"stream_format\":\"ws\"}|unknown-stream-format",
        "{\"input\":42,\"voice\":\"alba\"}|invalid-field",
        "[1,2]|malformed-request",
        "{not json|malformed-request"
      })
  void badRequestsGetOpenAiErrors(String body, String code) throws Exception {
    var r = server.postJson("/v1/audio/speech", body);
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.headers().firstValue("Content-Type"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
    JsonNode error = ServerHarness.JSON.readTree(r.body()).get("error");
    assertThat(error.get("type").asString()).isEqualTo("invalid_request_error");
    assertThat(error.get("code").asString()).isEqualTo(code);
    assertThat(error.get("message").asString()).isNotBlank();
  }

  @Test
  void aMissingKeyGetsAnOpenAiAuthenticationError() throws Exception {
    var r =
        server.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/models")).build());
    assertThat(r.statusCode()).isEqualTo(401);
    JsonNode error = ServerHarness.JSON.readTree(r.body()).get("error");
    assertThat(error.get("type").asString()).isEqualTo("authentication_error");
    assertThat(error.get("code").asString()).isEqualTo("invalid_api_key");
  }

  @Test
  void voicesListTheBuiltInVoicesWithTheirOpenAiNames() throws Exception {
    var r = server.send(server.request("/v1/audio/voices").header("API_KEY", KEY).GET().build());
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode voices = ServerHarness.JSON.readTree(r.body()).get("voices");
    JsonNode alba = null;
    for (JsonNode v : voices) {
      if (v.get("id").asString().equals("alba")) {
        alba = v;
      }
    }
    assertThat(alba).isNotNull();
    assertThat(alba.get("openai_aliases").toString()).contains("alloy");
    assertThat(
            server
                .send(
                    server
                        .request("/v1/voices")
                        .header("Authorization", "Bearer " + KEY)
                        .GET()
                        .build())
                .statusCode())
        .isEqualTo(200);
  }

  private static float[] raw16(byte[] data, int offset) {
    ByteBuffer b =
        ByteBuffer.wrap(data, offset, data.length - offset).order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[(data.length - offset) / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.getShort() / 32767f;
    }
    return out;
  }
}
