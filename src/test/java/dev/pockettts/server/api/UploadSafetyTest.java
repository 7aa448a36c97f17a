package dev.pockettts.server.api;

import static dev.pockettts.server.api.ServerHarness.assertProblem;
import static dev.pockettts.server.api.ServerHarness.json;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.test.context.TestPropertySource;

/**
 * Uploads are decoded as one self-contained audio stream: a playlist, a concat list or anything
 * else that names another file never makes FFmpeg read that file, and a missing target answers as
 * an existing one does (no oracle). Each case uses a real file of the test's own as the target.
 */
@TestPropertySource(properties = {"VOICE_DIR=target/test-voice-upload"})
class UploadSafetyTest extends ServerTest {

  @org.springframework.test.context.DynamicPropertySource
  static void library(org.springframework.test.context.DynamicPropertyRegistry registry)
      throws java.io.IOException {
    Path library = Files.createTempDirectory("pockettts-upload-test-voices");
    registry.add("VOICES_DIR", library::toString);
  }

  static final Path SPEECH = Path.of("src/test/resources/audio/speech.wav");

  @TempDir static Path victims;
  ServerHarness server;

  @BeforeEach
  void ready() throws Exception {
    server = readyServer();
  }

  /** A file the server must never read on a client's behalf: a copy of a valid recording. */
  static Path victim() throws Exception {
    Path target = victims.resolve("victim.wav");
    if (!Files.exists(target)) {
      Files.copy(SPEECH, target);
    }
    return target.toAbsolutePath();
  }

  static String hls(String target, boolean live) {
    return "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\n"
        + target
        + "\n"
        + (live ? "" : "#EXT-X-ENDLIST\n");
  }

  private HttpResponse<byte[]> saveVoice(String name, String filename, byte[] content)
      throws Exception {
    return server.postForm(
        "/voices",
        new ServerHarness.Multipart()
            .field("name", name)
            .file("audio", filename, content)
            .field("consent", "true"));
  }

  private HttpResponse<byte[]> clone(String filename, byte[] content) throws Exception {
    return server.postForm(
        "/tts/clone",
        new ServerHarness.Multipart()
            .field("script", "Whose voice is this?")
            .file("voice_file", filename, content)
            .field("format", "wav"));
  }

  private static void assertRefusedWithoutPaths(HttpResponse<byte[]> r) {
    assertProblem(r, 415, "undecodable-audio");
    String body = new String(r.body(), StandardCharsets.UTF_8);
    assertThat(body)
        .doesNotContain("/tmp")
        .doesNotContain("victim")
        .doesNotContain("pockettts-ref");
    assertThat(body).doesNotContainPattern("\"detail\":\"[^\"]*/[a-z]");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void anHlsPlaylistNamingAServerFileIsRefusedAndTheFileNeverBecomesAVoice(boolean live)
      throws Exception {
    byte[] playlist = hls(victim().toString(), live).getBytes(StandardCharsets.US_ASCII);
    String name = live ? "stolen-live" : "stolen";
    long start = System.nanoTime();
    assertRefusedWithoutPaths(saveVoice(name, "x.wav", playlist));
    assertRefusedWithoutPaths(clone("x.m3u8", playlist));
    // refused at once, not after FFmpeg waited on a live playlist
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(10_000);
    assertProblem(
        server.send(
            server.request("/voices/" + name).header("API_KEY", ServerHarness.KEY).GET().build()),
        404,
        "voice-not-found");
    // the target itself is a valid recording: sent as itself, it does become a voice
    HttpResponse<byte[]> direct = saveVoice(name + "-own", "v.wav", Files.readAllBytes(victim()));
    assertThat(direct.statusCode()).as(new String(direct.body())).isEqualTo(201);
  }

  @Test
  void aMissingTargetAnswersExactlyAsAnExistingOne() throws Exception {
    HttpResponse<byte[]> there =
        clone("x.wav", hls(victim().toString(), false).getBytes(StandardCharsets.US_ASCII));
    HttpResponse<byte[]> missing =
        clone(
            "x.wav",
            hls(victims.resolve("no-such.wav").toAbsolutePath().toString(), false)
                .getBytes(StandardCharsets.US_ASCII));
    assertRefusedWithoutPaths(there);
    assertRefusedWithoutPaths(missing);
    assertThat(json(missing).path("detail")).isEqualTo(json(there).path("detail"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "ffconcat version 1.0\nfile 'victim.wav'\n",
        "ffconcat version 1.0\nfile '%s'\n",
        "file '%s'\n",
        "<?xml version=\"1.0\"?><MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"><Period><AdaptationSet>"
            + "<Representation><BaseURL>%s</BaseURL></Representation></AdaptationSet></Period></MPD>",
        "[playlist]\nFile1=%s\nNumberOfEntries=1\n",
        "#EXTM3U\n%s\n",
        "file:%s",
        "concat:%s|%s",
        "<smil><body><audio src=\"%s\"/></body></smil>"
      })
  void listsAndDescriptionsThatNameOtherFilesAreRefused(String template) throws Exception {
    String v = victim().toString();
    byte[] body = template.replace("%s", v).getBytes(StandardCharsets.US_ASCII);
    assertRefusedWithoutPaths(clone("x.wav", body));
    assertRefusedWithoutPaths(saveVoice("list-" + Math.abs(template.hashCode()), "x.mp3", body));
  }

  @Test
  void aPlaylistHiddenBehindAnAudioLikeStartIsStillOnlyThatContainer() throws Exception {
    // a RIFF/WAVE header followed by a playlist: decoded as WAV or refused, never as HLS
    byte[] header = java.util.Arrays.copyOf(Files.readAllBytes(SPEECH), 44);
    byte[] playlist = hls(victim().toString(), false).getBytes(StandardCharsets.US_ASCII);
    byte[] both = new byte[header.length + playlist.length];
    System.arraycopy(header, 0, both, 0, header.length);
    System.arraycopy(playlist, 0, both, header.length, playlist.length);
    HttpResponse<byte[]> r = saveVoice("riff-playlist", "x.wav", both);
    assertThat(r.statusCode()).isIn(415, 422);
    assertThat(new String(r.body(), StandardCharsets.UTF_8)).doesNotContain("victim");
  }

  @Test
  void everyFormatAReferenceComesInStillClones() throws Exception {
    for (String f :
        new String[] {
          "speech.wav", "speech.mp3", "speech.ogg", "speech.flac", "speech-stereo.m4a"
        }) {
      HttpResponse<byte[]> r =
          clone("upload.bin", Files.readAllBytes(Path.of("src/test/resources/audio", f)));
      assertThat(r.statusCode()).as(f + ": " + new String(r.body())).isEqualTo(200);
    }
  }
}
