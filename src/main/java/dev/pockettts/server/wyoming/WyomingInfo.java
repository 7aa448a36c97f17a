package dev.pockettts.server.wyoming;

import dev.pockettts.server.engine.Language;
import dev.pockettts.server.synthesis.ModelService;
import dev.pockettts.server.voice.VoiceService;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** The answer to {@code describe}: one TTS program with every voice the server can speak now. */
final class WyomingInfo {

  private final ModelService models;
  private final VoiceService voices;
  private final String version;

  WyomingInfo(ModelService models, VoiceService voices, String version) {
    this.models = models;
    this.voices = voices;
    this.version = version;
  }

  ObjectNode describe() {
    ObjectNode program = WyomingEvent.object();
    program.put("name", "pockettts-server");
    program.put(
        "description",
        "PocketTTS (Kyutai), a 100M-parameter text-to-speech model on the CPU; built-in and saved"
            + " voices of every loaded model");
    program.set("attribution", attribution("Kyutai", "https://github.com/kyutai-labs/pocket-tts"));
    program.put("installed", true);
    program.put("version", version);
    program.put("supports_synthesize_streaming", true);
    ArrayNode list = program.putArray("voices");
    if (models.state() == ModelService.State.READY
        || models.state() == ModelService.State.WARMING) {
      for (VoiceService.Description d : voices.list()) {
        ObjectNode v = list.addObject();
        v.put("name", d.id());
        boolean builtIn = "built-in".equals(d.source());
        v.put(
            "description",
            d.id()
                + " ("
                + (builtIn ? "built-in" : "saved")
                + " voice, "
                + d.language()
                + ", model "
                + d.bundle()
                + ")");
        v.set(
            "attribution",
            builtIn
                ? attribution("Kyutai", "https://huggingface.co/kyutai/tts-voices")
                : attribution("saved on this server", "https://github.com/kyutai-labs/pocket-tts"));
        v.put("installed", true);
        v.putNull("version");
        ArrayNode languages = v.putArray("languages");
        String code = Language.code(d.language());
        if (code != null) {
          languages.add(code);
        }
      }
    }
    ObjectNode info = WyomingEvent.object();
    for (String kind : new String[] {"asr", "handle", "intent", "wake", "mic", "snd"}) {
      info.putArray(kind);
    }
    info.putArray("tts").add(program);
    return info;
  }

  private static ObjectNode attribution(String name, String url) {
    ObjectNode a = WyomingEvent.object();
    a.put("name", name);
    a.put("url", url);
    return a;
  }
}
