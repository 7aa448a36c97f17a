package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SmokeTest {
  @Test
  void smoke() {
    try (PocketTtsEngine engine = TinyModels.bundle()) {
      VoiceState alba = engine.voiceFromFile(TinyModels.BUNDLE.resolve("voices/alba.safetensors"));
      PcmCollector pcm = new PcmCollector();
      GenerationParams p = GenerationParams.defaults().withTemperature(0);
      var chunks = engine.chunk("Hello there, how are you today?", p);
      System.out.println(
          chunks.get(0).text()
              + " "
              + chunks.get(0).tokens().length
              + " fae "
              + chunks.get(0).framesAfterEos());
      SynthesisResult r = engine.synthesize("Hello there, how are you today?", alba, p, pcm, null);
      float[] s = pcm.samples();
      System.out.println(
          r
              + " samples "
              + s.length
              + " hz "
              + Signal.frequency(s, 24000)
              + " rms "
              + Signal.rms(s, 0, s.length));
      assertThat(s.length).isPositive();
    }
  }
}
