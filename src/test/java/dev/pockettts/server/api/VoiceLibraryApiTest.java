package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.KEY;
import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.pockettts.server.engine.Safetensors;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.test.context.TestPropertySource;
import tools.jackson.databind.JsonNode;

/** The voice library against the running server with the tiny models. */
@TestPropertySource(
    properties = {
      "TEMPERATURE=0",
      "VOICES_DIR=target/test-voices-library",
      "MAX_VOICE_FILE_MB=1",
      "VOICE_DIR=target/test-voice"
    })
class VoiceLibraryApiTest extends ServerTest {

  static final Path LIBRARY = Path.of("target/test-voices-library");
  static final Path SPEECH = Path.of("src/test/resources/audio/speech.wav");
  static final String HELLO = TtsEndToEndTest.HELLO;

  ServerHarness server;

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  static String newName() {
    return "v-" + UUID.randomUUID().toString().substring(0, 8);
  }

  HttpResponse<byte[]> saveCloned(String name, String consent) throws Exception {
    ServerHarness.Multipart form = new ServerHarness.Multipart().field("name", name);
    if (consent != null) {
      form.field("consent", consent);
    }
    return server.postForm("/voices", form.file("audio", SPEECH));
  }

  byte[] ttsWav(String voice) throws Exception {
    HttpResponse<byte[]> r =
        server.postJson(
            "/tts",
            "{\"script\":\"" + HELLO + "\",\"model\":\"" + voice + "\",\"format\":\"wav\"}");
    assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
    return r.body();
  }

  HttpResponse<byte[]> importRaw(String name, byte[] state) throws Exception {
    return server.send(
        server
            .request("/voices/import?name=" + name + "&consent=true")
            .header("API_KEY", KEY)
            .header("Content-Type", "application/octet-stream")
            .POST(HttpRequest.BodyPublishers.ofByteArray(state))
            .build());
  }

  HttpResponse<byte[]> delete(String id) throws Exception {
    return server.send(server.request("/voices/" + id).header("API_KEY", KEY).DELETE().build());
  }

  HttpResponse<byte[]> export(String id) throws Exception {
    return server.send(
        server
            .request("/voices/" + id + "/export")
            .header("API_KEY", KEY)
            .POST(HttpRequest.BodyPublishers.noBody())
            .build());
  }

  HttpResponse<byte[]> getWithKey(String path) throws Exception {
    return server.send(server.request(path).header("API_KEY", KEY).GET().build());
  }

  @Test
  void aSavedVoiceSpeaksLikeTheCloneInTtsAndTheOpenAiRouteUntilItIsDeleted() throws Exception {
    String name = newName();
    HttpResponse<byte[]> saved = saveCloned(name, "true");
    assertThat(saved.statusCode()).as(new String(saved.body())).isEqualTo(201);
    assertThat(saved.headers().firstValue("Location")).hasValue("/voices/" + name);
    JsonNode body = json(saved);
    assertThat(body.path("id").asString()).isEqualTo(name);
    assertThat(body.path("source").asString()).isEqualTo("cloned");
    assertThat(body.path("language").asString()).isEqualTo("english");
    assertThat(body.path("bundle").asString()).isEqualTo("tiny_english");
    assertThat(body.path("created").asString()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
    // only the state is stored, never the recording
    try (Stream<Path> files = Files.list(LIBRARY)) {
      assertThat(files.map(p -> p.getFileName().toString()).filter(f -> f.startsWith(name)))
          .containsExactlyInAnyOrder(name + ".json", name + ".safetensors");
    }

    byte[] clone =
        server
            .postForm(
                "/tts/clone",
                new ServerHarness.Multipart()
                    .field("script", HELLO)
                    .field("format", "wav")
                    .file("voice_file", SPEECH))
            .body();
    byte[] byName = ttsWav(name);
    assertThat(byName).isEqualTo(clone);
    assertThat(AudioCheck.frequency(AudioCheck.wavSamples(byName), 24000))
        .isNotCloseTo(150, within(5.0)); // not alba

    HttpResponse<byte[]> openAi =
        server.postJson(
            "/v1/audio/speech",
            "{\"input\":\"" + HELLO + "\",\"voice\":\"" + name + "\",\"response_format\":\"wav\"}");
    assertThat(openAi.statusCode()).isEqualTo(200);
    assertThat(AudioCheck.wavSamples(openAi.body())).isEqualTo(AudioCheck.wavSamples(clone));

    JsonNode one = json(getWithKey("/voices/" + name));
    assertThat(one.path("cached").asBoolean()).isTrue();
    assertThat(json(getWithKey("/voices")).path("voices").toString())
        .contains("\"id\":\"alba\"", "\"source\":\"built-in\"", "\"id\":\"" + name + "\"");
    assertThat(json(getWithKey("/v1/audio/voices")).path("voices").toString()).contains(name);

    assertThat(delete(name).statusCode()).isEqualTo(204);
    assertProblem(getWithKey("/voices/" + name), 404, "voice-not-found");
    assertProblem(delete(name), 404, "voice-not-found");
    assertProblem(
        server.postJson("/tts", "{\"script\":\"Hi.\",\"model\":\"" + name + "\"}"),
        400,
        "unknown-voice");
    try (Stream<Path> files = Files.list(LIBRARY)) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(f -> f.startsWith(name));
    }
  }

  @ParameterizedTest(name = "consent={0}")
  @CsvSource(
      value = {"NULL", "false", "no", "''", "yes please"},
      nullValues = "NULL")
  void savingNeedsConsentTrue(String consent) throws Exception {
    String name = newName();
    assertProblem(saveCloned(name, consent), 400, "consent-required");
    assertProblem(getWithKey("/voices/" + name), 404, "voice-not-found");
  }

  @ParameterizedTest(name = "name={0}")
  @CsvSource({
    "../alba, 400, invalid-voice-name",
    "Grandma, 400, invalid-voice-name",
    "a b, 400, invalid-voice-name",
    "-x, 400, invalid-voice-name",
    "x/y, 400, invalid-voice-name",
    "alba, 409, voice-exists",
    "alloy, 409, voice-exists"
  })
  void badOrTakenNamesAreRefusedAndNothingIsWritten(String name, int status, String type)
      throws Exception {
    List<String> before = libraryFiles();
    assertProblem(saveCloned(name, "true"), status, type);
    assertThat(libraryFiles()).isEqualTo(before);
    assertThat(Path.of("target/alba.safetensors")).doesNotExist();
  }

  @Test
  void aSecondVoiceOfTheSameNameIsAConflictAndTheFirstStaysIntact() throws Exception {
    String name = newName();
    assertThat(saveCloned(name, "true").statusCode()).isEqualTo(201);
    byte[] first = Files.readAllBytes(LIBRARY.resolve(name + ".safetensors"));
    assertProblem(importRaw(name, export("alba").body()), 409, "voice-exists");
    assertThat(Files.readAllBytes(LIBRARY.resolve(name + ".safetensors"))).isEqualTo(first);
    assertProblem(delete("alba"), 409, "built-in-voice");
    assertThat(delete(name).statusCode()).isEqualTo(204);
  }

  @Test
  void anExportedVoiceImportsBackAndSpeaksTheSame() throws Exception {
    HttpResponse<byte[]> exported = export("alba");
    assertThat(exported.statusCode()).isEqualTo(200);
    assertThat(exported.headers().firstValue("Content-Disposition"))
        .hasValueSatisfying(v -> assertThat(v).contains("alba.safetensors"));
    Map<String, Safetensors.Tensor> tensors =
        Safetensors.parse(ByteBuffer.wrap(exported.body()), "export");
    assertThat(tensors.keySet())
        .isNotEmpty()
        .allMatch(k -> k.endsWith("/cache") || k.endsWith("/offset"));
    assertThat(tensors.values()).allMatch(t -> t.dtype().equals("F32") || t.dtype().equals("I64"));

    String raw = newName();
    HttpResponse<byte[]> imported = importRaw(raw, exported.body());
    assertThat(imported.statusCode()).as(new String(imported.body())).isEqualTo(201);
    assertThat(json(imported).path("source").asString()).isEqualTo("imported");
    assertThat(ttsWav(raw)).isEqualTo(ttsWav("alba"));

    String form = newName();
    HttpResponse<byte[]> viaForm =
        server.postForm(
            "/voices/import",
            new ServerHarness.Multipart()
                .field("name", form)
                .field("consent", "true")
                .file("file", "alba.safetensors", exported.body()));
    assertThat(viaForm.statusCode()).isEqualTo(201);
    // a saved voice exports as the state it speaks with
    assertThat(export(form).body()).isEqualTo(exported.body());
    assertThat(delete(raw).statusCode()).isEqualTo(204);
    assertThat(delete(form).statusCode()).isEqualTo(204);
  }

  @Test
  void importRefusesFilesThatAreNoVoiceState() throws Exception {
    assertProblem(importRaw(newName(), new byte[0]), 422, "invalid-voice-file");
    assertProblem(
        importRaw(newName(), "not a safetensors file".getBytes(StandardCharsets.UTF_8)),
        422,
        "invalid-voice-file");
    byte[] wrongShape =
        Safetensors.write(
            Map.of(
                "audio_prompt",
                new Safetensors.Tensor(
                    "F32", new long[] {1, 2, 7}, ByteBuffer.allocate(2 * 7 * 4))));
    assertProblem(importRaw(newName(), wrongShape), 422, "invalid-voice-file");
    assertProblem(importRaw(newName(), new byte[1024 * 1024 + 10]), 413, "voice-file-too-large");
    assertProblem(
        server.send(
            server
                .request("/voices/import?name=" + newName())
                .header("API_KEY", KEY)
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(export("alba").body()))
                .build()),
        400,
        "consent-required");
  }

  @Test
  void aVoiceMadeForAnotherModelIsRefusedClearly() throws Exception {
    String name = newName();
    Files.createDirectories(LIBRARY);
    Files.write(LIBRARY.resolve(name + ".safetensors"), export("alba").body());
    Files.writeString(
        LIBRARY.resolve(name + ".json"),
        "{\"id\":\""
            + name
            + "\",\"bundle\":\"french_24l\",\"language\":\"french\",\"source\":\"imported\","
            + "\"created\":\"2026-01-01T00:00:00Z\",\"positions\":3,\"bytes\":10,\"consent\":true}");
    assertThat(json(getWithKey("/voices/" + name)).path("language").asString()).isEqualTo("french");
    assertProblem(
        server.postJson("/tts", "{\"script\":\"Hi.\",\"model\":\"" + name + "\"}"),
        400,
        "voice-model-mismatch");
    assertThat(delete(name).statusCode()).isEqualTo(204);
  }

  @Test
  void aSavedVoiceDamagedOnDiskIsAClearErrorAndCanBeDeleted() throws Exception {
    String name = newName();
    assertThat(saveCloned(name, "true").statusCode()).isEqualTo(201);
    // the voice as a restarted server finds it (nothing cached), with its state file damaged
    Path json = LIBRARY.resolve(name + ".json");
    byte[] entry = Files.readAllBytes(json);
    assertThat(delete(name).statusCode()).isEqualTo(204);
    Files.writeString(LIBRARY.resolve(name + ".safetensors"), "damaged");
    Files.write(json, entry);
    HttpResponse<byte[]> r =
        server.postJson("/tts", "{\"script\":\"Hi.\",\"model\":\"" + name + "\"}");
    assertProblem(r, 500, "voice-unreadable");
    assertThat(new String(r.body(), StandardCharsets.UTF_8)).doesNotContain(LIBRARY.toString());
    assertThat(server.postJson("/tts", "{\"script\":\"Hi.\",\"format\":\"wav\"}").statusCode())
        .isEqualTo(200);
    assertThat(delete(name).statusCode()).isEqualTo(204);
  }

  @Test
  void theLibraryNeedsTheKey() throws Exception {
    assertProblem(server.get("/voices"), 401, "unauthorized");
    assertProblem(
        server.send(server.request("/voices/alba").DELETE().build()), 401, "unauthorized");
  }

  private static List<String> libraryFiles() throws Exception {
    if (!Files.isDirectory(LIBRARY)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(LIBRARY)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** A safetensors file from a header and the data after it. */
  static byte[] safetensors(String header, byte[] data) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    java.nio.ByteBuffer b =
        java.nio.ByteBuffer.allocate(8 + h.length + data.length)
            .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h).put(data);
    return b.array();
  }

  static byte[] floats(int n, float fill) {
    java.nio.ByteBuffer b =
        java.nio.ByteBuffer.allocate(n * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      b.putFloat(fill);
    }
    return b.array();
  }

  static String prompt(String shape, int bytes) {
    return "{\"audio_prompt\":{\"dtype\":\"F32\",\"shape\":"
        + shape
        + ",\"data_offsets\":[0,"
        + bytes
        + "]}}";
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(
      strings = {
        "shape-object",
        "shape-overflow",
        "shape-negative",
        "shape-fraction",
        "prompt-empty",
        "prompt-huge",
        "prompt-fills-cache",
        "prompt-nan",
        "prompt-infinite",
        "kv-nan",
        "kv-infinite",
        "kv-offset-huge"
      })
  void anImportThatCannotSpeakIsRefusedWithTheReason(String kind) throws Exception {
    byte[] file =
        switch (kind) {
          case "shape-object" -> safetensors(prompt("{\"a\":1}", 64), floats(16, 0));
          case "shape-overflow" ->
              safetensors(
                  "{\"x/cache\":{\"dtype\":\"F32\",\"shape\":[2,1,2305843009213693952,2,4],"
                      + "\"data_offsets\":[0,64]}}",
                  floats(16, 0));
          case "shape-negative" -> safetensors(prompt("[1,-1,16]", 64), floats(16, 0));
          case "shape-fraction" -> safetensors(prompt("[1,1.5,16]", 64), floats(16, 0));
          case "prompt-empty" -> safetensors(prompt("[1,0,16]", 0), new byte[0]);
          case "prompt-huge" ->
              safetensors(prompt("[1,4611686018427387904,16]", 64), floats(16, 0));
          case "prompt-fills-cache" ->
              safetensors(prompt("[1,510,16]", 510 * 64), floats(510 * 16, 0.1f));
          case "prompt-nan" -> safetensors(prompt("[1,4,16]", 256), floats(64, Float.NaN));
          case "prompt-infinite" ->
              safetensors(prompt("[1,4,16]", 256), floats(64, Float.POSITIVE_INFINITY));
          default -> damagedExport(kind);
        };
    String name = newName();
    HttpResponse<byte[]> r = importRaw(name, file);
    assertProblem(r, 422, "invalid-voice-file");
    String detail = json(r).path("detail").asString();
    assertThat(detail).doesNotContain("pockettts-import").doesNotContain("/tmp");
    assertThat(detail.length()).isGreaterThan(40); // says why
    assertProblem(getWithKey("/voices/" + name), 404, "voice-not-found");
    // and the server still speaks
    ttsWav("alba");
  }

  /** alba's exported state with its first value (or its offset) made unusable. */
  private byte[] damagedExport(String kind) throws Exception {
    byte[] alba = export("alba").body();
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(alba).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    int headerLength = (int) b.getLong(0);
    JsonNode header =
        ServerHarness.JSON.readTree(java.util.Arrays.copyOfRange(alba, 8, 8 + headerLength));
    int data = 8 + headerLength;
    for (var field : header.properties()) {
      long begin = field.getValue().path("data_offsets").get(0).asLong();
      if (kind.equals("kv-offset-huge") && field.getKey().endsWith("/offset")) {
        b.putLong(data + (int) begin, (1L << 32) + 3); // wraps to 3 if read as an int
        return alba;
      }
      if (!kind.equals("kv-offset-huge") && field.getKey().endsWith("/cache")) {
        b.putFloat(data + (int) begin, kind.equals("kv-nan") ? Float.NaN : Float.NEGATIVE_INFINITY);
        return alba;
      }
    }
    throw new AssertionError("no tensor to damage");
  }
}
